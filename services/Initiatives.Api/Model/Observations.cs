using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Initiatives.Api.Model;

/// <summary>A behaviour as the local catalogue copy knows it (latest version).</summary>
public sealed record CatalogueEntry(string BehaviourId, int Version, Polarity Polarity, bool Retired);

/// <summary>An employee as the local Directory copy knows them.</summary>
public sealed record DirectoryEntry(string EmployeeId, string OrgUnitId, bool Active);

/// <summary>What the references of a batch of observations resolve to.</summary>
public sealed record References(
    IReadOnlyDictionary<string, CatalogueEntry> Behaviours,
    IReadOnlyDictionary<string, DirectoryEntry> Employees,
    IReadOnlyDictionary<string, InitiativeStatus> Initiatives);

/// <summary>Validation of observations (no I/O): the shape first, then the references against the local copies.</summary>
public static class Observations
{
    public const int MaxEvidenceLength = 2000;
    public const int MaxKeyLength = 200;

    private static readonly HashSet<string> Recorders = new(StringComparer.Ordinal) { Roles.Hr, Roles.ChangeManager, Roles.Service, Roles.Executive };

    /// <summary>Field violations of the input's shape, each prefixed (e.g. "observation." or "observations[3].").</summary>
    public static void ValidateShape(ObservationInput? input, string prefix, Caller caller, DateTimeOffset now, List<(string Field, string Description)> violations)
    {
        if (input is null)
        {
            violations.Add((prefix.TrimEnd('.'), "The observation is required."));
            return;
        }

        if (string.IsNullOrWhiteSpace(input.IdempotencyKey) || input.IdempotencyKey.Length > MaxKeyLength)
        {
            violations.Add((prefix + "idempotency_key", $"An idempotency key of 1 to {MaxKeyLength} characters is required."));
        }

        if (string.IsNullOrWhiteSpace(input.EmployeeId))
        {
            violations.Add((prefix + "employee_id", "The employee is required."));
        }

        if (string.IsNullOrWhiteSpace(input.BehaviourId))
        {
            violations.Add((prefix + "behaviour_id", "The behaviour is required."));
        }

        if (input.Source == ObservationSource.Unspecified || !Enum.IsDefined(input.Source))
        {
            violations.Add((prefix + "source", "The source is required."));
        }

        if (input.Source is ObservationSource.Manager or ObservationSource.Peer && string.IsNullOrWhiteSpace(input.ObserverId))
        {
            violations.Add((prefix + "observer_id", "A manager's or peer's observation names its observer."));
        }

        if (input.Source == ObservationSource.Peer && string.Equals(input.ObserverId, input.EmployeeId, StringComparison.Ordinal))
        {
            violations.Add((prefix + "observer_id", "Nobody observes themselves."));
        }

        if (input.ObservedAt is null || input.ObservedAt.ToDateTimeOffset() > now.AddMinutes(5))
        {
            violations.Add((prefix + "observed_at", "When it was observed is required, and not in the future."));
        }

        if (input.Evidence.Length > MaxEvidenceLength)
        {
            violations.Add((prefix + "evidence", $"At most {MaxEvidenceLength} characters."));
        }

        // Employees who are not recorders (hr, change managers, executives, systems) record peer observations of their own only.
        if (!caller.Roles.Any(Recorders.Contains) && (input.Source != ObservationSource.Peer || !string.Equals(input.ObserverId, caller.Subject, StringComparison.Ordinal)))
        {
            violations.Add((prefix + "source", "Employees record peer observations, as their observer."));
        }
    }

    /// <summary>Field violations of the references: known, current behaviour with a matching polarity, active employee and observer, active initiative.</summary>
    public static void ValidateReferences(ObservationInput input, string prefix, References references, List<(string Field, string Description)> violations)
    {
        if (!references.Behaviours.TryGetValue(input.BehaviourId, out var behaviour))
        {
            violations.Add((prefix + "behaviour_id", $"The behaviour '{input.BehaviourId}' is not in the catalogue."));
        }
        else if (behaviour.Retired)
        {
            violations.Add((prefix + "behaviour_id", $"The behaviour '{input.BehaviourId}' is retired."));
        }
        else if (input.Polarity != Polarity.Unspecified && input.Polarity != behaviour.Polarity)
        {
            violations.Add((prefix + "polarity", $"The behaviour '{input.BehaviourId}' is {behaviour.Polarity}."));
        }

        if (!references.Employees.TryGetValue(input.EmployeeId, out var employee) || !employee.Active)
        {
            violations.Add((prefix + "employee_id", $"'{input.EmployeeId}' is not an active employee."));
        }

        if (input.ObserverId.Length > 0 && (!references.Employees.TryGetValue(input.ObserverId, out var observer) || !observer.Active))
        {
            violations.Add((prefix + "observer_id", $"'{input.ObserverId}' is not an active employee."));
        }

        if (input.InitiativeId.Length > 0 &&
            (!references.Initiatives.TryGetValue(input.InitiativeId, out var status) || status is not (InitiativeStatus.Active or InitiativeStatus.Sponsored)))
        {
            violations.Add((prefix + "initiative_id", $"'{input.InitiativeId}' is not a sponsored or active initiative."));
        }
    }
}
