using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using MathNet.Numerics;
using Transformation.EndState.V1;

namespace Transformation.EndState.Api.Model;

/// <summary>
/// The gap of one dimension: share closed = (latest − baseline) / (target − baseline), clamped to 0..1, and when the
/// target will be met at the current trend: a least-squares line over the baseline and every later measurement
/// (score against days since the baseline), solved for the target score.
/// </summary>
public static class Gap
{
    private const double Tolerance = 1e-9;
    private const double DaysPerYear = 365.25;

    /// <param name="target">The dimension's target score and date.</param>
    /// <param name="baseline">The scope's baseline measurement of this dimension; null when none (or suppressed).</param>
    /// <param name="measurements">Later measurements (the latest included); earlier or duplicate ones are ignored.</param>
    public static DimensionGap Compute(DimensionTarget target, Measurement? baseline, IEnumerable<Measurement> measurements)
    {
        var gap = new DimensionGap { DimensionId = target.DimensionId, TargetScore = target.TargetScore, TargetDate = target.TargetDate };
        if (baseline is null)
        {
            gap.Status = GapStatus.NoBaseline;
            gap.Explanation = "No baseline yet: Baselines has no baseline with a reportable figure for this scope and dimension, so there is no gap to measure.";
            return gap;
        }

        var points = new List<Measurement> { baseline };
        points.AddRange(measurements
            .Where(m => m.MeasuredAt.ToDateTimeOffset() > baseline.MeasuredAt.ToDateTimeOffset() && !string.Equals(m.AssessmentId, baseline.AssessmentId, StringComparison.Ordinal))
            .DistinctBy(m => m.AssessmentId, StringComparer.Ordinal)
            .OrderBy(m => m.MeasuredAt.ToDateTimeOffset()));
        var latest = points[^1];
        gap.Baseline = baseline;
        gap.Latest = latest;
        gap.Points.AddRange(points);

        var needed = target.TargetScore - baseline.Score;
        var moved = latest.Score - baseline.Score;
        if (Math.Abs(needed) < Tolerance)
        {
            // The target is to hold the baseline's level (higher is better on the Baselines scale).
            var held = latest.Score >= target.TargetScore - Tolerance;
            gap.GapClosedShareUnclamped = held ? 1 : 0;
            gap.GapClosedShare = gap.GapClosedShareUnclamped;
            gap.Status = held ? GapStatus.TargetMet : GapStatus.AtRisk;
            gap.Explanation = held
                ? "The target equals the baseline and the latest measurement holds it: nothing to close."
                : "The target equals the baseline, and the latest measurement fell below it: the culture is moving away from the target.";
            return gap;
        }

        gap.GapClosedShareUnclamped = moved / needed;
        gap.GapClosedShare = Math.Clamp(gap.GapClosedShareUnclamped, 0, 1);
        if (gap.GapClosedShareUnclamped >= 1 - Tolerance)
        {
            gap.Status = GapStatus.TargetMet;
            gap.Explanation = gap.GapClosedShareUnclamped > 1 + Tolerance
                ? string.Create(CultureInfo.InvariantCulture, $"Target already met and passed: {gap.GapClosedShareUnclamped:P0} of the gap closed, shown as 100%.")
                : "Target met.";
            return gap;
        }

        var movingAwayNow = gap.GapClosedShareUnclamped < 0
            ? "The latest measurement is further from the target than the baseline (shown as 0% closed). "
            : "";
        var origin = baseline.MeasuredAt.ToDateTimeOffset();
        var days = points.Select(p => (p.MeasuredAt.ToDateTimeOffset() - origin).TotalDays).ToArray();
        if (days.Distinct().Count() < 2)
        {
            gap.Status = GapStatus.TooFewMeasurements;
            gap.Explanation = movingAwayNow + "Only the baseline has been measured: a trend needs at least two measurements on different dates.";
            return gap;
        }

        var (intercept, slope) = Fit.Line(days, [.. points.Select(p => p.Score)]);
        gap.TrendPerYear = slope * DaysPerYear;
        if (slope * Math.Sign(needed) <= Tolerance)
        {
            gap.Status = GapStatus.AtRisk;
            gap.Explanation = movingAwayNow + (Math.Abs(slope) <= Tolerance
                ? "The trend is flat: at this rate the target is never met."
                : "The culture is moving away from the target: the trend points the other way, so there is no projected date.");
            return gap;
        }

        var projectedDays = (target.TargetScore - intercept) / slope;
        var projected = origin.AddDays(Math.Min(projectedDays, 365.25 * 1000));
        gap.HasProjection = true;
        gap.ProjectedDate = Timestamp.FromDateTimeOffset(projected);
        var onTrack = projected <= target.TargetDate.ToDateTimeOffset();
        gap.Status = onTrack ? GapStatus.OnTrack : GapStatus.AtRisk;
        gap.Explanation = movingAwayNow + string.Create(CultureInfo.InvariantCulture,
            $"At the current trend ({gap.TrendPerYear:+0.00;-0.00} a year over {points.Count} measurements) the target is met on {projected:yyyy-MM-dd}, ")
            + (onTrack ? "on or before the target date." : "after the target date.");
        return gap;
    }
}
