using Grpc.Core;
using Transformation.GrpcHosting;
using Transformation.Incentives.Api.Infrastructure;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>
/// Two instances of the service (two replicas) on one database and virtual host of their own, started once for the
/// class. The second holds a live-feed buffer of one reward, to show what happens to a watcher that stops reading.
/// </summary>
public sealed class TwoInstances(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    public const string LongName =
        "Takes the time to explain a customer's problem to the whole team, writes it down where everyone finds it, and follows it up until it is solved for good";

    private readonly PostgresDatabase _database = new(postgres);
    private readonly RabbitMqVirtualHost _vhost = new(rabbitMq);

    public TestIdentity Identity { get; } = new();

    public IncentivesHost One { get; private set; } = null!;

    public IncentivesHost Two { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        await _database.InitializeAsync();
        await _vhost.InitializeAsync();
        One = await IncentivesHost.StartAsync(_database.ConnectionString, _vhost.AmqpUri, Identity, ct);
        Two = await IncentivesHost.StartAsync(_database.ConnectionString, _vhost.AmqpUri, Identity, ct,
            new Dictionary<string, string?>(StringComparer.Ordinal) { ["Incentives:FeedBufferSize"] = "1" });
        var hr = One.Token("hr-1", Roles.Hr);
        foreach (var (id, name) in new[] { ("helps-customers", "Helps customers"), ("big-deal", "Closes a big deal"), ("explains", LongName) })
        {
            await One.CallAsync<DefineBehaviourRequest, DefineBehaviourResponse>("DefineBehaviour", new DefineBehaviourRequest
            {
                IdempotencyKey = $"define-{id}",
                BehaviourId = id,
                Behaviour = new BehaviourDraft { Name = name, Description = "What it looks like", Polarity = Polarity.Desired },
            }, hr);
        }

        await One.CallAsync<UpdateIncentiveRulesRequest, UpdateIncentiveRulesResponse>("UpdateIncentiveRules", new UpdateIncentiveRulesRequest
        {
            IdempotencyKey = "rules",
            Rules = new IncentiveRules
            {
                Period = PeriodKind.Month,
                SourcePoints =
                {
                    new SourcePoints { Source = ObservationSource.Manager, Points = 10 },
                    new SourcePoints { Source = ObservationSource.Peer, Points = 5 },
                },
                BehaviourPoints = { new BehaviourPoints { BehaviourId = "big-deal", Source = ObservationSource.Manager, Points = 60 } },
                ApprovalThreshold = 50,
                PeerAllowance = 100,
                ObservationsPublic = true,
            },
        }, hr);
    }

    public async ValueTask DisposeAsync()
    {
        await Two.DisposeAsync();
        await One.DisposeAsync();
        await _vhost.DisposeAsync();
        await _database.DisposeAsync();
        Identity.Dispose();
    }
}

/// <summary>
/// WatchEmployeeFeed over real gRPC with two instances of the service on one database and broker: a watch on one
/// instance sees what the other stores, through PostgreSQL NOTIFY.
/// </summary>
public sealed class LiveFeedTests(TwoInstances instances) : IClassFixture<TwoInstances>
{
    private readonly IncentivesHost _one = instances.One;
    private readonly IncentivesHost _two = instances.Two;
    private readonly string _hr = instances.One.Token("hr-1", Roles.Hr);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AWatcherSeesRewardsStoredAfterItStartedOnAnyInstanceButNoOtherEmployeesRewards()
    {
        await _one.JoinAsync(Ct, ("e-w", "unit-w", "m-w"), ("e-other", "unit-w", "m-w"), ("e-giver", "unit-w", "m-w"));
        var before = IncentivesHost.Observed("e-w", "helps-customers", ObservationSource.Manager, observer: "m-before", unit: "unit-w");
        await _one.PublishAsync(before, Ct);
        await _one.WaitUntilAsync($"SELECT count(*) FROM outcomes WHERE observation_id = '{before.ObservationId}'", 1, Ct);

        using var watch = _two.Watch("e-w", _two.Token("e-w", Roles.Employee), Ct);
        await watch.ResponseHeadersAsync; // The watch is registered: whatever commits from now on reaches it.
        await using var rewards = watch.ResponseStream.ReadAllAsync(Ct).GetAsyncEnumerator(Ct);

        var other = IncentivesHost.Observed("e-other", "helps-customers", ObservationSource.Manager, observer: "m-1", unit: "unit-w");
        var mine = IncentivesHost.Observed("e-w", "helps-customers", ObservationSource.Manager, observer: "m-2", unit: "unit-w");
        await _one.PublishAsync([(other, Guid.NewGuid().ToString()), (mine, Guid.NewGuid().ToString())], Ct);
        (await rewards.MoveNextAsync()).ShouldBeTrue();
        rewards.Current.Reward.ObservationId.ShouldBe(mine.ObservationId);
        rewards.Current.Reward.Status.ShouldBe(RewardStatus.Granted);
        rewards.Current.Reward.Points.ShouldBe(10);

        // The other employee's reward is stored by now; had it reached this watch, it would come before this recognition.
        await _one.WaitUntilAsync($"SELECT count(*) FROM outcomes WHERE observation_id = '{other.ObservationId}'", 1, Ct);
        var given = await _one.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition", new GiveRecognitionRequest
        {
            IdempotencyKey = "thanks-w", RecipientIds = { "e-w" }, BehaviourId = "helps-customers", Message = "Thank you for Tuesday", Public = false,
        }, _one.Token("e-giver", Roles.Employee));
        (await rewards.MoveNextAsync()).ShouldBeTrue();
        rewards.Current.Reward.ShouldBe(given.Rewards.Single());
        rewards.Current.Reward.Message.ShouldBe("Thank you for Tuesday");
    }

    [Fact]
    public async Task AReviewedRewardComesAgainWithItsNewStatus()
    {
        await _one.JoinAsync(Ct, ("e-rev", "unit-rev", "m-rev"), ("m-rev", "unit-rev", ""));
        using var watch = _one.Watch("e-rev", _one.Token("e-rev", Roles.Employee), Ct);
        await watch.ResponseHeadersAsync;
        await using var rewards = watch.ResponseStream.ReadAllAsync(Ct).GetAsyncEnumerator(Ct);

        await _one.PublishAsync(IncentivesHost.Observed("e-rev", "big-deal", ObservationSource.Manager, observer: "m-giver", unit: "unit-rev"), Ct);
        (await rewards.MoveNextAsync()).ShouldBeTrue();
        var pending = rewards.Current.Reward;
        pending.Status.ShouldBe(RewardStatus.PendingApproval);

        await _one.CallAsync<ReviewRewardRequest, ReviewRewardResponse>("ReviewReward",
            new ReviewRewardRequest { IdempotencyKey = "ok", RewardId = pending.RewardId, Decision = ReviewDecision.Approve, Note = "deserved" },
            _one.Token("m-rev", Roles.Employee));
        (await rewards.MoveNextAsync()).ShouldBeTrue();
        rewards.Current.Reward.RewardId.ShouldBe(pending.RewardId);
        rewards.Current.Reward.Status.ShouldBe(RewardStatus.Granted);
        rewards.Current.Reward.ReviewNote.ShouldBe("deserved");
    }

    [Fact]
    public async Task OnlyTheEmployeeTheirManagerAndHrMayWatchAFeed()
    {
        await _one.JoinAsync(Ct, ("e-own", "unit-own", "m-own"), ("e-nosy", "unit-own", "m-own"));

        using (var nosy = _one.Watch("e-own", _one.Token("e-nosy", Roles.Employee), Ct))
        {
            (await Should.ThrowAsync<RpcException>(() => nosy.ResponseStream.MoveNext(Ct))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        }

        using (var executive = _one.Watch("e-own", _one.Token("x-1", Roles.Executive), Ct))
        {
            (await Should.ThrowAsync<RpcException>(() => executive.ResponseStream.MoveNext(Ct))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        }

        foreach (var token in new[] { _one.Token("e-own", Roles.Employee), _one.Token("m-own", Roles.Employee), _hr })
        {
            using var allowed = _one.Watch("e-own", token, Ct);
            await allowed.ResponseHeadersAsync;

            // Headers and the watch still open: a refusal would have ended the call with its headers (Trailers-Only).
            Should.Throw<InvalidOperationException>(() => allowed.GetStatus());
        }

        var invalid = await Should.ThrowAsync<RpcException>(async () =>
        {
            using var empty = _one.Watch("", _hr, Ct);
            await empty.ResponseStream.MoveNext(Ct);
        });
        invalid.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        invalid.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field.ShouldBe("employee_id");
    }

    [Fact]
    public async Task AWatchEndsCleanlyWhenTheClientCancels()
    {
        await _one.JoinAsync(Ct, ("e-cancel", "unit-c", "m-c"));
        var feeds = (FeedHub)_one.Services.GetService(typeof(FeedHub))!;
        var watching = feeds.Watching;
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var watch = _one.Watch("e-cancel", _one.Token("e-cancel", Roles.Employee), cancel.Token);
        await watch.ResponseHeadersAsync;
        feeds.Watching.ShouldBe(watching + 1);
        var reading = Task.Run(async () =>
        {
            await foreach (var _ in watch.ResponseStream.ReadAllAsync(cancel.Token))
            {
            }
        }, Ct);

        await cancel.CancelAsync();
        var stopped = await Should.ThrowAsync<Exception>(() => reading);
        (stopped is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled }).ShouldBeTrue(stopped.ToString());
        watch.Dispose();

        await WaitUntilAsync(() => feeds.Watching == watching);
        // The instance still serves new watches and their rewards.
        using var again = _one.Watch("e-cancel", _one.Token("e-cancel", Roles.Employee), Ct);
        await again.ResponseHeadersAsync;
        await _one.PublishAsync(IncentivesHost.Observed("e-cancel", "helps-customers", ObservationSource.Manager, observer: "m-c", unit: "unit-c"), Ct);
        await foreach (var next in again.ResponseStream.ReadAllAsync(Ct))
        {
            next.Reward.EmployeeId.ShouldBe("e-cancel");
            break;
        }
    }

    [Fact]
    public async Task AWatcherThatStopsReadingIsEndedWithoutHoldingBackOthers()
    {
        // A watch on the instance with a one-reward buffer, on a connection of its own, whose client reads nothing while
        // a thousand rewards with long names arrive: far more than HTTP/2 flow control lets through unread.
        await _one.JoinAsync(Ct, ("e-slow", "unit-s", "m-s"), ("e-fast", "unit-s", "m-s"));
        using var slowClient = _two.NewClient();
        using var slow = _two.Watch("e-slow", _two.Token("e-slow", Roles.Employee), Ct, slowClient);
        await slow.ResponseHeadersAsync;
        using var fast = _two.Watch("e-fast", _two.Token("e-fast", Roles.Employee), Ct);
        await fast.ResponseHeadersAsync;
        await using var fastRewards = fast.ResponseStream.ReadAllAsync(Ct).GetAsyncEnumerator(Ct);

        var flood = Enumerable.Range(0, 1000)
            .Select(i => ((Google.Protobuf.IMessage)IncentivesHost.Observed("e-slow", "explains", ObservationSource.Manager, observer: $"m-{i}", unit: "unit-s"),
                Guid.NewGuid().ToString()))
            .ToList();
        await _one.PublishAsync(flood, Ct);
        await _one.WaitUntilAsync("SELECT count(*) FROM outcomes WHERE employee_id = 'e-slow'", 1000, Ct);

        var later = IncentivesHost.Observed("e-fast", "helps-customers", ObservationSource.Manager, observer: "m-f", unit: "unit-s");
        await _one.PublishAsync(later, Ct);
        (await fastRewards.MoveNextAsync()).ShouldBeTrue();
        fastRewards.Current.Reward.ObservationId.ShouldBe(later.ObservationId);

        var received = 0;
        var ended = await Should.ThrowAsync<RpcException>(async () =>
        {
            await foreach (var _ in slow.ResponseStream.ReadAllAsync(Ct))
            {
                received++;
            }
        });
        ended.StatusCode.ShouldBe(StatusCode.ResourceExhausted);
        received.ShouldBeLessThan(1000);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not hold within 30 s.");
            }

            await Task.Delay(50, Ct);
        }
    }
}
