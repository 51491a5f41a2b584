using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Transformation.Directory.V1;
using Transformation.Initiatives.V1;
using Transformation.ServerProcesses;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Inc = Transformation.Incentives.V1;

namespace Transformation.Cluster.FunctionalTests;

/// <summary>
/// Issue 21, acceptance 2: two silos of Initiatives and two of Incentives, each a process of its own, clustered through a real
/// Redis server. A grain has one activation across its service's silos; after the silos hosting the hot grains are killed
/// with SIGKILL mid-load, those grains come back on the survivors with their state, and every observation is rewarded and
/// counted in the initiative's progress exactly once.
/// </summary>
public sealed class TwoSiloClusterTests(PostgresFixture postgres, RabbitMqVirtualHost rabbitMq, RedisFixture redis) : IClassFixture<RabbitMqVirtualHost>
{
    private const string Hot = "hot-1";
    private const int PointsPerObservation = 10;
    // The hot person's ledger reaches the cap across the kill: a ledger that lost its state would grant past it.
    private const int CapPerEmployee = 150;
    private const int OthersObserved = 60;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AGrainHasOneActivationAcrossTheSilosAndAKilledSilosGrainsMoveToTheSurvivorWithNothingLostOrDoubled()
    {
        using var identity = new TestIdentity();
        using var run = RunDirectory.Create();
        var initiativesDb = await postgres.Server.CreateDatabaseAsync(TestNames.Unique("initiatives").ToLowerInvariant(), Ct);
        var incentivesDb = await postgres.Server.CreateDatabaseAsync(TestNames.Unique("incentives").ToLowerInvariant(), Ct);
        Task<ServiceProcess> Start(string project, string name, string database) =>
            ServiceProcess.StartAsync(project, name, database, rabbitMq.AmqpUri, redis.Server.ConnectionString, identity, run, Ct);
        var processes = await Task.WhenAll(
            Start("Initiatives.Api", "initiatives", initiativesDb), Start("Initiatives.Api", "initiatives", initiativesDb),
            Start("Incentives.Api", "incentives", incentivesDb), Start("Incentives.Api", "incentives", incentivesDb));
        await using var _ = new Processes(processes);
        ServiceProcess[] initiatives = [processes[0], processes[1]];
        ServiceProcess[] incentives = [processes[2], processes[3]];
        await using var initiativesCluster = await ClusterView.ConnectAsync("initiatives", redis.Server.ConnectionString, Ct);
        await using var incentivesCluster = await ClusterView.ConnectAsync("incentives", redis.Server.ConnectionString, Ct);
        (await initiativesCluster.ActiveSilosAsync()).ShouldBe([.. initiatives.Select(p => p.SiloPort).Order()], "both silos joined one cluster");
        (await incentivesCluster.ActiveSilosAsync()).ShouldBe([.. incentives.Select(p => p.SiloPort).Order()]);

        using var initiativesA = GrpcChannel.ForAddress(initiatives[0].Address);
        using var initiativesB = GrpcChannel.ForAddress(initiatives[1].Address);
        using var incentivesA = GrpcChannel.ForAddress(incentives[0].Address);
        var clients = new[] { new InitiativeService.InitiativeServiceClient(initiativesA), new InitiativeService.InitiativeServiceClient(initiativesB) };
        var manager = Bearer(identity.TokenFor("cm-1", Roles.ChangeManager));
        var initiativeId = await SetUpAsync(identity, clients[0], new Inc.IncentivesService.IncentivesServiceClient(incentivesA), manager,
            initiativesDb, incentivesDb);

        // Calls reach the initiative's grain and the hot person's ledger grain through both silos at once: one activation each.
        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => (Task)clients[i % 2].GetInitiativeAsync(new GetInitiativeRequest { InitiativeId = initiativeId }, manager, cancellationToken: Ct).ResponseAsync)
            .Concat(Enumerable.Range(0, 10).Select(i => clients[i % 2].RecordObservationAsync(Observation(initiativeId, Hot, $"hot-{i}"), manager, cancellationToken: Ct).ResponseAsync)));
        await WaitForAsync(incentivesDb, $"SELECT count(*) FROM outcomes WHERE employee_id = '{Hot}'", 10);
        var initiativeHost = (await initiativesCluster.ActivationsAsync("InitiativeGrain", initiativeId)).ShouldHaveSingleItem();
        var ledgerHost = (await incentivesCluster.ActivationsAsync("LedgerGrain", Hot)).ShouldHaveSingleItem();

        // Mid-load, the silo of each service that hosts those grains dies by SIGKILL. Calls sent to the dead Initiatives process
        // are sent again, with the same idempotency key, to the other (as the portal's retry policy does).
        var victims = new[] { initiatives.Single(p => p.SiloPort == initiativeHost), incentives.Single(p => p.SiloPort == ledgerHost) };
        var survivors = new[] { initiatives.Single(p => p.SiloPort != initiativeHost), incentives.Single(p => p.SiloPort != ledgerHost) };
        var survivorClient = clients[Array.IndexOf(initiatives, survivors[0])];
        var load = Enumerable.Range(0, OthersObserved).Select(i => (Employee: $"w-{i}", Key: $"w-{i}"))
            .Concat(Enumerable.Range(10, 10).Select(i => (Employee: Hot, Key: $"hot-{i}")))
            .OrderBy(o => o.Key.GetHashCode(StringComparison.Ordinal)).ToList();
        var acknowledged = 0;
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resent = 0;
        await Parallel.ForEachAsync(load.Select((o, i) => (o, i)), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Ct }, async (item, ct) =>
        {
            var request = Observation(initiativeId, item.o.Employee, item.o.Key);
            try
            {
                await clients[item.i % 2].RecordObservationAsync(request, manager, cancellationToken: ct).ResponseAsync;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled)
            {
                Interlocked.Increment(ref resent);
                await UntilAvailableAsync(() => survivorClient.RecordObservationAsync(request, manager, cancellationToken: ct).ResponseAsync);
            }

            if (Interlocked.Increment(ref acknowledged) == 20)
            {
                await Task.WhenAll(victims.Select(v => v.KillAsync()));
                killed.SetResult();
            }
        });
        killed.Task.IsCompleted.ShouldBeTrue();
        resent.ShouldBeGreaterThan(0, "calls reached the dead process after the kill, and were sent to the survivor");

        // Every observation: one outcome, one RewardGranted, one reward back in Initiatives, one step of progress.
        var observed = 10 + OthersObserved + 10;
        var granted = OthersObserved + CapPerEmployee / PointsPerObservation;
        try
        {
            await WaitForAsync(incentivesDb, "SELECT count(*) FROM outcomes", observed);
        }
        catch (ShouldAssertException e)
        {
            var report = new System.Text.StringBuilder();
            foreach (var (db, sql) in new[]
            {
                (initiativesDb, "SELECT count(*) FROM observations"),
                (initiativesDb, "SELECT count(*) FROM eventbus_outbox WHERE topic = 'behaviour-observed'"),
                (initiativesDb, "SELECT count(*) FROM eventbus_outbox WHERE topic = 'behaviour-observed' AND sent_at IS NULL"),
                (incentivesDb, "SELECT count(*) FROM eventbus_inbox"),
            })
            {
                report.AppendLine(sql + ": " + await TestSql.ScalarAsync(db, sql, Ct));
            }

            report.AppendLine(survivors[1].LogTail());
            report.AppendLine(survivors[0].LogTail());
            throw new InvalidOperationException(report.ToString(), e);
        }
        await WaitForAsync(incentivesDb, "SELECT count(*) FROM outcomes WHERE status = 0", granted);
        (await TestSql.ScalarAsync(incentivesDb, $"SELECT coalesce(sum(points), 0) FROM outcomes WHERE status = 0 AND employee_id = '{Hot}'", Ct))
            .ShouldBe(CapPerEmployee, "the hot ledger kept its period's points across the move");
        await WaitForAsync(incentivesDb, "SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-granted'", granted);
        await WaitForAsync(initiativesDb, "SELECT count(*) FROM rewards", granted);
        await WaitForAsync(initiativesDb, "SELECT count(*) FROM observations", observed);

        var deadline = Stopwatch.StartNew();
        Initiative initiative;
        while ((initiative = (await UntilAvailableAsync(() => survivorClient.GetInitiativeAsync(new GetInitiativeRequest { InitiativeId = initiativeId }, manager,
            cancellationToken: Ct).ResponseAsync)).Initiative).Progress.DesiredObservations < observed && deadline.Elapsed < TimeSpan.FromSeconds(90))
        {
            await Task.Delay(250, Ct);
        }

        initiative.Progress.DesiredObservations.ShouldBe(observed);
        initiative.Progress.Goals.ShouldHaveSingleItem().Value.ShouldBe(observed);
        (initiative.Status, initiative.Definition.Name).ShouldBe((InitiativeStatus.Active, "Customer first"));

        // The grains live on the survivors now, once each; the membership table no longer lists the dead silos.
        (await initiativesCluster.ActivationsAsync("InitiativeGrain", initiativeId)).ShouldBe([survivors[0].SiloPort]);
        (await incentivesCluster.ActivationsAsync("LedgerGrain", Hot)).ShouldBe([survivors[1].SiloPort]);
        (await initiativesCluster.ActiveSilosAsync()).ShouldBe([survivors[0].SiloPort]);
        (await incentivesCluster.ActiveSilosAsync()).ShouldBe([survivors[1].SiloPort]);
        TestContext.Current.TestOutputHelper?.WriteLine($"{resent} calls were sent again to the survivor.");
    }

    /// <summary>
    /// The call, again while it answers UNAVAILABLE (as a client's retry policy does): until the cluster has declared the dead
    /// silo dead, a call that needs a grain it hosted is refused as briefly unavailable. Two minutes at most.
    /// </summary>
    private static async Task<T> UntilAvailableAsync<T>(Func<Task<T>> call)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await call();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && waited.Elapsed < TimeSpan.FromMinutes(2))
            {
                await Task.Delay(250, Ct);
            }
        }
    }

    private static Metadata Bearer(string token) => new() { { "authorization", "Bearer " + token } };

    private static RecordObservationRequest Observation(string initiativeId, string employee, string key) => new()
    {
        Observation = new ObservationInput
        {
            IdempotencyKey = key, EmployeeId = employee, BehaviourId = "helps-customers", Source = ObservationSource.Manager, ObserverId = "cm-1",
            ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), Evidence = "ticket " + key, InitiativeId = initiativeId,
        },
    };

    /// <summary>The organisation, a behaviour with its rules, and an active initiative targeting it; returns the initiative's id.</summary>
    private async Task<string> SetUpAsync(TestIdentity identity, InitiativeService.InitiativeServiceClient initiatives,
        Inc.IncentivesService.IncentivesServiceClient incentives, Metadata manager, string initiativesDb, string incentivesDb)
    {
        string[] people = ["exec-1", "cm-1", Hot, .. Enumerable.Range(0, OthersObserved).Select(i => $"w-{i}")];
        await TestEvents.PublishAsync(rabbitMq.AmqpUri,
        [
            new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "sales", Name = "Sales", Version = 1 } },
            .. people.Select(id => (Google.Protobuf.IMessage)new EmployeeJoined
            {
                Employee = new EmployeeSnapshot { EmployeeId = id, OrgUnitId = "sales", Active = true, Version = 1, Roles = { Role.Employee } },
            }),
        ], Ct);
        await WaitForAsync(initiativesDb, "SELECT count(*) FROM employees", people.Length);
        await WaitForAsync(incentivesDb, "SELECT count(*) FROM employees", people.Length);

        var hr = Bearer(identity.TokenFor("hr-1", Roles.Hr));
        await incentives.DefineBehaviourAsync(new Inc.DefineBehaviourRequest
        {
            IdempotencyKey = "d1",
            BehaviourId = "helps-customers",
            Behaviour = new Inc.BehaviourDraft { Name = "Helps customers", Description = "Goes the extra mile", Polarity = Polarity.Desired },
        }, hr);
        await incentives.UpdateIncentiveRulesAsync(new Inc.UpdateIncentiveRulesRequest
        {
            IdempotencyKey = "r1",
            Rules = new Inc.IncentiveRules
            {
                Period = Inc.PeriodKind.Month,
                SourcePoints = { new Inc.SourcePoints { Source = ObservationSource.Manager, Points = PointsPerObservation } },
                CapPerEmployee = CapPerEmployee,
                ApprovalThreshold = 1000,
                AntiGaming = new Inc.AntiGamingRules(),
                ObservationsPublic = true,
            },
        }, hr);
        await WaitForAsync(initiativesDb, "SELECT count(*) FROM behaviours WHERE behaviour_id = 'helps-customers'", 1);

        var id = (await initiatives.ProposeInitiativeAsync(new ProposeInitiativeRequest
        {
            IdempotencyKey = "p1",
            Initiative = new InitiativeDraft
            {
                Name = "Customer first",
                Purpose = "The customer at the centre",
                SponsorId = "exec-1",
                ScopeOrgUnitIds = { "sales" },
                TargetBehaviourIds = { "helps-customers" },
                Goals = { new Goal { GoalId = "count", Kind = GoalKind.Count, Target = 1000 } },
            },
        }, manager)).Initiative.InitiativeId;
        await initiatives.SponsorInitiativeAsync(new SponsorInitiativeRequest { IdempotencyKey = "s1", InitiativeId = id },
            Bearer(identity.TokenFor("exec-1", Roles.Executive)));
        await initiatives.ActivateInitiativeAsync(new ActivateInitiativeRequest { IdempotencyKey = "a1", InitiativeId = id }, manager);
        return id;
    }

    /// <summary>Waits (up to two minutes: a dead silo is declared dead, its messages redelivered) until the query counts <paramref name="expected"/>.</summary>
    private static async Task WaitForAsync(string database, string sql, long expected)
    {
        var waited = Stopwatch.StartNew();
        long actual;
        while ((actual = await TestSql.ScalarAsync(database, sql, Ct)) != expected && waited.Elapsed < TimeSpan.FromMinutes(2))
        {
            await Task.Delay(250, Ct);
        }

        actual.ShouldBe(expected, sql);
    }

    private sealed class Processes(IEnumerable<ServiceProcess> processes) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await Task.WhenAll(processes.Select(p => p.DisposeAsync().AsTask()));
    }
}
