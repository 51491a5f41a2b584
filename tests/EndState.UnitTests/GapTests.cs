using Google.Protobuf.WellKnownTypes;
using Transformation.EndState.Api.Model;
using Transformation.EndState.V1;

namespace Transformation.EndState.UnitTests;

public sealed class GapTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static DimensionTarget Target(double score, int daysFromStart) =>
        new() { DimensionId = "trust", TargetScore = score, TargetDate = Timestamp.FromDateTimeOffset(Start.AddDays(daysFromStart)) };

    private static Measurement M(string id, int day, double score) => new() { AssessmentId = id, MeasuredAt = Timestamp.FromDateTimeOffset(Start.AddDays(day)), Score = score };

    [Fact]
    public void NoBaselineYetMeansNoGap()
    {
        var gap = Gap.Compute(Target(4, 365), null, [M("q2", 90, 3.5)]);
        (gap.Status, gap.Baseline, gap.Latest, gap.HasProjection).ShouldBe((GapStatus.NoBaseline, null, null, false));
        gap.Explanation.ShouldContain("No baseline");
    }

    [Fact]
    public void TheShareClosedAndALinearProjection()
    {
        // 3.0 → 3.2 → 3.4 over 180 days: 0.2 per 90 days; the target 4.0 is met at day 450.
        var gap = Gap.Compute(Target(4.0, 500), M("q0", 0, 3.0), [M("q2", 180, 3.4), M("q1", 90, 3.2)]);
        gap.Points.Select(p => p.AssessmentId).ShouldBe(["q0", "q1", "q2"]);
        gap.Latest.AssessmentId.ShouldBe("q2");
        gap.GapClosedShare.ShouldBe(0.4, 1e-9);
        gap.TrendPerYear.ShouldBe(0.2 / 90 * 365.25, 1e-9);
        gap.HasProjection.ShouldBeTrue();
        (gap.ProjectedDate.ToDateTimeOffset() - Start).TotalDays.ShouldBe(450, 1e-6);
        gap.Status.ShouldBe(GapStatus.OnTrack);
    }

    [Fact]
    public void AProjectionAfterTheTargetDateIsAtRisk()
    {
        var gap = Gap.Compute(Target(4.0, 400), M("q0", 0, 3.0), [M("q1", 90, 3.2), M("q2", 180, 3.4)]);
        (gap.Status, gap.HasProjection).ShouldBe((GapStatus.AtRisk, true));
        gap.Explanation.ShouldContain("after the target date");
    }

    [Fact]
    public void TheFitUsesEveryPointNotJustTheEnds()
    {
        // Ends alone give 0.6/180 per day; the least-squares line over 3.0, 3.5, 3.6 gives 0.3 per 90 days.
        var gap = Gap.Compute(Target(4.5, 1000), M("q0", 0, 3.0), [M("q1", 90, 3.5), M("q2", 180, 3.6)]);
        gap.TrendPerYear.ShouldBe(0.3 / 90 * 365.25, 1e-9);
    }

    [Fact]
    public void ATargetAlreadyMetIsClampedToAllClosed()
    {
        var gap = Gap.Compute(Target(3.5, 365), M("q0", 0, 3.0), [M("q1", 90, 3.8)]);
        (gap.Status, gap.GapClosedShare, gap.HasProjection).ShouldBe((GapStatus.TargetMet, 1.0, false));
        gap.GapClosedShareUnclamped.ShouldBe(1.6, 1e-9);
        gap.Explanation.ShouldContain("already met");
    }

    [Fact]
    public void ATargetEqualToTheBaselineIsMetWhileHeld()
    {
        Gap.Compute(Target(3.0, 365), M("q0", 0, 3.0), []).Status.ShouldBe(GapStatus.TargetMet);
        var slipped = Gap.Compute(Target(3.0, 365), M("q0", 0, 3.0), [M("q1", 90, 2.8)]);
        (slipped.Status, slipped.GapClosedShare).ShouldBe((GapStatus.AtRisk, 0.0));
    }

    [Fact]
    public void ACultureMovingAwayFromTheTargetIsAtRiskWithoutAProjection()
    {
        var gap = Gap.Compute(Target(4.0, 365), M("q0", 0, 3.0), [M("q1", 90, 2.9), M("q2", 180, 2.7)]);
        (gap.Status, gap.HasProjection, gap.GapClosedShare).ShouldBe((GapStatus.AtRisk, false, 0.0));
        gap.GapClosedShareUnclamped.ShouldBeLessThan(0);
        gap.TrendPerYear.ShouldBeLessThan(0);
        gap.Explanation.ShouldContain("moving away");
    }

    [Fact]
    public void ALowerTargetIsClosedByFallingScores()
    {
        var gap = Gap.Compute(Target(2.0, 365), M("q0", 0, 3.0), [M("q1", 90, 2.5)]);
        gap.GapClosedShare.ShouldBe(0.5, 1e-9);
        gap.Status.ShouldBe(GapStatus.OnTrack);
        (gap.ProjectedDate.ToDateTimeOffset() - Start).TotalDays.ShouldBe(180.0, 1e-6);
    }

    [Fact]
    public void ASingleMeasurementHasNoTrend()
    {
        var gap = Gap.Compute(Target(4.0, 365), M("q0", 0, 3.0), [M("q0", 0, 3.0)]);
        (gap.Status, gap.GapClosedShare, gap.HasProjection, gap.Points.Count).ShouldBe((GapStatus.TooFewMeasurements, 0.0, false, 1));
        gap.Latest.AssessmentId.ShouldBe("q0");
        gap.Explanation.ShouldContain("at least two measurements");
    }

    [Fact]
    public void AFlatTrendIsAtRisk()
    {
        var gap = Gap.Compute(Target(4.0, 365), M("q0", 0, 3.0), [M("q1", 90, 3.0)]);
        (gap.Status, gap.HasProjection).ShouldBe((GapStatus.AtRisk, false));
        gap.Explanation.ShouldContain("flat");
    }
}
