namespace Transformation.Incentives.Api.Model;

/// <summary>A decision's claim on a budget: the points it holds, in the recipient's unit and the period they count in.</summary>
public sealed record BudgetClaim(string OrgUnitId, string Period, int Points);

/// <summary>Where a claim was charged: reserved or not, and the unit whose budget paid ("" when no budget applies: no limit).</summary>
public sealed record BudgetCharge(bool Reserved, string BudgetUnitId);

/// <summary>
/// Charges a batch of claims against budgets, in order: a claim is reserved while what is left of its budget covers it
/// (spent + points &lt;= amount, as a single charge checks it), else it is refused and later, smaller claims may still fit.
/// The caller reads what is left without locking and charges the result at the end of its transaction by a conditional
/// update that refuses to overspend (and then rolls back and retries), so concurrent batches (on any number of instances)
/// never overspend.
/// </summary>
public static class BudgetAllocation
{
    /// <param name="claims">In the order the decisions were made.</param>
    /// <param name="budgetOf">(org unit, period) → the unit whose budget pays: the nearest up the chain with a budget for the period; absent = no budget.</param>
    /// <param name="left">(budget unit, period) → amount − spent when read.</param>
    public static (IReadOnlyList<BudgetCharge> Charges, IReadOnlyDictionary<(string BudgetUnitId, string Period), int> Spent) Allocate(
        IReadOnlyList<BudgetClaim> claims, IReadOnlyDictionary<(string OrgUnitId, string Period), string> budgetOf,
        IReadOnlyDictionary<(string BudgetUnitId, string Period), int> left)
    {
        ArgumentNullException.ThrowIfNull(claims);
        ArgumentNullException.ThrowIfNull(budgetOf);
        ArgumentNullException.ThrowIfNull(left);
        var remaining = new Dictionary<(string, string), int>(left);
        var spent = new Dictionary<(string BudgetUnitId, string Period), int>();
        var charges = new List<BudgetCharge>(claims.Count);
        foreach (var claim in claims)
        {
            if (!budgetOf.TryGetValue((claim.OrgUnitId, claim.Period), out var unit))
            {
                charges.Add(new BudgetCharge(true, ""));
                continue;
            }

            var key = (unit, claim.Period);
            var available = remaining.GetValueOrDefault(key);
            if (claim.Points <= available)
            {
                remaining[key] = available - claim.Points;
                spent[key] = spent.GetValueOrDefault(key) + claim.Points;
                charges.Add(new BudgetCharge(true, unit));
            }
            else
            {
                charges.Add(new BudgetCharge(false, unit));
            }
        }

        return (charges, spent);
    }
}
