using System.Collections.Immutable;
using System.Globalization;
using Google.Protobuf;
using Orleans.Concurrency;
using Transformation.EventBus;
using Transformation.Initiatives.Api.Grpc;
using Transformation.Initiatives.Api.Infrastructure;
using Transformation.Initiatives.Api.Model;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Transformation.Initiatives.Api.Grains;

/// <summary>A lifecycle command: the caller and the write's idempotency key (a retry with it returns the state, unchanged).</summary>
[GenerateSerializer]
[Immutable]
public sealed record Command([property: Id(0)] Caller Caller, [property: Id(1)] string IdempotencyKey);

/// <summary>
/// One initiative (a grain keyed by initiative id): its definition, lifecycle and progress change in its calls only. Refusals
/// are <see cref="RpcException"/>s in the rules; they cross the grain call as domain exceptions (Transformation.Grains).
/// </summary>
public interface IInitiativeGrain : IGrainWithStringKey
{
    Task<InitiativeState> ProposeAsync(Command command, InitiativeDefinition draft, string changeManagerId);

    Task<InitiativeState> SponsorAsync(Command command);

    Task<InitiativeState> ActivateAsync(Command command);

    Task<InitiativeState> CompleteAsync(Command command);

    Task<InitiativeState> CancelAsync(Command command);

    /// <summary>
    /// Replaces the editable definition (the change manager's); progress is folded again when the scope or behaviours change.
    /// <paramref name="fingerprint"/> identifies the edit's content: the idempotency key reused for another edit is refused.
    /// </summary>
    Task<InitiativeState> UpdateAsync(Command command, InitiativeDefinition changes, string fingerprint);

    /// <summary>
    /// Folds the observations logged since the checkpoint (an active initiative) and reads the survey scores again when Baselines
    /// published an assessment since they were read (a proposed, sponsored or active one); returns how many observations it folded.
    /// </summary>
    Task<int> CatchUpAsync();

    [ReadOnly]
    Task<InitiativeState> GetAsync();
}

/// <summary>
/// The state (definition, lifecycle, progress and the observation log's checkpoint) is one record, read when the grain
/// activates and written explicitly with its events and audit row in one transaction (<see cref="InitiativeStore"/>), so a
/// state change and its events commit together. A write against a stale version throws InconsistentStateException: Orleans
/// deactivates the grain and the next call reads the state again. Progress is folded from the observation log (the
/// observations table) from the checkpoint on; a lost activation rebuilds from the last checkpoint.
/// </summary>
public sealed class InitiativeGrain(InitiativeStore store, InitiativesDatabase database, TimeProvider time) : Grain, IInitiativeGrain, IRemindable
{
    private const string MilestoneReminder = "milestones";
    private int _version;

    private string Id => this.GetPrimaryKeyString();

    private InitiativeState State { get; set; } = new();

    public override async Task OnActivateAsync(CancellationToken cancellationToken) => (State, _version) = await store.ReadAsync(Id, cancellationToken);

    public async Task<InitiativeState> ProposeAsync(Command command, InitiativeDefinition draft, string changeManagerId)
    {
        if (State.Exists)
        {
            return string.Equals(State.ProposalKey, command.IdempotencyKey, StringComparison.Ordinal)
                ? State
                : throw new RpcException(new Status(StatusCode.AlreadyExists, "The initiative exists already."));
        }

        var now = time.GetUtcNow();
        var next = Model.Initiatives.Propose(Id, command.IdempotencyKey, draft, changeManagerId, now);
        next = (await SurveyReaderAsync(next, CancellationToken.None))(next);
        var proposed = new InitiativeProposed
        {
            InitiativeId = Id,
            Name = next.Name,
            SponsorId = next.SponsorId,
            ChangeManagerId = next.ChangeManagerId,
            ScopeOrgUnitIds = { next.Scope },
            TargetBehaviourIds = { next.TargetBehaviours },
            ProposedAt = Timestamp.FromDateTimeOffset(now),
        };
        await AuditedWriteAsync(next, [proposed], command, now);
        return State;
    }

    public Task<InitiativeState> SponsorAsync(Command command) => ApplyAsync(command, "sponsor", state =>
    {
        var now = time.GetUtcNow();
        var next = Model.Initiatives.Sponsor(state, command.Caller, now);
        return (next, next == state ? [] : [new InitiativeSponsored { InitiativeId = Id, SponsorId = next.SponsorId, SponsoredAt = Timestamp.FromDateTimeOffset(now) }]);
    });

    public async Task<InitiativeState> ActivateAsync(Command command)
    {
        var (horizon, _) = await HorizonAsync(CancellationToken.None);
        var readSurvey = await SurveyReaderAsync(State, CancellationToken.None);
        var result = await ApplyAsync(command, "activate", state =>
        {
            var now = time.GetUtcNow();
            var activated = Model.Initiatives.Activate(state, command.Caller, now, horizon);
            if (activated.Status == state.Status)
            {
                return (state, []);
            }

            // The survey scores published by now are the survey goals' "before"; one may have reached a milestone already.
            var (next, reached) = Model.Initiatives.Evaluate(readSurvey(activated), now);
            var (_, events) = Transition(state, next, command);
            if (reached.Length > 0)
            {
                events.AddRange(ProgressEvents(next, reached, now));
            }

            return (next, events);
        });
        await this.RegisterOrUpdateReminder(MilestoneReminder, TimeSpan.FromHours(1), TimeSpan.FromHours(6));
        return result;
    }

    public Task<InitiativeState> CompleteAsync(Command command) =>
        ApplyAsync(command, "complete", state => Transition(state, Model.Initiatives.Complete(state, command.Caller, time.GetUtcNow()), command));

    public Task<InitiativeState> CancelAsync(Command command) =>
        ApplyAsync(command, "cancel", state => Transition(state, Model.Initiatives.Cancel(state, command.Caller, time.GetUtcNow()), command));

    public async Task<InitiativeState> UpdateAsync(Command command, InitiativeDefinition changes, string fingerprint)
    {
        if (!State.Exists)
        {
            throw new RpcException(new Status(StatusCode.NotFound, "No such initiative."));
        }

        // The key remembers the edit's content: a retry returns the state, the key reused for another edit is refused.
        var operation = "update:" + fingerprint;
        if (State.AppliedKeys.TryGetValue(command.IdempotencyKey, out var applied) && applied.StartsWith("update", StringComparison.Ordinal))
        {
            return string.Equals(applied, operation, StringComparison.Ordinal)
                ? State
                : throw new RpcException(new Status(StatusCode.FailedPrecondition, "This idempotency key was used for a different edit."));
        }

        var now = time.GetUtcNow();
        var next = Model.Initiatives.Update(State, command.Caller, changes);
        var reached = ImmutableArray<MilestoneDefinition>.Empty;
        if (Model.Initiatives.NeedsRefold(State, next))
        {
            // Progress folded over the old scope or behaviours no longer holds: fold the log again from the activation checkpoint.
            var folded = await FoldAsync(next, (await HorizonAsync(CancellationToken.None)).Horizon, now, CancellationToken.None);
            (next, reached) = (folded.Next, folded.Reached);
        }

        // The goals, their dimensions or the scope may have changed: the survey scores are read again for the new definition.
        next = (await SurveyReaderAsync(next, CancellationToken.None))(next);
        next = Model.Initiatives.FillBaseline(next, now);
        var (evaluated, reachedNow) = Model.Initiatives.Evaluate(next, now);
        next = evaluated with { AppliedKeys = evaluated.AppliedKeys.SetItem(command.IdempotencyKey, operation) };
        var events = new List<IMessage>
        {
            new InitiativeUpdated
            {
                InitiativeId = Id,
                Name = next.Name,
                ScopeOrgUnitIds = { next.Scope },
                TargetBehaviourIds = { next.TargetBehaviours },
                UpdatedBy = command.Caller.Subject,
                UpdatedAt = Timestamp.FromDateTimeOffset(now),
            },
        };
        if (next.Status == InitiativeStatus.Active)
        {
            events.AddRange(ProgressEvents(next, reached.AddRange(reachedNow), now));
        }

        await AuditedWriteAsync(next, events, command, now);
        return State;
    }

    public async Task<int> CatchUpAsync()
    {
        if (State.Status is not (InitiativeStatus.Proposed or InitiativeStatus.Sponsored or InitiativeStatus.Active))
        {
            return 0;
        }

        var cancellationToken = CancellationToken.None;
        var (horizon, publications) = await HorizonAsync(cancellationToken);
        var active = State.Status == InitiativeStatus.Active;
        var fold = active && horizon > State.FoldedBelowXid;
        if (!fold && publications == State.SurveyPublicationsSeen)
        {
            return 0;
        }

        var now = time.GetUtcNow();
        var next = State;
        if (publications != State.SurveyPublicationsSeen)
        {
            next = (await SurveyReaderAsync(next, cancellationToken))(next);
        }

        var surveyChanged = Model.Initiatives.SurveyChanged(State, next);
        var (reached, count, peopleChanged) = (ImmutableArray<MilestoneDefinition>.Empty, 0, false);
        if (fold)
        {
            (next, reached, count, peopleChanged) = await FoldAsync(next, horizon, now, cancellationToken);
        }
        else if (active && surveyChanged)
        {
            (next, reached) = Model.Initiatives.Evaluate(next, now);
        }

        var progressed = count > 0 || peopleChanged || surveyChanged;
        if (!progressed && next.SurveyPublicationsSeen == State.SurveyPublicationsSeen)
        {
            return 0;
        }

        // A publication that changes no figure is only remembered as seen (no event); a changed figure of an active initiative is progress.
        var events = active && progressed ? ProgressEvents(next, reached, now).Select(e => new OutgoingEvent(Id, e)).ToList() : [];
        await WriteStateAsync(progressed ? next : State with { SurveyPublicationsSeen = next.SurveyPublicationsSeen }, events);
        return count;
    }

    /// <summary>
    /// Reads the published scores the survey goals of <paramref name="state"/> need (its scope and dimensions) and how many
    /// assessments are known; returns the rule that gives a state its survey readings from them (<see cref="Model.Initiatives.ReadSurvey"/>).
    /// </summary>
    private async Task<Func<InitiativeState, InitiativeState>> SurveyReaderAsync(InitiativeState state, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        long publications;
        await using (var command = connection.Command(null, "SELECT count(*) FROM published_assessments"))
        {
            publications = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        }

        var dimensions = state.Goals.Where(g => g.Kind == GoalKind.SurveyScore).Select(g => g.DimensionId).Distinct(StringComparer.Ordinal).ToList();
        var (units, published) = dimensions.Count == 0 ? ([], [])
            : await LocalCopies.PublishedScoresAsync(connection, state.Scope, dimensions, cancellationToken);
        return s => Model.Initiatives.ReadSurvey(s, published, units, publications);
    }

    /// <summary>Folds the observations logged from the state's checkpoint up to <paramref name="horizon"/> (no write).</summary>
    private async Task<(InitiativeState Next, ImmutableArray<MilestoneDefinition> Reached, int Count, bool PeopleChanged)> FoldAsync(InitiativeState state,
        ulong horizon, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var (units, people) = await LocalCopies.ScopeAsync(connection, state.Scope, cancellationToken);
        var observations = new List<FoldedObservation>();
        await using (var command = connection.Command(null, """
            SELECT observation_id::text, employee_id, behaviour_id, polarity, observed_at FROM observations
            WHERE xid >= $1::text::xid8 AND xid < $2::text::xid8 AND behaviour_id = ANY($3)
              AND (initiative_id = $4 OR (initiative_id = '' AND org_unit_id = ANY($5)))
            """, state.FoldedBelowXid.ToString(CultureInfo.InvariantCulture), horizon.ToString(CultureInfo.InvariantCulture),
            Sql.TextArray(state.TargetBehaviours), Id, Sql.TextArray(units)))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                observations.Add(new FoldedObservation(reader.GetString(0), reader.GetString(1), reader.GetString(2), (Polarity)reader.GetInt32(3),
                    reader.GetFieldValue<DateTimeOffset>(4)));
            }
        }

        var (next, reached) = Model.Initiatives.Fold(state, observations, people, now);
        return (next with { FoldedBelowXid = horizon }, reached, observations.Count, people != state.PeopleInScope);
    }

    public Task<InitiativeState> GetAsync() => Task.FromResult(State);

    /// <summary>Milestone dates: a missed one puts the initiative at risk (and a reached one may be found).</summary>
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        var cancellationToken = CancellationToken.None;
        if (State.Status != InitiativeStatus.Active)
        {
            if (await this.GetReminder(reminderName) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }

            return;
        }

        var now = time.GetUtcNow();
        var (next, reached) = Model.Initiatives.Evaluate(State, now);
        if (reached.Length > 0 || next.AtRisk != State.AtRisk)
        {
            await WriteStateAsync(next, ProgressEvents(next, reached, now).Select(e => new OutgoingEvent(Id, e)).ToList(), cancellationToken: cancellationToken);
        }
    }

    private static List<IMessage> ProgressEvents(InitiativeState state, IEnumerable<MilestoneDefinition> reached, DateTimeOffset now)
    {
        var events = new List<IMessage> { Model.Initiatives.Progressed(state, now) };
        events.AddRange(reached.Select(m => Model.Initiatives.MilestoneEvent(state, m, now)));
        return events;
    }

    private (InitiativeState, List<IMessage>) Transition(InitiativeState state, InitiativeState next, Command command) =>
        (next, next.Status == state.Status ? [] : [new InitiativeStatusChanged
        {
            InitiativeId = Id,
            Previous = state.Status,
            Status = next.Status,
            ChangedBy = command.Caller.Subject,
            ChangedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
        }]);

    private async Task<InitiativeState> ApplyAsync(Command command, string operation, Func<InitiativeState, (InitiativeState Next, List<IMessage> Events)> change)
    {
        if (!State.Exists)
        {
            throw new RpcException(new Status(StatusCode.NotFound, "No such initiative."));
        }

        if (State.AppliedKeys.TryGetValue(command.IdempotencyKey, out var applied) && string.Equals(applied, operation, StringComparison.Ordinal))
        {
            return State;
        }

        var (next, events) = change(State);
        if (events.Count == 0 && next == State)
        {
            return State;
        }

        await AuditedWriteAsync(next with { AppliedKeys = next.AppliedKeys.SetItem(command.IdempotencyKey, operation) }, events, command, time.GetUtcNow());
        return State;
    }

    /// <summary>Writes the state with its events (and <paramref name="alongside"/>) in one transaction, if the stored version is still the one read.</summary>
    private async Task WriteStateAsync(InitiativeState next, IReadOnlyCollection<OutgoingEvent> events, StateWriteStatement? alongside = null,
        CancellationToken cancellationToken = default)
    {
        _version = await store.WriteAsync(Id, next, _version, events, alongside, cancellationToken);
        State = next;
    }

    /// <summary>Writes the state and its events with the change's audit entry (who, the initiative before and after) in one transaction.</summary>
    private Task AuditedWriteAsync(InitiativeState next, IEnumerable<IMessage> events, Command command, DateTimeOffset now)
    {
        var before = State.Exists ? State.ToAuditJson(now) : null;
        var after = next.ToAuditJson(now);
        return WriteStateAsync(next, events.Select(e => new OutgoingEvent(Id, e)).ToList(),
            (connection, transaction, cancellationToken) => AuditLog.AppendAsync(connection, transaction, "initiative", Id, command.Caller.Subject, before, after, cancellationToken));
    }

    /// <summary>
    /// Every transaction below the current snapshot's xmin has finished: observations below it can no longer appear. With it,
    /// how many assessments Baselines has published (rows are only added: a larger count means one to read).
    /// </summary>
    private async Task<(ulong Horizon, long Publications)> HorizonAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(null, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text, (SELECT count(*) FROM published_assessments)");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (ulong.Parse(reader.GetString(0), CultureInfo.InvariantCulture), reader.GetInt64(1));
    }
}
