using Grpc.Core;
using Transformation.GrpcHosting;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>Leaderboard opt-out (SetLeaderboardPreference) on a host, database and virtual host of its own.</summary>
public sealed class LeaderboardPreferenceTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>, IAsyncLifetime
{
    private readonly TestIdentity _identity = new();
    private IncentivesHost _host = null!;
    private string _hr = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _host = await IncentivesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, _identity, Ct);
        _hr = _host.Token("hr-1", Roles.Hr);
        await _host.DefineBehaviourAsync("helps", "Helps", Polarity.Desired, _hr);
        await _host.SetRulesAsync(new IncentiveRules
        {
            Period = PeriodKind.Month,
            SourcePoints =
            {
                new SourcePoints { Source = ObservationSource.Manager, Points = 10 },
                new SourcePoints { Source = ObservationSource.CustomerFeedback, Points = 25 },
            },
            ObservationsPublic = true,
        }, _hr);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _identity.Dispose();
    }

    [Fact]
    public async Task AnOptedOutEmployeeNeverAppearsNorCountsForTheirTeamUntilTheyOptBackIn()
    {
        // A past period: the preference holds for every period, not only those to come.
        const string April = "2025-04";
        var inApril = new DateTimeOffset(2025, 4, 10, 12, 0, 0, TimeSpan.Zero);
        await _host.JoinAsync(Ct, ("d1", "unit-d", "boss"), ("d2", "unit-d", "boss"), ("d3", "unit-d", "boss"), ("d4", "unit-d", "boss"), ("d5", "unit-d", "boss"));
        await _host.PublishAsync([
            (IncentivesHost.Observed("d1", "helps", ObservationSource.Manager, observer: "m-1", unit: "unit-d", at: inApril, id: "april-d1"), Guid.NewGuid().ToString()),
            (IncentivesHost.Observed("d2", "helps", ObservationSource.CustomerFeedback, unit: "unit-d", at: inApril, id: "april-d2"), Guid.NewGuid().ToString()),
        ], Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE period = '2025-04' AND status = 0", 2, Ct);
        (await Leaderboard(new GetLeaderboardRequest { Period = April })).Entries.Select(e => (e.EmployeeId, e.Points)).ShouldBe([("d2", 25), ("d1", 10)]);

        var d2 = _host.Token("d2", Roles.Employee);
        var optOut = new SetLeaderboardPreferenceRequest { IdempotencyKey = "out-1", OptedOut = true };
        var first = await _host.CallAsync<SetLeaderboardPreferenceRequest, SetLeaderboardPreferenceResponse>("SetLeaderboardPreference", optOut, d2);
        first.Preference.OptedOut.ShouldBeTrue();
        first.Preference.EmployeeId.ShouldBe("d2");
        (await _host.CallAsync<SetLeaderboardPreferenceRequest, SetLeaderboardPreferenceResponse>("SetLeaderboardPreference", optOut, d2)).ShouldBe(first);
        (await _host.CallAsync<GetLeaderboardPreferenceRequest, GetLeaderboardPreferenceResponse>("GetLeaderboardPreference", new GetLeaderboardPreferenceRequest(), d2))
            .Preference.ShouldBe(first.Preference);
        (await _host.CallAsync<GetLeaderboardPreferenceRequest, GetLeaderboardPreferenceResponse>("GetLeaderboardPreference", new GetLeaderboardPreferenceRequest(),
            _host.Token("d1", Roles.Employee))).Preference.OptedOut.ShouldBeFalse();

        (await Leaderboard(new GetLeaderboardRequest { Period = April })).Entries.Select(e => e.EmployeeId).ShouldBe(["d1"]);
        (await Leaderboard(new GetLeaderboardRequest { Period = April, OrgUnitId = "unit-d" })).Entries.Select(e => e.EmployeeId).ShouldBe(["d1"]);
        (await Leaderboard(new GetLeaderboardRequest { Period = April, Mode = LeaderboardMode.Teams })).Teams.Single().Points.ShouldBe(10);

        var invalid = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<SetLeaderboardPreferenceRequest, SetLeaderboardPreferenceResponse>(
            "SetLeaderboardPreference", new SetLeaderboardPreferenceRequest { OptedOut = false }, d2));
        invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field.ShouldBe("idempotency_key");
        (await Leaderboard(new GetLeaderboardRequest { Period = April })).Entries.Select(e => e.EmployeeId).ShouldBe(["d1"]);

        await _host.CallAsync<SetLeaderboardPreferenceRequest, SetLeaderboardPreferenceResponse>("SetLeaderboardPreference",
            new SetLeaderboardPreferenceRequest { IdempotencyKey = "in-1", OptedOut = false }, d2);
        (await Leaderboard(new GetLeaderboardRequest { Period = April })).Entries.Select(e => e.EmployeeId).ShouldBe(["d2", "d1"]);
        (await Leaderboard(new GetLeaderboardRequest { Period = April, Mode = LeaderboardMode.Teams })).Teams.Single().Points.ShouldBe(35);
        var trail = (await _host.CallAsync<Audit.V1.ListAuditEntriesRequest, Audit.V1.ListAuditEntriesResponse>("ListAuditEntries",
            new Audit.V1.ListAuditEntriesRequest { Entity = "leaderboard_preference", EntityId = "d2" }, _hr)).Entries;
        trail.Select(t => t.ChangedBy).ShouldBe(["d2", "d2"]);
        trail[1].Before.ShouldContain("\"optedOut\": true");
    }

    // Read as a colleague: employees see leaderboards too.
    private Task<GetLeaderboardResponse> Leaderboard(GetLeaderboardRequest request) =>
        _host.CallAsync<GetLeaderboardRequest, GetLeaderboardResponse>("GetLeaderboard", request, _host.Token("reader-1", Roles.Employee));
}
