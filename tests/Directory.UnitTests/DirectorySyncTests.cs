using Transformation.Directory.Api.Model;
using Transformation.Directory.V1;

namespace Transformation.Directory.UnitTests;

public sealed class DirectorySyncTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 9, 0, 0, TimeSpan.Zero);

    private static DirectoryState Current(int people = 10) => new(
        [new OrgUnit("org", "Org", "", OrgUnitKind.Organisation, Version: 1), new OrgUnit("t", "Team", "org", OrgUnitKind.Team, Version: 1)],
        Enumerable.Range(1, people).Select(i => Person($"p{i}", i == 1 ? "" : "p1", 1)));

    private static Employee Person(string id, string manager, long version = 0, string unit = "t") =>
        new(id, $"Person {id}", $"{id}@example.com", unit, manager, [Role.Employee], true, version);

    private static List<Employee> Desired(int people = 10) => [.. Enumerable.Range(1, people).Select(i => Person($"p{i}", i == 1 ? "" : "p1"))];

    private static List<OrgUnit> Units() => [new("org", "Org", "", OrgUnitKind.Organisation), new("t", "Team", "org", OrgUnitKind.Team)];

    [Fact]
    public void AnImportEqualToTheDirectoryChangesNothing()
    {
        var plan = DirectorySync.PlanFullSync(Current(), Units(), Desired(), Now);

        plan.Changes.ShouldBeEmpty();
        plan.Violations.ShouldBeEmpty();
    }

    [Fact]
    public void RolesInAnotherOrderOrRepeatedAreTheSameRoles()
    {
        var desired = Desired();
        desired[3] = desired[3] with { Roles = [Role.Employee, Role.Hr, Role.Employee] };
        var current = Current().With([], [Person("p4", "p1", 1) with { Roles = [Role.Hr, Role.Employee] }]);

        DirectorySync.PlanFullSync(current, Units(), desired, Now).Changes.ShouldBeEmpty();
    }

    [Fact]
    public void EachKindOfChangeIsNamedAndGetsTheNextVersion()
    {
        var desired = Desired(9);                                      // p10 leaves
        desired[1] = desired[1] with { OrgUnitId = "org" };            // p2 moves
        desired[2] = desired[2] with { DisplayName = "Renamed" };      // p3 is updated
        desired.Add(Person("p11", "p1"));                              // p11 joins
        var units = Units();
        units[1] = units[1] with { Name = "Team A" };

        var plan = DirectorySync.PlanFullSync(Current(), units, desired, Now);

        plan.Changes.Select(c => (c.Kind, c.Id)).ShouldBe(
        [
            (ChangeKind.OrgUnitChanged, "t"),
            (ChangeKind.EmployeeMoved, "p2"),
            (ChangeKind.EmployeeUpdated, "p3"),
            (ChangeKind.EmployeeJoined, "p11"),
            (ChangeKind.EmployeeLeft, "p10"),
        ]);
        plan.Changes.Single(c => c.Id == "p2").Employee!.Version.ShouldBe(2);
        plan.Changes.Single(c => c.Id == "p11").Employee!.Version.ShouldBe(1);
        plan.Changes.Single(c => c.Id == "p10").Employee!.Active.ShouldBeFalse();
        plan.Changes.ShouldAllBe(c => (c.Unit == null ? c.Employee!.EffectiveFrom : c.Unit.EffectiveFrom) == Now);
        plan.Changes.Single(c => c.Id == "t").Description.ShouldBe("name Team → Team A");
        plan.Changes.Single(c => c.Id == "p2").Description.ShouldBe("org unit t → org");
    }

    [Fact]
    public void ALeaverWhoComesBackRejoins()
    {
        var current = Current().With([], [Person("p5", "p1", 2) with { Active = false }]);

        var change = DirectorySync.PlanFullSync(current, null, Desired(), Now).Changes.ShouldHaveSingleItem();

        (change.Kind, change.Employee!.Version, change.Employee.Active).ShouldBe((ChangeKind.EmployeeJoined, 3L, true));
    }

    [Fact]
    public void UnitsMissingFromAnImportCloseButAnImportWithoutUnitsLeavesTheTree()
    {
        var current = Current().With([new OrgUnit("empty", "Empty", "org", OrgUnitKind.Team, Version: 1)], []);

        DirectorySync.PlanFullSync(current, null, Desired(), Now).Changes.ShouldBeEmpty();
        var closing = DirectorySync.PlanFullSync(current, Units(), Desired(), Now).Changes.ShouldHaveSingleItem();
        (closing.Kind, closing.Id, closing.Unit!.Closed).ShouldBe((ChangeKind.OrgUnitClosed, "empty", true));
    }

    [Theory]
    [InlineData(10, 1, false)]  // exactly 10 %: allowed
    [InlineData(10, 2, true)]   // 20 %
    [InlineData(3, 1, true)]    // a small directory trips it with one leaver
    [InlineData(10, 0, false)]
    public void TheDeactivationGuardTripsAboveTheConfiguredShare(int people, int leavers, bool exceeds)
    {
        var plan = DirectorySync.PlanFullSync(Current(people), null, Desired(people - leavers), Now);

        plan.Deactivated.ShouldBe(leavers);
        plan.ActiveBefore.ShouldBe(people);
        plan.ExceedsDeactivationLimit(0.10).ShouldBe(exceeds);
    }

    [Fact]
    public void AnEmptyDirectoryNeverTripsTheGuard()
    {
        var plan = DirectorySync.PlanFullSync(DirectoryState.Empty, null, [], Now);

        (plan.ActiveBefore, plan.DeactivatedShare, plan.ExceedsDeactivationLimit(0)).ShouldBe((0, 0.0, false));
    }

    [Fact]
    public void TheGuardCountsRoleAndManagerChangesOfPeopleWhoStay()
    {
        // A file without its roles column would strip everyone's roles; one without managers would clear every manager.
        var withoutRoles = Desired().Select(e => e with { Roles = [] }).ToList();
        var withoutManagers = Desired().Select(e => e with { ManagerId = "" }).ToList();

        var roles = DirectorySync.PlanFullSync(Current(), null, withoutRoles, Now);
        var managers = DirectorySync.PlanFullSync(Current(), null, withoutManagers, Now);

        (roles.RolesChanged, roles.ManagersChanged, roles.Deactivated).ShouldBe((10, 0, 0));
        roles.MassChanges(0.10).ShouldHaveSingleItem().ShouldContain("change the roles of 10 of 10 active employees");
        (managers.RolesChanged, managers.ManagersChanged).ShouldBe((0, 9));
        managers.MassChanges(0.10).ShouldHaveSingleItem().ShouldContain("change the manager of 9 of 10");
    }

    [Fact]
    public void OneRoleOrManagerChangeInTenStaysWithinTheGuard()
    {
        var desired = Desired();
        desired[3] = desired[3] with { Roles = [Role.Employee, Role.Hr], ManagerId = "p2" };

        var plan = DirectorySync.PlanFullSync(Current(), null, desired, Now);

        (plan.RolesChanged, plan.ManagersChanged).ShouldBe((1, 1));
        plan.MassChanges(0.10).ShouldBeEmpty();
    }
}
