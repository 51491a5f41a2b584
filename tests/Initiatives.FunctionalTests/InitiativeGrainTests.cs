using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Transformation.Initiatives.Api.Grains;
using Transformation.Initiatives.Api.Model;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Initiatives.FunctionalTests;

/// <summary>The initiative grain in its real host (its state, outbox and audit rows in PostgreSQL), called through the grain factory.</summary>
public sealed class InitiativeGrainTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>, IAsyncLifetime
{
    private static readonly Caller Manager = new("cm-1", new HashSet<string>(StringComparer.Ordinal) { Roles.ChangeManager, Roles.Employee });
    private static readonly Caller Sponsor = new("exec-1", new HashSet<string>(StringComparer.Ordinal) { Roles.Executive, Roles.Employee });
    private readonly TestIdentity _identity = new();
    private InitiativesHost _host = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _host = await InitiativesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, _identity, Ct);

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _identity.Dispose();
    }

    private IInitiativeGrain Grain(string id) => _host.Services.GetRequiredService<IGrainFactory>().GetGrain<IInitiativeGrain>(id);

    private static InitiativeDefinition Definition(string name = "Customer first") => InitiativeDefinition.From(new InitiativeDraft
    {
        Name = name,
        Purpose = "Put the customer at the centre",
        SponsorId = "exec-1",
        ScopeOrgUnitIds = { "sales" },
        TargetBehaviourIds = { "helps-customers" },
        Goals = { new Goal { GoalId = "survey", Kind = GoalKind.SurveyScore, Target = 4, DimensionId = "customer-centricity" } },
    });

    private async Task<IInitiativeGrain> ProposedAsync(string id)
    {
        var grain = Grain(id);
        await grain.ProposeAsync(new Command(Manager, id + "-proposal"), Definition(), Manager.Subject);
        return grain;
    }

    private Task<long> VersionAsync(string id) =>
        _host.ScalarAsync("SELECT version FROM actor_state WHERE actor_type = 'initiative' AND actor_id = @p", Ct, id);

    [Fact]
    public async Task ManyConcurrentWritesToOneInitiativeAreAllApplied()
    {
        const int Writes = 50;
        var grain = await ProposedAsync("concurrent");

        await Task.WhenAll(Enumerable.Range(0, Writes).Select(i => grain.UpdateAsync(new Command(Manager, $"edit-{i}"), Definition($"Customer first {i}"), $"edit-{i}")));

        // Every write was applied once, in its own version, with its own audit row and event: none lost, none overwritten.
        var state = await grain.GetAsync();
        state.AppliedKeys.Count.ShouldBe(Writes);
        (await VersionAsync("concurrent")).ShouldBe(1 + Writes);
        (await _host.ScalarAsync("SELECT count(*) FROM audit_log WHERE entity_id = @p", Ct, "concurrent")).ShouldBe(1 + Writes);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = @p", Ct, "concurrent")).ShouldBe(1 + Writes);
    }

    [Fact]
    public async Task AWriteAgainstAStaleVersionIsRefusedAndTheNextCallReadsTheStoredState()
    {
        var grain = await ProposedAsync("stale");
        (await grain.GetAsync()).Name.ShouldBe("Customer first");

        // A second writer (another activation, say, during a membership change) stores version 2 behind this activation's back.
        await _host.ScalarAsync("""
            UPDATE actor_state SET state = jsonb_set(state, '{name}', '"Renamed elsewhere"'), version = version + 1
            WHERE actor_type = 'initiative' AND actor_id = @p
            """, Ct, "stale");

        await Should.ThrowAsync<InconsistentStateException>(() => grain.SponsorAsync(new Command(Sponsor, "stale-sponsor")));
        (await VersionAsync("stale")).ShouldBe(2);
        (await _host.ScalarAsync("SELECT count(*) FROM audit_log WHERE entity_id = @p", Ct, "stale")).ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = @p", Ct, "stale")).ShouldBe(1);

        // The refused activation is gone: the next call reads the other writer's state, and the retried write applies on top of it.
        var retried = await grain.SponsorAsync(new Command(Sponsor, "stale-sponsor"));
        retried.Name.ShouldBe("Renamed elsewhere");
        retried.Status.ShouldBe(InitiativeStatus.Sponsored);
        (await VersionAsync("stale")).ShouldBe(3);
    }

    [Fact]
    public async Task ARefusalCrossesTheGrainCallWithItsStatusAndDetails()
    {
        var grain = await ProposedAsync("refused");

        await grain.UpdateAsync(new Command(Manager, "edit"), Definition("Customers first"), "first edit");
        var reused = await Should.ThrowAsync<RpcException>(() => grain.UpdateAsync(new Command(Manager, "edit"), Definition("Another name"), "second edit"));
        reused.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        reused.Status.Detail.ShouldBe("This idempotency key was used for a different edit.");

        var stranger = new Caller("cm-2", new HashSet<string>(StringComparer.Ordinal) { Roles.ChangeManager });
        var denied = await Should.ThrowAsync<RpcException>(() => grain.CompleteAsync(new Command(stranger, "not-mine")));
        denied.StatusCode.ShouldBe(StatusCode.PermissionDenied);
    }
}
