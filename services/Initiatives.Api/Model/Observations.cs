using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Initiatives.Api.Model;

/// <summary>A behaviour as the local catalogue copy knows it (latest version).</summary>
public sealed record CatalogueEntry(string BehaviourId, int Version, Polarity Polarity, bool Retired);

/// <summary>An employee as the local Directory copy knows them; <paramref name="Units"/> is their unit and every unit above it.</summary>
public sealed record DirectoryEntry(string EmployeeId, string OrgUnitId, bool Active, IReadOnlyList<string> Units);

/// <summary>An initiative as observations see it: its status and the org units in its scope (each with the units below it).</summary>
public sealed record InitiativeEntry(InitiativeStatus Status, IReadOnlyList<string> Scope);

/// <summary>What the references of a batch of observations resolve to.</summary>
public sealed record References(
    IReadOnlyDictionary<string, CatalogueEntry> Behaviours,
    IReadOnlyDictionary<string, DirectoryEntry> Employees,
    IReadOnlyDictionary<string, InitiativeEntry> Initiatives);

/// <summary>Validation of observations (no I/O): the shape first, then the references against the local copies.</summary>
public static class Observations
{
    public const int MaxEvidenceLength = 2000;
    public const int MaxKeyLength = 200;

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

        // Nobody is rewarded on their own word: neither the recorder nor the observer is the person observed.
        if (string.Equals(input.EmployeeId, caller.Subject, StringComparison.Ordinal))
        {
            violations.Add((prefix + "employee_id", "Nobody records an observation of themselves."));
        }
        else if (string.Equals(input.ObserverId, input.EmployeeId, StringComparison.Ordinal))
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
    }

    /// <summary>
    /// A reported concern as the observation it records: the reporter observed an unacceptable behaviour of a colleague
    /// (a peer's call-out, with no initiative). Null with field violations (named as the request names them) when its shape is wrong.
    /// </summary>
    public static ObservationInput? Concern(ReportConcernRequest request, Caller caller, DateTimeOffset now, List<(string Field, string Description)> violations)
    {
        if (string.IsNullOrWhiteSpace(request.IdempotencyKey) || request.IdempotencyKey.Length > MaxKeyLength)
        {
            violations.Add(("idempotency_key", $"An idempotency key of 1 to {MaxKeyLength} characters is required."));
        }

        if (string.IsNullOrWhiteSpace(request.EmployeeId))
        {
            violations.Add(("employee_id", "Who the concern is about is required."));
        }
        else if (string.Equals(request.EmployeeId, caller.Subject, StringComparison.Ordinal))
        {
            violations.Add(("employee_id", "A concern is about someone else, not yourself."));
        }

        if (string.IsNullOrWhiteSpace(request.BehaviourId))
        {
            violations.Add(("behaviour_id", "The behaviour is required."));
        }

        if (request.ObservedAt is null || request.ObservedAt.ToDateTimeOffset() > now.AddMinutes(5))
        {
            violations.Add(("observed_at", "When it happened is required, and not in the future."));
        }

        if (string.IsNullOrWhiteSpace(request.WhatHappened) || request.WhatHappened.Length > MaxEvidenceLength)
        {
            violations.Add(("what_happened", $"What happened is required, in at most {MaxEvidenceLength} characters."));
        }

        return violations.Count > 0 ? null : new ObservationInput
        {
            IdempotencyKey = request.IdempotencyKey,
            EmployeeId = request.EmployeeId,
            BehaviourId = request.BehaviourId,
            Polarity = Polarity.Unacceptable,
            Source = ObservationSource.Peer,
            ObserverId = caller.Subject,
            ObservedAt = request.ObservedAt,
            Evidence = request.WhatHappened,
        };
    }

    /// <summary>A reference violation of a concern's observation, named as <see cref="ReportConcernRequest"/> names it.</summary>
    public static (string Field, string Description) ConcernViolation((string Field, string Description) violation) => violation.Field switch
    {
        "polarity" => ("behaviour_id", "Only an unacceptable behaviour of the catalogue can be reported as a concern."),
        "observer_id" => ("employee_id", "Only an active employee can report a concern."),
        _ => violation,
    };

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

        if (input.InitiativeId.Length == 0)
        {
            return;
        }

        if (!references.Initiatives.TryGetValue(input.InitiativeId, out var initiative) || initiative.Status is not (InitiativeStatus.Active or InitiativeStatus.Sponsored))
        {
            violations.Add((prefix + "initiative_id", $"'{input.InitiativeId}' is not a sponsored or active initiative."));
        }
        else if (employee is { Active: true } && !employee.Units.Any(initiative.Scope.Contains))
        {
            violations.Add((prefix + "employee_id", $"'{input.EmployeeId}' does not work in the initiative's scope."));
        }
    }
}
