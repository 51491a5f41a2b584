using Transformation.Cli.Demo;
using Transformation.Cli.Load;
using Transformation.Directory.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Cli.UnitTests;

public sealed class DemoOrganisationTests
{
    private static readonly DemoOrganisation Organisation = DemoOrganisation.Generate();

    [Fact]
    public void TheSameSizeAndSeedGiveTheSamePeople()
    {
        var again = DemoOrganisation.Generate();
        again.People.Select(Describe).ShouldBe(Organisation.People.Select(Describe));
        DemoOrganisation.Generate(seed: 7).People.Select(p => p.Name).ShouldNotBe(Organisation.People.Select(p => p.Name));
    }

    private static string Describe(DemoPerson p) => $"{p.Id}|{p.Name}|{p.Email}|{p.OrgUnitId}|{p.ManagerId}|{string.Join(",", p.Roles)}|{p.Slot}";

    [Theory]
    [InlineData(DemoOrganisation.MinimumEmployees)]
    [InlineData(120)]
    [InlineData(DemoOrganisation.DefaultEmployees)]
    [InlineData(5000)]
    public void EveryoneIsInOneOfEightUnitsUnderAManagerWhoExists(int size)
    {
        var organisation = DemoOrganisation.Generate(size);
        organisation.People.Count.ShouldBe(size);
        organisation.People.Select(p => p.Id).Distinct(StringComparer.Ordinal).Count().ShouldBe(size);
        organisation.People.Select(p => p.Email).Distinct(StringComparer.Ordinal).Count().ShouldBe(size);
        DemoCatalogue.Units.Count.ShouldBe(8);
        organisation.People.Select(p => p.OrgUnitId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .ShouldBe(DemoCatalogue.Units.Select(u => u.Id).Order(StringComparer.Ordinal));
        DemoCatalogue.Units.ShouldAllBe(u => organisation.MembersOf(u.Id).Count >= 6);
        organisation.People.Where(p => p.ManagerId.Length == 0).Select(p => p.Slot).ShouldBe(["ceo"]);
        organisation.People.Where(p => p.ManagerId.Length > 0).ShouldAllBe(p => organisation.ById.ContainsKey(p.ManagerId) && p.ManagerId != p.Id);
    }

    [Fact]
    public void TheRolesAreThoseTheDemoNeeds()
    {
        int With(Role role) => Organisation.People.Count(p => p.Roles.Contains(role));
        (With(Role.Hr), With(Role.Executive), With(Role.ChangeManager), With(Role.Operator)).ShouldBe((2, 3, 4, 1));
        Organisation.People.ShouldAllBe(p => p.Roles.Contains(Role.Employee));
        Organisation.Identities.Select(p => p.RoleNames[0]).ShouldBe(["hr", "executive", "executive", "change_manager", "operator", "employee"]);
        DemoCatalogue.Initiatives.ShouldAllBe(i => Organisation[i.SponsorSlot].Roles.Contains(Role.Executive)
            && Organisation[i.ChangeManagerSlot].Roles.Contains(Role.ChangeManager));
    }

    [Fact]
    public void TheCatalogueHasTwentyBehavioursLinkedToTheSurveysDimensions()
    {
        DemoCatalogue.Behaviours.Count.ShouldBe(20);
        DemoCatalogue.Behaviours.Select(b => b.Id).Distinct(StringComparer.Ordinal).Count().ShouldBe(20);
        DemoCatalogue.Behaviours.Count(b => b.Polarity == Polarity.Unacceptable).ShouldBe(6);
        var dimensions = DemoCatalogue.Dimensions.Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        DemoCatalogue.Behaviours.SelectMany(b => b.Dimensions).ShouldAllBe(d => dimensions.Contains(d.DimensionId) && d.Weight > 0 && d.Weight <= 1);
        DemoCatalogue.Initiatives.SelectMany(i => i.Behaviours).ShouldAllBe(b => DemoCatalogue.Behaviours.Any(c => c.Id == b));
        DemoCatalogue.Initiatives.ShouldAllBe(i => i.Behaviours.Any(b => DemoCatalogue.Behaviours.Single(c => c.Id == b).Polarity == Polarity.Desired)
            && i.Behaviours.Any(b => DemoCatalogue.Behaviours.Single(c => c.Id == b).Polarity == Polarity.Unacceptable));
        DemoCatalogue.Units.ShouldAllBe(u => u.Culture.Keys.Order(StringComparer.Ordinal).SequenceEqual(dimensions.Order(StringComparer.Ordinal)));
    }

    [Fact]
    public void TheAnchorIsRecoveredFromTheBaselineOrTheTargets()
    {
        var timeline = new DemoTimeline(new DateTimeOffset(2026, 11, 22, 13, 5, 7, TimeSpan.Zero));
        DemoTimeline.FromBaselineOpening(timeline.BaselineOpens).ShouldBe(timeline);
        DemoTimeline.FromTargetDate(timeline.TargetDate).ShouldBe(timeline);
        (timeline.BaselineOpens < timeline.BaselineCloses && timeline.BaselineCloses < timeline.WindowStart(0)).ShouldBeTrue();
        (timeline.PulseOpens < timeline.PulseCloses && timeline.PulseCloses < timeline.Anchor).ShouldBeTrue();
        timeline.Months.ShouldBe(["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]);
    }

    [Fact]
    public void ObservationsFillSixWindowsUpToTheAnchorWithGrowingAdoption()
    {
        var timeline = new DemoTimeline(new DateTimeOffset(2026, 11, 22, 13, 5, 7, TimeSpan.Zero));
        var initiative = DemoCatalogue.Initiatives[0];
        var observations = DemoActivity.Observations(Organisation, timeline, initiative, "initiative-1");
        observations.Select(o => o.Input.ToString()).ShouldBe(DemoActivity.Observations(Organisation, timeline, initiative, "initiative-1").Select(o => o.Input.ToString()));
        observations.Select(o => o.Input.IdempotencyKey).Distinct(StringComparer.Ordinal).Count().ShouldBe(observations.Count);
        observations.ShouldAllBe(o => o.Input.ObservedAt.ToDateTimeOffset() >= timeline.WindowStart(o.Window)
            && o.Input.ObservedAt.ToDateTimeOffset() < timeline.WindowStart(o.Window) + DemoTimeline.Window
            && o.Input.ObservedAt.ToDateTimeOffset() <= timeline.Anchor && o.Input.InitiativeId == "initiative-1");
        observations.ShouldAllBe(o => initiative.Scope.Contains(Organisation.ById[o.Input.EmployeeId].OrgUnitId) && initiative.Behaviours.Contains(o.Input.BehaviourId));
        observations.Where(o => o.Input.Source == ObservationSource.Manager)
            .ShouldAllBe(o => o.Input.ObserverId == Organisation.ById[o.Input.EmployeeId].ManagerId);
        var desired = Enumerable.Range(0, DemoTimeline.ObservationWindows).Select(w => observations.Count(o => o.Window == w && o.Input.Polarity == Polarity.Desired)).ToList();
        desired.ShouldBe(desired.Order().ToList(), "adoption grows month by month");
        desired.Distinct().Count().ShouldBe(desired.Count);
        observations.ShouldContain(o => o.Input.Polarity == Polarity.Unacceptable);
    }

    [Fact]
    public void SurveyResponsesAreAnonymousAndOnTheScale()
    {
        var items = DemoCatalogue.Dimensions.SelectMany(d => d.Items.Select(i => new DemoItemRef(i.Id, d.Id, i.ReverseScored))).ToList();
        var baseline = DemoActivity.Responses(Organisation, DemoActivity.BaselineAssessmentId, items, pulse: false);
        var pulse = DemoActivity.Responses(Organisation, DemoActivity.PulseAssessmentId, items, pulse: true);
        baseline.Count.ShouldBeGreaterThan(Organisation.Size * 3 / 4);
        pulse.Count.ShouldBeLessThan(baseline.Count);
        baseline.Select(r => r.RespondentToken).Distinct(StringComparer.Ordinal).Count().ShouldBe(baseline.Count);
        baseline.Select(r => r.RespondentToken).Intersect(pulse.Select(r => r.RespondentToken)).ShouldBeEmpty();
        baseline.ShouldAllBe(r => !Organisation.ById.ContainsKey(r.RespondentToken) && r.Answers.Count == items.Count && r.Answers.All(a => a >= 0 && a <= 5)
            && r.Answers.Any(a => a > 0));
    }

    [Fact]
    public void PercentilesAreNearestRank()
    {
        double[] sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        (LoadReport.Percentile(sorted, 50), LoadReport.Percentile(sorted, 90), LoadReport.Percentile(sorted, 99), LoadReport.Percentile(sorted, 100))
            .ShouldBe((5.0, 9.0, 10.0, 10.0));
        LoadReport.Percentile([], 99).ShouldBe(0);
    }
}
