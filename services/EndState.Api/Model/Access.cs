using Transformation.ServiceDefaults.Identity;

namespace Transformation.EndState.Api.Model;

/// <summary>Who may call what. The access map (Extensions) refuses other roles; sponsorship is checked in the workflow.</summary>
public static class Access
{
    public static readonly string[] Authors = [Roles.Hr, Roles.ChangeManager];
    public static readonly string[] Sponsors = [Roles.Executive];
    public static readonly string[] Readers = [Roles.Hr, Roles.ChangeManager, Roles.Executive, Roles.Service];
    public static readonly string[] Auditors = [Roles.Hr, Roles.Executive];
}
