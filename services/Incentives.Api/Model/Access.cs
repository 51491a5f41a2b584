using Transformation.ServiceDefaults.Identity;

namespace Transformation.Incentives.Api.Model;

/// <summary>Who may see and decide what.</summary>
public static class Access
{
    /// <summary>An employee's own feed (with private rewards): the employee, their manager, hr.</summary>
    public static bool MayReadFeed(Caller caller, string employeeId, string? managerId) =>
        caller.IsInRole(Roles.Hr)
        || string.Equals(caller.Subject, employeeId, StringComparison.Ordinal)
        || (!string.IsNullOrEmpty(managerId) && string.Equals(caller.Subject, managerId, StringComparison.Ordinal));

    /// <summary>
    /// A held reward: hr always; the recipient's manager for rewards above the approval threshold, never for flagged
    /// ones (those are hr's); never the recipient or the giver (four eyes).
    /// </summary>
    public static bool MayReview(Caller caller, Verdict status, string recipientId, string giverId, string? recipientManagerId)
    {
        if (string.Equals(caller.Subject, recipientId, StringComparison.Ordinal) || string.Equals(caller.Subject, giverId, StringComparison.Ordinal))
        {
            return false;
        }

        if (caller.IsInRole(Roles.Hr))
        {
            return status is Verdict.PendingApproval or Verdict.Flagged;
        }

        return status == Verdict.PendingApproval
            && !string.IsNullOrEmpty(recipientManagerId)
            && string.Equals(caller.Subject, recipientManagerId, StringComparison.Ordinal);
    }

    /// <summary>Aggregated call-outs: hr, executives, change managers. Individual call-outs: hr only.</summary>
    public static readonly string[] CallOutReportRoles = [Roles.Hr, Roles.Executive, Roles.ChangeManager];
}
