namespace Transformation.Incentives.Api.Model;

public sealed record CallOutGroup(string BehaviourId, string OrgUnitId, string Period, int CallOuts, int Employees);

/// <summary>Call-outs are reported only in aggregate, and never for a group of fewer distinct employees than the minimum.</summary>
public static class CallOutReport
{
    public static (IReadOnlyList<CallOutGroup> Reported, int Suppressed) Apply(IEnumerable<CallOutGroup> groups, int minimumGroupSize)
    {
        var all = groups.ToList();
        var reported = all.Where(g => g.Employees >= minimumGroupSize).ToList();
        return (reported, all.Count - reported.Count);
    }
}
