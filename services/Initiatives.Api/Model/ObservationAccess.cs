using Transformation.ServiceDefaults.Identity;

namespace Transformation.Initiatives.Api.Model;

/// <summary>
/// Who may read which recorded observations: the one rule every read path applies (ListObservations, the exports built
/// on it, the observations a success story may cite). HR reads every observation. Anyone else reads only the
/// desired-behaviour observations of the initiatives they run or sponsor: individual call-outs (unacceptable behaviour)
/// are HR's alone, and other initiatives' evidence is their owners'.
/// </summary>
public sealed record ObservationAccess(bool Everything, string Subject)
{
    public static ObservationAccess For(Caller caller) => new(caller.IsInRole(Roles.Hr), caller.Subject);
}

/// <summary>Which initiatives a caller lists: the one rule ListInitiatives applies.</summary>
public enum InitiativeListing
{
    /// <summary>HR and executives: every initiative.</summary>
    Everything,

    /// <summary>A change manager: the initiatives they run.</summary>
    Running,

    /// <summary>Anyone signed in, asking for it: the active and completed initiatives that reach their own unit.</summary>
    ReachingMe,

    /// <summary>Nothing: an employee who did not ask for the initiatives reaching them.</summary>
    Denied,
}

public static class InitiativeAccess
{
    public static InitiativeListing Listing(Caller caller, bool reachingMe) =>
        reachingMe ? InitiativeListing.ReachingMe
        : caller.IsInAnyRole(Roles.Hr, Roles.Executive) ? InitiativeListing.Everything
        : caller.IsInRole(Roles.ChangeManager) ? InitiativeListing.Running
        : InitiativeListing.Denied;
}
