using Transformation.Cli.Demo;

namespace Transformation.Cli.UnitTests;

public sealed class LargeOrganisationTests
{
    [Fact]
    public void AMillionPeopleMakeATreeSixLevelsDeepWithFiveToFifteenUnitsBelowEachInnerUnit()
    {
        var organisation = new LargeOrganisation(1_000_000);
        var depths = new Dictionary<string, int>(StringComparer.Ordinal);
        var children = new Dictionary<string, int>(StringComparer.Ordinal);
        var members = new Dictionary<string, int>(StringComparer.Ordinal);
        var people = new HashSet<string>(StringComparer.Ordinal);
        var emails = new HashSet<string>(StringComparer.Ordinal);
        var withoutManager = 0;
        foreach (var row in organisation.Rows())
        {
            if (row.Record == "org_unit")
            {
                depths[row.Id] = row.ParentId.Length == 0 ? 1 : depths[row.ParentId] + 1;
                if (row.ParentId.Length > 0)
                {
                    children[row.ParentId] = children.GetValueOrDefault(row.ParentId) + 1;
                }

                continue;
            }

            depths.ShouldContainKey(row.OrgUnitId);
            members[row.OrgUnitId] = members.GetValueOrDefault(row.OrgUnitId) + 1;
            people.Add(row.Id).ShouldBeTrue();
            emails.Add(row.Email).ShouldBeTrue();
            row.Roles.ShouldContain("employee");
            if (row.ManagerId.Length == 0)
            {
                withoutManager++;
            }
            else
            {
                // A manager comes before the people they manage: the file has no manager cycle and no unknown manager.
                people.ShouldContain(row.ManagerId);
            }
        }

        people.Count.ShouldBe(1_000_000);
        organisation.People.ShouldBe(1_000_000);
        organisation.Units.ShouldBe(depths.Count);
        withoutManager.ShouldBe(1);
        depths.Values.Max().ShouldBe(LargeOrganisation.Depth);
        depths.Count(d => d.Value == LargeOrganisation.Depth).ShouldBeGreaterThan(depths.Count / 2);
        children.Values.ShouldAllBe(span => span >= LargeOrganisation.MinSpan && span <= LargeOrganisation.MaxSpan);
        depths.Keys.ShouldAllBe(unit => members.ContainsKey(unit));
        // About ten people to a team.
        (1_000_000.0 / depths.Count(d => !children.ContainsKey(d.Key))).ShouldBeInRange(8, 16);
    }

    [Fact]
    public void TheSameSeedGivesTheSameOrganisationAndAnotherSeedAnotherOne()
    {
        var first = new LargeOrganisation(10_000, seed: 7).Rows().ToList();
        new LargeOrganisation(10_000, seed: 7).Rows().ToList().ShouldBe(first);
        new LargeOrganisation(10_000, seed: 8).Rows().ToList().ShouldNotBe(first);
    }

    [Fact]
    public void ASmallOrganisationIsOneUnit()
    {
        var rows = new LargeOrganisation(3).Rows().ToList();
        rows.Select(r => r.Record).ShouldBe(["org_unit", "employee", "employee", "employee"]);
        rows.Skip(2).ShouldAllBe(r => r.ManagerId == rows[1].Id);
    }
}
