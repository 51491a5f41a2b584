using Google.Protobuf;
using Grpc.Core;
using Transformation.Directory.V1;
using Transformation.GrpcHosting;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>
/// The service with a known dataset, started once for the class on a database and virtual host of their own; the
/// dataset lies in a past period of its own (March 2025):
/// <list type="bullet">
/// <item>unit-a (5 people, under dept): a1 30 points in 3 rewards, a2 25, a3 10, a4 a call-out only, a5 nothing;</item>
/// <item>unit-b (5 people, under dept): b1 10;</item>
/// <item>unit-c (3 people, fewer than the minimum group of 5): c1 25, z1 10 (whose data one test erases).</item>
/// </list>
/// Recognised: 6 of 13. Points per person sorted: seven 0s, 10, 10, 10, 25, 25, 30 (total 110), so
/// Gini = 2·(8·10 + 9·10 + 10·10 + 11·25 + 12·25 + 13·30) / (13·110) − 14/13 = 247/143 − 154/143 = 93/143.
/// </summary>
public sealed class RecognitionDataset(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    public const string March = "2025-03";
    private static readonly DateTimeOffset InMarch = new(2025, 3, 10, 12, 0, 0, TimeSpan.Zero);
    private readonly PostgresDatabase _database = new(postgres);
    private readonly RabbitMqVirtualHost _vhost = new(rabbitMq);

    public TestIdentity Identity { get; } = new();

    public IncentivesHost Host { get; private set; } = null!;

    public string Database => _database.ConnectionString;

    public Uri AmqpUri => _vhost.AmqpUri;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _database.InitializeAsync();
        await _vhost.InitializeAsync();
        Host = await IncentivesHost.StartAsync(_database.ConnectionString, _vhost.AmqpUri, Identity, Ct);
        var hr = Host.Token("hr-1", Roles.Hr);
        await Host.DefineBehaviourAsync("helps", "Helps", Polarity.Desired, hr);
        await Host.DefineBehaviourAsync("belittles", "Belittles", Polarity.Unacceptable, hr);
        await Host.SetRulesAsync(new IncentiveRules
        {
            Period = PeriodKind.Month,
            SourcePoints =
            {
                new SourcePoints { Source = ObservationSource.Manager, Points = 10 },
                new SourcePoints { Source = ObservationSource.CustomerFeedback, Points = 25 },
                new SourcePoints { Source = ObservationSource.Peer, Points = 5 },
            },
            PeerAllowance = 100,
            ObservationsPublic = true,
        }, hr);

        var events = new List<(IMessage, string)>
        {
            (new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "dept", Name = "Department", Version = 1 } }, Guid.NewGuid().ToString()),
            (new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "unit-a", ParentId = "dept", Version = 1 } }, Guid.NewGuid().ToString()),
            (new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "unit-b", ParentId = "dept", Version = 1 } }, Guid.NewGuid().ToString()),
            (new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "unit-c", Version = 1 } }, Guid.NewGuid().ToString()),
        };
        var people = new[] { "a1", "a2", "a3", "a4", "a5", "b1", "b2", "b3", "b4", "b5", "c1", "c2", "z1" };
        events.AddRange(people.Select(id => ((IMessage)new EmployeeJoined
        {
            Employee = new EmployeeSnapshot
            {
                EmployeeId = id, DisplayName = $"Person {id.ToUpperInvariant()}", OrgUnitId = id[0] == 'z' ? "unit-c" : $"unit-{id[0]}", ManagerId = "boss",
                Active = true, Version = 1, Roles = { Role.Employee },
            },
        }, Guid.NewGuid().ToString())));

        await Host.PublishAsync(events, Ct);
        await Host.WaitUntilAsync("SELECT count(*) FROM employees", people.Length, Ct);
        await Host.WaitUntilAsync("SELECT count(*) FROM org_units", 4, Ct);

        var observations = new[]
        {
            Seen("a1", ObservationSource.Manager, "unit-a", "m-1"), Seen("a1", ObservationSource.Manager, "unit-a", "m-2"),
            Seen("a1", ObservationSource.Manager, "unit-a", "m-3"), Seen("a2", ObservationSource.CustomerFeedback, "unit-a", ""),
            Seen("a3", ObservationSource.Manager, "unit-a", "m-1"), Seen("b1", ObservationSource.Manager, "unit-b", "m-1"),
            Seen("c1", ObservationSource.CustomerFeedback, "unit-c", ""), Seen("z1", ObservationSource.Manager, "unit-c", "m-1"),
            IncentivesHost.Observed("a4", "belittles", ObservationSource.Manager, observer: "m-1", unit: "unit-a", polarity: Polarity.Unacceptable, at: InMarch,
                id: "march-a4-call-out"),
        };
        await Host.PublishAsync(observations.Select(o => ((IMessage)o, Guid.NewGuid().ToString())), Ct);
        await Host.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE period = '2025-03'", observations.Length, Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await _vhost.DisposeAsync();
        await _database.DisposeAsync();
        Identity.Dispose();
    }

    private static BehaviourObserved Seen(string employee, ObservationSource source, string unit, string observer) =>
        IncentivesHost.Observed(employee, "helps", source, observer: observer, unit: unit, at: InMarch, id: $"march-{employee}-{source}-{observer}");
}

/// <summary>GetRecognitionEquity and GetLeaderboard on the known dataset of <see cref="RecognitionDataset"/>.</summary>
public sealed class RecognitionAnalyticsTests(RecognitionDataset dataset) : IClassFixture<RecognitionDataset>
{
    private const string March = RecognitionDataset.March;
    private readonly IncentivesHost _host = dataset.Host;
    private readonly string _hr = dataset.Host.Token("hr-1", Roles.Hr);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EquityReportsEachUnitOfAtLeastTheMinimumGroupAndTheGiniOverEveryone()
    {
        var equity = await _host.CallAsync<GetRecognitionEquityRequest, GetRecognitionEquityResponse>("GetRecognitionEquity",
            new GetRecognitionEquityRequest { Period = March }, _host.Token("x-1", Roles.Executive));

        equity.Period.ShouldBe(March);
        equity.Units.Count.ShouldBe(2);
        foreach (var unit in equity.Units)
        {
            unit.Sources.Clear(); // Checked in the next test.
        }

        equity.Units[0].ShouldBe(new UnitRecognition
        {
            OrgUnitId = "unit-a", Employees = 5, RecognisedEmployees = 3, Points = 65, RecognisedShare = 0.6, PointsPerEmployee = 13,
        });
        equity.Units[1].ShouldBe(new UnitRecognition
        {
            OrgUnitId = "unit-b", Employees = 5, RecognisedEmployees = 1, Points = 10, RecognisedShare = 0.2, PointsPerEmployee = 2,
        });
        equity.RecognisedShare.ShouldBe(6 / 13.0, tolerance: 1e-9);
        equity.PointsGini.ShouldBe(93 / 143.0, tolerance: 1e-9);
    }

    [Fact]
    public async Task EquitySplitsGrantedPointsAndRewardsBySourceOverEveryoneAndPerReportedUnit()
    {
        var equity = await _host.CallAsync<GetRecognitionEquityRequest, GetRecognitionEquityResponse>("GetRecognitionEquity",
            new GetRecognitionEquityRequest { Period = March }, _hr);

        // Everyone (unit-c included): managers 60 points in 6 rewards (a1 ×3, a3, b1, z1), customers 50 in 2 (a2, c1).
        Shares(equity.Sources).ShouldBe([
            (ObservationSource.Manager, 60, 6, R(60 / 110.0), 0.75), (ObservationSource.Peer, 0, 0, 0, 0), (ObservationSource.SystemIntegration, 0, 0, 0, 0),
            (ObservationSource.CustomerFeedback, 50, 2, R(50 / 110.0), 0.25), (ObservationSource.PartnerFeedback, 0, 0, 0, 0)]);
        var unitA = equity.Units.Single(u => u.OrgUnitId == "unit-a");
        Shares(unitA.Sources).Where(s => s.Points > 0).ShouldBe([(ObservationSource.Manager, 40, 4, R(40 / 65.0), 0.8), (ObservationSource.CustomerFeedback, 25, 1, R(25 / 65.0), 0.2)]);
        Shares(equity.Units.Single(u => u.OrgUnitId == "unit-b").Sources).Where(s => s.Points > 0).ShouldBe([(ObservationSource.Manager, 10, 1, 1.0, 1.0)]);
        equity.Units.ShouldNotContain(u => u.OrgUnitId == "unit-c"); // 3 people: no split of its own either.
    }

    private static double R(double share) => Math.Round(share, 9);

    private static List<(ObservationSource Source, int Points, int Rewards, double PointsShare, double RewardsShare)> Shares(IEnumerable<SourceShare> shares) =>
        [.. shares.Select(s => (s.Source, s.Points, s.Rewards, R(s.PointsShare), R(s.RewardsShare)))];

    [Fact]
    public async Task APeriodWithoutRecognitionHasNobodyRecognisedAndAGiniOfZero()
    {
        var equity = await _host.CallAsync<GetRecognitionEquityRequest, GetRecognitionEquityResponse>("GetRecognitionEquity",
            new GetRecognitionEquityRequest { Period = "2025-01" }, _hr);

        equity.Units.Select(u => (u.OrgUnitId, u.Employees, u.RecognisedEmployees)).ShouldBe([("unit-a", 5, 0), ("unit-b", 5, 0)]);
        equity.RecognisedShare.ShouldBe(0);
        equity.PointsGini.ShouldBe(0);

        var invalid = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<GetRecognitionEquityRequest, GetRecognitionEquityResponse>(
            "GetRecognitionEquity", new GetRecognitionEquityRequest { Period = "March" }, _hr));
        invalid.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field.ShouldBe("period");
    }

    [Fact]
    public async Task TheLeaderboardRanksPublicPointsWithDisplayNamesPerUnitAndItsSubUnits()
    {
        var top = await Leaderboard(new GetLeaderboardRequest { Period = March, Limit = 3 });
        top.Entries.Select(e => (e.EmployeeId, e.DisplayName, e.Points, e.Rewards))
            .ShouldBe([("a1", "Person A1", 30, 3), ("a2", "Person A2", 25, 1), ("c1", "Person C1", 25, 1)]);

        var department = await Leaderboard(new GetLeaderboardRequest { Period = March, OrgUnitId = "dept" });
        department.Entries.Select(e => e.EmployeeId).ShouldBe(["a1", "a2", "a3", "b1"]);
        (await Leaderboard(new GetLeaderboardRequest { Period = March, OrgUnitId = "unit-b" })).Entries.Select(e => e.EmployeeId).ShouldBe(["b1"]);
    }

    [Fact]
    public async Task TheLeaderboardLeavesOutPrivateRecognitionAndErasedPeople()
    {
        await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition", new GiveRecognitionRequest
        {
            IdempotencyKey = "public", RecipientIds = { "b3" }, BehaviourId = "helps", Message = "In the open", Public = true,
        }, _host.Token("b2", Roles.Employee));
        await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition", new GiveRecognitionRequest
        {
            IdempotencyKey = "private", RecipientIds = { "b4", "b5" }, BehaviourId = "helps", Message = "Between us", Public = false,
        }, _host.Token("b2", Roles.Employee));

        var now = await Leaderboard(new GetLeaderboardRequest());
        now.Entries.Select(e => (e.EmployeeId, e.Points)).ShouldBe([("b3", 5)]);

        var march = await Leaderboard(new GetLeaderboardRequest { Period = March });
        march.Entries.Select(e => e.EmployeeId).ShouldBe(["a1", "a2", "c1", "a3", "b1", "z1"]);
        await _host.PublishAsync(new EmployeeErased { EmployeeId = "z1", Version = 2 }, Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM employees WHERE erased AND employee_id = 'z1' AND display_name = ''", 1, Ct);

        (await Leaderboard(new GetLeaderboardRequest { Period = March })).Entries.Select(e => e.EmployeeId).ShouldBe(["a1", "a2", "c1", "a3", "b1"]);
        // The erased still count in the aggregates (their ids stay): the equity figures do not change.
        var equity = await _host.CallAsync<GetRecognitionEquityRequest, GetRecognitionEquityResponse>("GetRecognitionEquity",
            new GetRecognitionEquityRequest { Period = March }, _hr);
        equity.RecognisedShare.ShouldBe(6 / 13.0, tolerance: 1e-9);
        equity.PointsGini.ShouldBe(93 / 143.0, tolerance: 1e-9);
    }

    [Fact]
    public async Task ADeploymentThatHasNotSwitchedLeaderboardsOnAnswersFailedPrecondition()
    {
        await using var off = await IncentivesHost.StartAsync(dataset.Database, dataset.AmqpUri, dataset.Identity, Ct,
            new Dictionary<string, string?>(StringComparer.Ordinal) { ["Incentives:LeaderboardEnabled"] = "false" });

        var refused = await Should.ThrowAsync<RpcException>(() => off.CallAsync<GetLeaderboardRequest, GetLeaderboardResponse>("GetLeaderboard",
            new GetLeaderboardRequest { Period = March }, _hr));

        refused.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        refused.Status.Detail.ShouldContain("Incentives:LeaderboardEnabled");
    }

    [Fact]
    public async Task TheTeamLeaderboardRanksUnitsAndLeavesOutThoseUnderTheMinimumGroup()
    {
        var teams = await Leaderboard(new GetLeaderboardRequest { Period = March, Mode = LeaderboardMode.Teams });

        teams.Entries.ShouldBeEmpty();
        teams.Teams.Select(t => (t.OrgUnitId, t.Members, t.Points, t.Rewards)).ShouldBe([("unit-a", 5, 65, 5), ("unit-b", 5, 10, 1)]);
        teams.SuppressedTeams.ShouldBe(1); // unit-c: 3 people (2 once z1 is erased), fewer than 5.
        teams.MinimumGroupSize.ShouldBe(5);
        var top = await Leaderboard(new GetLeaderboardRequest { Period = March, Mode = LeaderboardMode.Teams, Limit = 1, OrgUnitId = "dept" });
        top.Teams.Single().OrgUnitId.ShouldBe("unit-a");
        top.SuppressedTeams.ShouldBe(0);
        var invalid = await Should.ThrowAsync<RpcException>(() => Leaderboard(new GetLeaderboardRequest { Period = March, Mode = (LeaderboardMode)7 }));
        invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field.ShouldBe("mode");
    }

    private Task<GetLeaderboardResponse> Leaderboard(GetLeaderboardRequest request) =>
        _host.CallAsync<GetLeaderboardRequest, GetLeaderboardResponse>("GetLeaderboard", request, _hr);
}
