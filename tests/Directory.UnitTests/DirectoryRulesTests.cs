using Transformation.Directory.Api.Model;
using Transformation.Directory.V1;

namespace Transformation.Directory.UnitTests;

public sealed class DirectoryRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 9, 0, 0, TimeSpan.Zero);

    private static OrgUnit Unit(string id, string parent, bool closed = false) => new(id, id.ToUpperInvariant(), parent, OrgUnitKind.Team, closed, 1);

    private static Employee Person(string id, string unit, string manager = "", bool active = true) =>
        new(id, $"Person {id}", $"{id}@example.com", unit, manager, [Role.Employee], active, 1);

    private static DirectoryState Sample() => new(
        [Unit("root", ""), Unit("a", "root"), Unit("a1", "a"), Unit("b", "root")],
        [Person("boss", "root"), Person("m", "a", "boss"), Person("x", "a1", "m"), Person("y", "b", "boss")]);

    [Fact]
    public void MovingAUnitUnderItsOwnDescendantIsACycle()
    {
        var plan = DirectorySync.PlanUnit(Sample(), Unit("a", "a1"), Now);

        plan.Violations.ShouldHaveSingleItem().Field.ShouldBe("parent_id");
        plan.Violations[0].Description.ShouldContain("cycle");
    }

    [Fact]
    public void AUnitCannotBeItsOwnParentNorHangFromAMissingOrClosedOne()
    {
        DirectorySync.PlanUnit(Sample(), Unit("a", "a"), Now).Violations.ShouldHaveSingleItem().Description.ShouldContain("its own parent");
        DirectorySync.PlanUnit(Sample(), Unit("c", "nowhere"), Now).Violations.ShouldHaveSingleItem().Description.ShouldContain("does not exist");
        var withClosed = Sample().With([Unit("old", "root", closed: true)], []);
        DirectorySync.PlanUnit(withClosed, Unit("c", "old"), Now).Violations.ShouldHaveSingleItem().Description.ShouldContain("is closed");
    }

    [Fact]
    public void AUnitClosesOnlyWithoutOpenChildrenAndActiveMembers()
    {
        var closingA = DirectorySync.PlanUnit(Sample(), Unit("a", "root", closed: true), Now);
        closingA.Violations.Select(v => v.Description).ShouldBe(
            ["org unit 'a' cannot close while units below it are open (a1)", "org unit 'a' cannot close while it has active members (m)"]);

        var emptied = Sample().With([], [Person("y", "b", "boss", active: false)]);
        var closingB = DirectorySync.PlanUnit(emptied, Unit("b", "root", closed: true), Now);
        closingB.Violations.ShouldBeEmpty();
        closingB.Changes.ShouldHaveSingleItem().Kind.ShouldBe(ChangeKind.OrgUnitClosed);
    }

    [Fact]
    public void AManagerChainMayNotLoopNorPointAtNobody()
    {
        DirectorySync.PlanEmployee(Sample(), Person("boss", "root", "x"), Now).Violations.ShouldHaveSingleItem().Description.ShouldContain("cycle");
        DirectorySync.PlanEmployee(Sample(), Person("x", "a1", "x"), Now).Violations.ShouldHaveSingleItem().Field.ShouldBe("manager_id");
        DirectorySync.PlanEmployee(Sample(), Person("x", "a1", "ghost"), Now).Violations.ShouldHaveSingleItem().Description.ShouldContain("does not exist");
    }

    [Fact]
    public void TwoActivePeopleCannotShareAnEmailButALeaverCanHandItOn()
    {
        var duplicate = Person("z", "b", "boss") with { Email = "X@example.com" };
        DirectorySync.PlanEmployee(Sample(), duplicate, Now).Violations.ShouldHaveSingleItem().Field.ShouldBe("email");

        var xLeft = Sample().With([], [Person("x", "a1", "m", active: false)]);
        DirectorySync.PlanEmployee(xLeft, duplicate, Now).Violations.ShouldBeEmpty();
    }

    [Fact]
    public void AnActiveEmployeeNeedsAnOpenUnit()
    {
        var withClosed = Sample().With([Unit("old", "root", closed: true)], []);
        DirectorySync.PlanEmployee(withClosed, Person("y", "old", "boss"), Now).Violations.ShouldHaveSingleItem().Field.ShouldBe("org_unit_id");
    }

    [Fact]
    public void ParentsComeBeforeChildrenAndDescendantsAreFound()
    {
        var units = Sample().Units.Values.Reverse().ToList();

        DirectoryState.ParentsFirst(units).Select(u => u.Id).ShouldBe(["root", "a", "a1", "b"]);
        DirectoryState.UnitAndDescendants(units, "a").ShouldBe(["a", "a1"], ignoreOrder: true);
        DirectoryState.UnitAndDescendants(units, "root").Count.ShouldBe(4);
    }
}
