using Transformation.Baselines.Api.Model;

namespace Transformation.Baselines.UnitTests;

public sealed class CommentDisclosureTests
{
    // root ─ a
    //      └ b
    private static readonly OrgTree Tree = new(new Dictionary<string, string>(StringComparer.Ordinal) { ["root"] = "", ["a"] = "root", ["b"] = "root" });

    private static Cell C(string unit, int n, string tenure = "t1") => new(unit, tenure, "r1", "l1", new Aggregate { N = n });

    private static GroupKey K(string unit, bool descendants = true, string? tenure = null) => new(unit, descendants, tenure, null, null);

    [Fact]
    public void AGroupIsReportableOnlyWhenTheRespondentsTableAndEveryDimensionWhereItHasRespondentsReportIt()
    {
        var respondents = SuppressionTable.Build([C("a", 10), C("b", 10)], Tree, 5);
        var dimension = SuppressionTable.Build([C("a", 10), C("b", 4)], Tree, 5);
        var elsewhere = SuppressionTable.Build([C("a", 10)], Tree, 5);

        CommentDisclosure.IsReportable(K("b"), respondents, []).ShouldBeTrue();
        CommentDisclosure.IsReportable(K("b"), respondents, [dimension]).ShouldBeFalse();
        CommentDisclosure.IsReportable(K("b"), respondents, [elsewhere]).ShouldBeTrue();
        CommentDisclosure.IsReportable(K("a"), SuppressionTable.Build([C("a", 4), C("b", 10)], Tree, 5), []).ShouldBeFalse();
    }

    [Fact]
    public void AnAttributeIsShownOnlyWhenTheGroupItNarrowsToIsReportable()
    {
        var table = SuppressionTable.Build([C("a", 6), C("a", 5, "t2"), C("a", 2, "t3"), C("b", 10)], Tree, 5);
        bool Reportable(GroupKey key) => CommentDisclosure.IsReportable(key, table, []);

        var shortTenured = CommentDisclosure.Disclose(new StoredComment("a", "t1", "r1", "l1", "fine"), K("root"), Reportable);
        (shortTenured.OrgUnitId, shortTenured.TenureBand, shortTenured.RoleLevel, shortTenured.Location).ShouldBe(("a", "t1", "r1", "l1"));
        var longTenured = CommentDisclosure.Disclose(new StoredComment("a", "t3", "r1", "l1", "hm"), K("root"), Reportable);
        (longTenured.Text, longTenured.OrgUnitId, longTenured.TenureBand).ShouldBe(("hm", "a", ""));
        // A filter the reader chose is the group's own: shown as it is.
        CommentDisclosure.Disclose(new StoredComment("a", "t1", "r1", "l1", "x"), K("a", false, "t1"), Reportable).TenureBand.ShouldBe("t1");
    }

    [Fact]
    public void CommentsAreOrderedByTextNotByArrival()
    {
        var ordered = CommentDisclosure.Ordered([new() { Text = "b" }, new() { Text = "a", TenureBand = "t2" }, new() { Text = "a", TenureBand = "t1" }]);

        ordered.Select(c => c.Text + c.TenureBand).ShouldBe(["at1", "at2", "b"]);
    }
}
