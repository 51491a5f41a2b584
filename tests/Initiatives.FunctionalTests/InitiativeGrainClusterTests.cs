using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Transformation.Initiatives.Api.Grains;
using Transformation.Initiatives.Api.Infrastructure;
using Transformation.Initiatives.Api.Model;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Initiatives.FunctionalTests;

/// <summary>
/// The initiative grain in a two-silo cluster of Orleans' test host (<see cref="InitiativesCluster"/>), its state, outbox and
/// audit rows in PostgreSQL, called through both silos' grain factories.
/// </summary>
public sealed class InitiativeGrainClusterTests(PostgresDatabase postgres) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private static readonly Caller Manager = new("cm-1", new HashSet<string>(StringComparer.Ordinal) { Roles.ChangeManager, Roles.Employee });
    private static readonly Caller Sponsor = new("exec-1", new HashSet<string>(StringComparer.Ordinal) { Roles.Executive, Roles.Employee });
    private InitiativesCluster _cluster = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _cluster = await InitiativesCluster.StartAsync(postgres.ConnectionString);

    public ValueTask DisposeAsync() => _cluster.DisposeAsync();

    /// <summary>The initiative's grain as each silo's grain factory reaches it.</summary>
    private IInitiativeGrain[] Grains(string id) => [.. _cluster.Cluster.GetActiveSilos().Select(silo => InitiativesCluster.Factory(silo).GetGrain<IInitiativeGrain>(id))];

    private static InitiativeDefinition Definition(string name = "Customer first") => InitiativeDefinition.From(new InitiativeDraft
    {
        Name = name,
        Purpose = "Put the customer at the centre",
        SponsorId = "exec-1",
        ScopeOrgUnitIds = { "sales" },
        TargetBehaviourIds = { "helps-customers" },
        Goals = { new Goal { GoalId = "survey", Kind = GoalKind.SurveyScore, Target = 4, DimensionId = "customer-centricity" } },
    });

    private static Task<InitiativeState> ProposeAsync(IInitiativeGrain grain, string id) =>
        grain.ProposeAsync(new Command(Manager, id + "-proposal"), Definition(), Manager.Subject);

    private Task<long> ScalarAsync(string sql, string id) => TestSql.ScalarAsync(postgres.ConnectionString, sql, Ct, id);

    private Task<long> VersionAsync(string id) => ScalarAsync("SELECT version FROM actor_state WHERE actor_type = 'initiative' AND actor_id = @p", id);

    /// <summary>Writes from both silos at once, alternating; each write is an edit under its own idempotency key.</summary>
    private Task<InitiativeState[]> WriteFromBothSilosAsync(string id, int writes, string prefix)
    {
        var grains = Grains(id);
        return Task.WhenAll(Enumerable.Range(0, writes).Select(i =>
            grains[i % grains.Length].UpdateAsync(new Command(Manager, $"{prefix}-{i}"), Definition($"Customer first {prefix}-{i}"), $"{prefix}-{i}")));
    }

    [Fact]
    public async Task AnInitiativeHasOneActivationAcrossTheSilosUnderConcurrentCallsFromBoth()
    {
        const int CallsPerSilo = 40;
        var grains = Grains("one-activation");
        grains.Length.ShouldBe(2);

        // The first calls race from both silos: each silo's factory asks the directory, and the directory keeps one activation.
        var states = await Task.WhenAll(grains.SelectMany(grain => Enumerable.Range(0, CallsPerSilo).Select(i =>
            i % 2 == 0 ? ProposeAsync(grain, "one-activation") : grain.GetAsync())));

        (await _cluster.ActivationsAsync(grains[0])).ShouldBe(1);
        // One proposal was stored, once: every call met the same activation and the same state.
        (await VersionAsync("one-activation")).ShouldBe(1);
        states.Where((_, i) => i % 2 == 0).ShouldAllBe(state => state.Exists && state.Name == "Customer first");
        (await ScalarAsync("SELECT count(*) FROM audit_log WHERE entity_id = @p", "one-activation")).ShouldBe(1);
    }

    [Fact]
    public async Task ManyConcurrentWritesFromBothSilosAreAllApplied()
    {
        const int Writes = 60;
        await ProposeAsync(Grains("concurrent")[0], "concurrent");

        await WriteFromBothSilosAsync("concurrent", Writes, "score");

        // Every write was applied once, in its own version, with its own audit row and event: none lost, none overwritten.
        foreach (var grain in Grains("concurrent"))
        {
            (await grain.GetAsync()).AppliedKeys.Count.ShouldBe(Writes);
        }

        (await VersionAsync("concurrent")).ShouldBe(1 + Writes);
        (await ScalarAsync("SELECT count(*) FROM audit_log WHERE entity_id = @p", "concurrent")).ShouldBe(1 + Writes);
        (await ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = @p", "concurrent")).ShouldBe(1 + Writes);
        (await _cluster.ActivationsAsync(Grains("concurrent")[0])).ShouldBe(1);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WhenTheSiloHoldingAnInitiativeGoesTheOtherAnswersWithItsStateIntact(bool kill)
    {
        const int Writes = 20;
        var id = kill ? "killed-host" : "stopped-host";
        await ProposeAsync(Grains(id)[0], id);
        await WriteFromBothSilosAsync(id, Writes, "before");
        var host = await _cluster.HostOfAsync(Grains(id)[0]);

        if (kill)
        {
            // No goodbye: the survivor learns of the death through Orleans' own probes and membership.
            await _cluster.Cluster.KillSiloAsync(host, Ct);
        }
        else
        {
            await _cluster.Cluster.StopSiloAsync(host, Ct);
        }

        await _cluster.Cluster.WaitForLivenessToStabilizeAsync(didKill: kill);
        var survivor = _cluster.Cluster.GetActiveSilos().Single();
        survivor.SiloAddress.ShouldNotBe(host.SiloAddress);

        // The grain activates on the survivor from what was stored, and takes writes on top of it.
        var grain = InitiativesCluster.Factory(survivor).GetGrain<IInitiativeGrain>(id);
        var state = await grain.GetAsync();
        state.Name.ShouldStartWith("Customer first before-");
        state.AppliedKeys.Count.ShouldBe(Writes);
        (await grain.UpdateAsync(new Command(Manager, "after"), Definition("Customer first after"), "after")).AppliedKeys.Count.ShouldBe(Writes + 1);
        (await VersionAsync(id)).ShouldBe(1 + Writes + 1);
        (await _cluster.HostOfAsync(grain)).SiloAddress.ShouldBe(survivor.SiloAddress);
    }

    [Fact]
    public async Task AWriteFromASecondWriterAgainstAStaleVersionIsRefusedAndTheNextCallReadsTheStoredState()
    {
        var grains = Grains("stale");
        await ProposeAsync(grains[0], "stale");
        var host = await _cluster.HostOfAsync(grains[0]);
        var other = _cluster.Cluster.GetActiveSilos().Single(silo => !silo.SiloAddress.Equals(host.SiloAddress));

        // A second writer (the other silo's store, as a second activation during a membership change would) stores version 2
        // behind the activation's back.
        var store = other.ServiceProvider.GetRequiredService<InitiativeStore>();
        var (stored, version) = await store.ReadAsync("stale", Ct);
        await store.WriteAsync("stale", stored with { Name = "Renamed elsewhere" }, version, [], alongside: null, Ct);

        // The activation's write is refused, whichever silo sends it, and nothing of it is stored.
        var fromOther = InitiativesCluster.Factory(other).GetGrain<IInitiativeGrain>("stale");
        await Should.ThrowAsync<InconsistentStateException>(() => fromOther.SponsorAsync(new Command(Sponsor, "stale-sponsor")));
        (await VersionAsync("stale")).ShouldBe(2);
        (await ScalarAsync("SELECT count(*) FROM audit_log WHERE entity_id = @p", "stale")).ShouldBe(1);
        (await ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE aggregate_id = @p", "stale")).ShouldBe(1);

        // The refused activation is gone: the next call reads the other writer's state, and the retried write applies on top of it.
        var retried = await fromOther.SponsorAsync(new Command(Sponsor, "stale-sponsor"));
        retried.Name.ShouldBe("Renamed elsewhere");
        retried.Status.ShouldBe(InitiativeStatus.Sponsored);
        (await VersionAsync("stale")).ShouldBe(3);
    }

    [Fact]
    public async Task ARefusalCrossesTheGrainCallFromEitherSiloWithItsStatusAndDetails()
    {
        var grains = Grains("refused");
        await ProposeAsync(grains[0], "refused");

        // One silo holds the activation: for the other, the refusal crosses from silo to silo as well.
        foreach (var (grain, i) in grains.Select((grain, i) => (grain, i)))
        {
            var key = $"edit-{i}";
            await grain.UpdateAsync(new Command(Manager, key), Definition("Customers first"), "first edit");
            var reused = await Should.ThrowAsync<RpcException>(() => grain.UpdateAsync(new Command(Manager, key), Definition("Another name"), "second edit"));
            reused.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
            reused.Status.Detail.ShouldBe("This idempotency key was used for a different edit.");

            var stranger = new Caller("cm-2", new HashSet<string>(StringComparer.Ordinal) { Roles.ChangeManager });
            var denied = await Should.ThrowAsync<RpcException>(() => grain.CompleteAsync(new Command(stranger, "not-mine")));
            denied.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        }

        (await VersionAsync("refused")).ShouldBe(1 + grains.Length);
    }
}
