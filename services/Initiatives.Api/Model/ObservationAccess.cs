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
