using Transformation.Baselines.V1;

namespace Transformation.Baselines.Api.Model;

/// <summary>A stored free-text comment: the respondent's four attributes and the text, nothing that links it to a response.</summary>
public sealed record StoredComment(string Unit, string Tenure, string Role, string Location, string Text);

/// <summary>
/// Which comments of a group, with which attributes, may be shown. There is no second anonymity rule: a group's
/// comments are shown only when the suppression tables of the scores (<see cref="SuppressionTable"/>: minimum reporting
/// size and differencing) report that group, both for its respondents and for every dimension its respondents answered;
/// each attribute of a comment (its own org unit, tenure band, role level, location) is shown only when the group
/// narrowed by it, and by the attributes shown before it, is reportable by the same tables.
/// </summary>
public static class CommentDisclosure
{
    public const string SuppressionReason =
        "The group has fewer respondents than the minimum reporting size, or could be derived by subtracting reportable groups: its comments are withheld.";

    /// <summary>The group's comments may be shown: reported by the respondents' table and by no dimension suppressed.</summary>
    public static bool IsReportable(GroupKey key, SuppressionTable respondents, IEnumerable<SuppressionTable> dimensions)
    {
        ArgumentNullException.ThrowIfNull(respondents);
        ArgumentNullException.ThrowIfNull(dimensions);
        return !respondents.IsSuppressed(key) && dimensions.All(table => table.SizeOf(key) == 0 || !table.IsSuppressed(key));
    }

    /// <summary>The comment as shown to a reader of <paramref name="group"/> (itself reportable): attributes that would narrow it below
    /// a reportable group are blank. The query's own filters and unit are the group's: shown as they are.</summary>
    public static Comment Disclose(StoredComment comment, GroupKey group, Func<GroupKey, bool> reportable)
    {
        ArgumentNullException.ThrowIfNull(comment);
        ArgumentNullException.ThrowIfNull(reportable);
        var shown = group;
        var result = new Comment { Text = comment.Text };
        if (!group.Descendants)
        {
            result.OrgUnitId = comment.Unit;
        }
        else if (reportable(shown with { Unit = comment.Unit, Descendants = false }))
        {
            shown = shown with { Unit = comment.Unit, Descendants = false };
            result.OrgUnitId = comment.Unit;
        }

        if (!string.IsNullOrEmpty(group.Tenure))
        {
            result.TenureBand = comment.Tenure;
        }
        else if (reportable(shown with { Tenure = comment.Tenure }))
        {
            shown = shown with { Tenure = comment.Tenure };
            result.TenureBand = comment.Tenure;
        }

        if (!string.IsNullOrEmpty(group.Role))
        {
            result.RoleLevel = comment.Role;
        }
        else if (reportable(shown with { Role = comment.Role }))
        {
            shown = shown with { Role = comment.Role };
            result.RoleLevel = comment.Role;
        }

        if (!string.IsNullOrEmpty(group.Location) || reportable(shown with { Location = comment.Location }))
        {
            result.Location = comment.Location;
        }

        return result;
    }

    /// <summary>A stable order that does not follow submission: by text, then by the attributes shown.</summary>
    public static IEnumerable<Comment> Ordered(IEnumerable<Comment> comments) =>
        comments.OrderBy(c => c.Text, StringComparer.Ordinal).ThenBy(c => c.OrgUnitId, StringComparer.Ordinal).ThenBy(c => c.TenureBand, StringComparer.Ordinal)
            .ThenBy(c => c.RoleLevel, StringComparer.Ordinal).ThenBy(c => c.Location, StringComparer.Ordinal);
}
