using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Transformation.Incentives.Api.Grains;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>
/// Budgets are read without a lock and charged at the end of the transaction by an update that refuses to overspend.
/// Each test holds a concurrent, uncommitted spend on the budget row until the service's charge waits for it, then commits
/// it: the service read the budget before that spend, so its charge no longer fits and must be refused and decided again.
/// </summary>
public sealed class BudgetChargeConflictTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>, IAsyncLifetime
{
    private const string Queue = "incentives-behaviour-observed";
    private readonly TestIdentity _identity = new();
    private IncentivesHost _host = null!;
    private string _hr = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Period => Api.Model.Period.Of(PeriodKind.Month, DateTimeOffset.UtcNow);

    public async ValueTask InitializeAsync()
    {
        _host = await IncentivesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, _identity, Ct);
        _hr = _host.Token("hr-bc", Roles.Hr);
        await _host.DefineBehaviourAsync("helps", "Helps", Polarity.Desired, _hr);
        await _host.SetRulesAsync(new IncentiveRules
        {
            Period = PeriodKind.Month,
            SourcePoints =
            {
                new SourcePoints { Source = ObservationSource.SystemIntegration, Points = 10 },
                new SourcePoints { Source = ObservationSource.Peer, Points = 5 },
            },
            PeerAllowance = 100,
            ObservationsPublic = true,
        }, _hr);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _identity.Dispose();
    }

    [Fact]
    public async Task ABatchWhoseBudgetWasSpentConcurrentlyIsDecidedAgainAndNeverOverspends()
    {
        await SetBudgetAsync("unit-bc", 20);
        await using (var concurrent = await SpendUncommittedAsync("unit-bc", 10))
        {
            // Three observations of 10 points: the service reads 20 left and means to grant two, but its charge waits for
            // the concurrent spend of 10, which then commits: only one more grant fits.
            await _host.PublishAsync(Enumerable.Range(0, 3)
                .Select(i => ((Google.Protobuf.IMessage)IncentivesHost.Observed($"e-bc-{i}", "helps", ObservationSource.SystemIntegration, unit: "unit-bc"),
                    Guid.NewGuid().ToString())), Ct);
            await WaitForAChargeBlockedAsync();
            await concurrent.CommitAsync(Ct);
        }

        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE org_unit_id = 'unit-bc'", 3, Ct);
        await _host.DrainedAsync(Queue, Ct);
        (await _host.ScalarAsync("SELECT spent FROM budgets WHERE org_unit_id = 'unit-bc'", Ct)).ShouldBe(20);
        (await _host.ScalarAsync("SELECT count(*) FROM outcomes WHERE org_unit_id = 'unit-bc' AND status = 0 AND points = 10 AND budget_unit_id = 'unit-bc'", Ct))
            .ShouldBe(1);
        (await _host.ScalarAsync("SELECT count(*) FROM outcomes WHERE org_unit_id = 'unit-bc' AND decline_reason = 4 AND points = 0", Ct)).ShouldBe(2);
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-granted' AND aggregate_id LIKE 'e-bc-%'", Ct)).ShouldBe(1);

        // The ledgers agree with the database: the declined observations' reserved points were released on the retry.
        var ledgers = _host.Services.GetRequiredService<IGrainFactory>();
        var reserved = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => ledgers.GetGrain<ILedgerGrain>($"e-bc-{i}").GetStateAsync()));
        reserved.Sum(s => s.ReceivedIn(Period)).ShouldBe(10);
        reserved.Sum(s => s.LifetimeGranted).ShouldBe(10);
    }

    [Fact]
    public async Task ARecognitionWhoseBudgetWasSpentConcurrentlyIsRetriedInTheCallAndAnsweredOnce()
    {
        await _host.JoinAsync(Ct, ("e-gv", "unit-gv", ""), ("e-gr", "unit-gc", ""));
        await SetBudgetAsync("unit-gc", 10);
        var request = new GiveRecognitionRequest { IdempotencyKey = "gc-1", RecipientIds = { "e-gr" }, BehaviourId = "helps", Message = "Thanks", Public = true };
        var giver = _host.Token("e-gv", Roles.Employee);
        Task<GiveRecognitionResponse> call;
        await using (var concurrent = await SpendUncommittedAsync("unit-gc", 8))
        {
            // The call reads 10 left and charges 5, which waits for the concurrent spend of 8; that commits: 5 no longer fits.
            call = _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition", request, giver);
            await WaitForAChargeBlockedAsync();
            await concurrent.CommitAsync(Ct);
        }

        var response = await call;
        var reward = response.Rewards.Single();
        reward.Status.ShouldBe(RewardStatus.Declined);
        reward.DeclineReason.ShouldBe(DeclineReason.BudgetExhausted);
        reward.Points.ShouldBe(0);
        response.AllowanceRemaining.ShouldBe(100); // nothing granted, nothing spent
        (await _host.ScalarAsync("SELECT spent FROM budgets WHERE org_unit_id = 'unit-gc'", Ct)).ShouldBe(8);

        // The same key answers the same, with one effect: one outcome.
        (await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition", request, giver)).ShouldBe(response);
        (await _host.ScalarAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-gr'", Ct)).ShouldBe(1);

        // With room again (hr raises the budget), the next recognition is granted and charged.
        await SetBudgetAsync("unit-gc", 20);
        var next = await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition",
            new GiveRecognitionRequest { IdempotencyKey = "gc-2", RecipientIds = { "e-gr" }, BehaviourId = "helps", Message = "Again" }, giver);
        next.Rewards.Single().Status.ShouldBe(RewardStatus.Granted);
        (await _host.ScalarAsync("SELECT spent FROM budgets WHERE org_unit_id = 'unit-gc'", Ct)).ShouldBe(13);
    }

    private Task<SetBudgetResponse> SetBudgetAsync(string unit, int amount) =>
        _host.CallAsync<SetBudgetRequest, SetBudgetResponse>("SetBudget",
            new SetBudgetRequest { IdempotencyKey = $"budget-{unit}-{amount}", OrgUnitId = unit, Period = Period, Amount = amount }, _hr);

    /// <summary>A concurrent grant: spends on the budget row in a transaction left open (the row stays locked) until committed.</summary>
    private async Task<ConcurrentSpend> SpendUncommittedAsync(string unit, int points)
    {
        var spend = new ConcurrentSpend(new NpgsqlConnection(_host.Database));
        await spend.BeginAsync("UPDATE budgets SET spent = spent + @points WHERE org_unit_id = @unit AND period = @period",
            [new("points", points), new("unit", unit), new("period", Period)]);
        return spend;
    }

    /// <summary>Until a budget charge of the service waits for the row lock of the concurrent spend (fails after 30 s).</summary>
    private Task WaitForAChargeBlockedAsync() =>
        _host.WaitUntilAsync("""
            SELECT least(count(*), 1) FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE budgets SET spent = spent + $3%'
            """, 1, Ct);
}

/// <summary>A transaction of the test's own on the service's database, open until committed or disposed.</summary>
internal sealed class ConcurrentSpend(NpgsqlConnection connection) : IAsyncDisposable
{
    private NpgsqlTransaction? _transaction;

    public async Task BeginAsync(string sql, NpgsqlParameter[] parameters)
    {
        var ct = TestContext.Current.CancellationToken;
        await connection.OpenAsync(ct);
        _transaction = await connection.BeginTransactionAsync(ct);
        await using var command = new NpgsqlCommand(sql, connection, _transaction);
        command.Parameters.AddRange(parameters);
        (await command.ExecuteNonQueryAsync(ct)).ShouldBe(1);
    }

    public Task CommitAsync(CancellationToken cancellationToken) => _transaction!.CommitAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_transaction is not null)
        {
            await _transaction.DisposeAsync();
        }

        await connection.DisposeAsync();
    }
}
