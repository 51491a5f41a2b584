using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;

namespace Transformation.Incentives.UnitTests;

public sealed class CatalogueRewardsTests
{
    [Fact]
    public void ADraftWithoutNameOrWithACostBelowOneOrANegativeStockNamesEachField()
    {
        var draft = new CatalogueRewardDraft { Name = " ", PointsCost = 0, Stock = -1, ApprovalThreshold = -1, EligibleOrgUnitIds = { "u", "u" } };

        CatalogueRewards.Validate(draft).Select(v => v.Field).ShouldBe(
            ["reward.name", "reward.points_cost", "reward.stock", "reward.approval_threshold", "reward.eligible_org_unit_ids"]);
        CatalogueRewards.Validate(new CatalogueRewardDraft { Name = "Mug", PointsCost = 10 }).ShouldBeEmpty(); // no stock: unlimited
        CatalogueRewards.Validate(null).Single().Field.ShouldBe("reward");
    }

    [Fact]
    public void ARedemptionWaitsForApprovalWhenTheRewardAlwaysNeedsItOrItCostsMoreThanTheThreshold()
    {
        CatalogueRewards.NeedsApproval(requiresApproval: true, approvalThreshold: 0, points: 1).ShouldBeTrue();
        CatalogueRewards.NeedsApproval(requiresApproval: false, approvalThreshold: 50, points: 50).ShouldBeFalse();
        CatalogueRewards.NeedsApproval(requiresApproval: false, approvalThreshold: 50, points: 51).ShouldBeTrue();
        CatalogueRewards.NeedsApproval(requiresApproval: false, approvalThreshold: 0, points: 1_000_000).ShouldBeFalse();
    }

    [Fact]
    public void TheRedeemersManagerOrHrReviewsNeverTheRedeemer()
    {
        CatalogueRewards.MayReview("m", reviewerIsHr: false, "e", "m").ShouldBeTrue();
        CatalogueRewards.MayReview("hr", reviewerIsHr: true, "e", "m").ShouldBeTrue();
        CatalogueRewards.MayReview("e", reviewerIsHr: true, "e", "m").ShouldBeFalse();
        CatalogueRewards.MayReview("peer", reviewerIsHr: false, "e", "m").ShouldBeFalse();
        CatalogueRewards.MayReview("m", reviewerIsHr: false, "e", null).ShouldBeFalse();
    }
}
