using Transformation.Baselines.V1;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Baselines.Api.Model;

/// <summary>Who reads which scores. Who may call at all is declared in the access map (Extensions).</summary>
public static class Access
{
    public static readonly string[] Editors = [Roles.Hr];
    public static readonly string[] ScoreReaders = [Roles.Hr, Roles.Executive, Roles.ChangeManager, Roles.Service];
    public static readonly string[] Submitters = [Roles.Hr, Roles.Service];

    /// <summary>Who lists every assessment; anyone else signed in lists the published ones (and may open one by its id).</summary>
    public static readonly string[] AssessmentListers = [Roles.Hr, Roles.Executive];

    /// <summary>Who reads the free-text comments (of reportable groups only).</summary>
    public static readonly string[] CommentReaders = [Roles.Hr, Roles.Executive];

    /// <summary>Who downloads a closed assessment's results as a file: the readers of the portal's results pages.</summary>
    public static readonly string[] ResultExporters = [Roles.Hr, Roles.Executive];

    /// <summary>Who reads the audit trail.</summary>
    public static readonly string[] Auditors = [Roles.Hr, Roles.Executive];

    public static bool ListsEveryAssessment(Caller caller) => caller.IsInAnyRole(AssessmentListers);

    public static bool CanReadAllScores(Caller caller) => caller.IsInAnyRole(ScoreReaders);

    /// <summary>An employee reads a published assessment's organisation-level score only: a root unit with descendants, no filters.</summary>
    public static bool EmployeeMayRead(bool published, string unit, bool includeDescendants, AttributeFilter filter, OrgTree tree) =>
        published && includeDescendants && tree.Contains(unit) && tree.SelfAndAncestors(unit).Count() == 1
        && filter.TenureBand.Length == 0 && filter.RoleLevel.Length == 0 && filter.Location.Length == 0;
}
