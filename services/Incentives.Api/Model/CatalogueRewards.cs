using Transformation.Incentives.V1;

namespace Transformation.Incentives.Api.Model;

/// <summary>The rules of the reward catalogue: what a reward may say, when a redemption waits for approval, who reviews it.</summary>
public static class CatalogueRewards
{
    public const int MaxNameLength = 200;
    public const int MaxDescriptionLength = 4000;
    public const int MaxEligibleUnits = 100;
    public const int MaxQuantity = 100;

    /// <summary>Field violations of a draft; <paramref name="prefix"/> is the request's field path ("reward").</summary>
    public static IReadOnlyList<(string Field, string Description)> Validate(CatalogueRewardDraft? draft, string prefix = "reward")
    {
        var violations = new List<(string, string)>();
        if (draft is null)
        {
            violations.Add((prefix, "The reward is required."));
            return violations;
        }

        if (string.IsNullOrWhiteSpace(draft.Name) || draft.Name.Length > MaxNameLength)
        {
            violations.Add(($"{prefix}.name", $"A name of 1 to {MaxNameLength} characters is required."));
        }

        if (draft.Description.Length > MaxDescriptionLength)
        {
            violations.Add(($"{prefix}.description", $"At most {MaxDescriptionLength} characters."));
        }

        if (draft.PointsCost is <= 0 or > RuleSet.MaxPoints)
        {
            violations.Add(($"{prefix}.points_cost", $"The cost must be from 1 to {RuleSet.MaxPoints} points."));
        }

        if (draft.HasStock && draft.Stock is < 0 or > RuleSet.MaxPoints)
        {
            violations.Add(($"{prefix}.stock", $"From 0 to {RuleSet.MaxPoints}, or absent for an unlimited stock."));
        }

        if (draft.ApprovalThreshold is < 0 or > RuleSet.MaxPoints)
        {
            violations.Add(($"{prefix}.approval_threshold", $"From 0 (none) to {RuleSet.MaxPoints} points."));
        }

        if (draft.EligibleOrgUnitIds.Count > MaxEligibleUnits || draft.EligibleOrgUnitIds.Any(string.IsNullOrWhiteSpace))
        {
            violations.Add(($"{prefix}.eligible_org_unit_ids", $"At most {MaxEligibleUnits} org unit ids, none empty (no ids: everyone)."));
        }
        else if (draft.EligibleOrgUnitIds.Distinct(StringComparer.Ordinal).Count() != draft.EligibleOrgUnitIds.Count)
        {
            violations.Add(($"{prefix}.eligible_org_unit_ids", "Each org unit may appear once."));
        }

        return violations;
    }

    /// <summary>Whether a redemption of <paramref name="points"/> waits for approval.</summary>
    public static bool NeedsApproval(bool requiresApproval, int approvalThreshold, int points) =>
        requiresApproval || (approvalThreshold > 0 && points > approvalThreshold);

    /// <summary>A held redemption: the redeemer's manager or hr; never the redeemer (four eyes).</summary>
    public static bool MayReview(string reviewerId, bool reviewerIsHr, string redeemerId, string? redeemerManagerId) =>
        !string.Equals(reviewerId, redeemerId, StringComparison.Ordinal)
        && (reviewerIsHr || (!string.IsNullOrEmpty(redeemerManagerId) && string.Equals(reviewerId, redeemerManagerId, StringComparison.Ordinal)));
}
