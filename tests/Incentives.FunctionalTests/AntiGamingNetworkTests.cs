using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Incentives.FunctionalTests;

/// <summary>Rings (of up to 4 people within 30 days) and proxies (2 rewards each way) of peer rewards, on a host of its own; a cooldown of an hour.</summary>
public sealed class AntiGamingNetworkTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
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
            SourcePoints = { new SourcePoints { Source = ObservationSource.Peer, Points = 5 } },
            PeerAllowance = 100,
            CooldownMinutes = 60,
            ObservationsPublic = true,
            AntiGaming = new AntiGamingRules { RingMaxLength = 4, RingWindowDays = 30, ProxyMinCount = 2, ProxyWindowDays = 30 },
        }, _hr);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _identity.Dispose();
    }

    [Fact]
    public async Task AGiftThatClosesARingIsHeldForHrWithTheRingInItsReason()
    {
        await _host.JoinAsync(Ct, ("ring-a", "unit-ring", "m"), ("ring-b", "unit-ring", "m"), ("ring-c", "unit-ring", "m"), ("ring-d", "unit-ring", "m"));
        (await GiveAsync("ring-a", "ring-b")).Status.ShouldBe(RewardStatus.Granted);
        (await GiveAsync("ring-b", "ring-c")).Status.ShouldBe(RewardStatus.Granted);
        (await GiveAsync("ring-c", "ring-d")).Status.ShouldBe(RewardStatus.Granted); // A chain, not a ring.

        var closing = await GiveAsync("ring-c", "ring-a");

        closing.Status.ShouldBe(RewardStatus.Flagged);
        closing.Flags.Single().ShouldBe("ring: ring-c → ring-a → ring-b → ring-c: this peer reward closes a ring of 3 peer rewards within 30 day(s)");
        var queue = await _host.CallAsync<ListReviewQueueRequest, ListReviewQueueResponse>("ListReviewQueue", new ListReviewQueueRequest { Limit = 500 }, _hr);
        queue.Rewards.Single(r => r.RewardId == closing.RewardId).Flags.Single().ShouldStartWith("ring: ring-c → ring-a → ring-b → ring-c");
        (await _host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-granted' AND aggregate_id = 'ring-a'", Ct)).ShouldBe(0);
    }

    [Fact]
    public async Task EachRecipientOfARecognitionOfSeveralIsALinkALaterGiftCanCloseARingWith()
    {
        // One recognition to two people: neither closes a ring (nobody gave the giver anything).
        await _host.JoinAsync(Ct, ("multi-a", "unit-multi", "m"), ("multi-b", "unit-multi", "m"), ("multi-c", "unit-multi", "m"));
        var response = await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition", new GiveRecognitionRequest
        {
            IdempotencyKey = "multi-1", RecipientIds = { "multi-b", "multi-c" }, BehaviourId = "helps", Message = "Thanks, both", Public = true,
        }, _host.Token("multi-a", Roles.Employee));
        response.Rewards.ShouldAllBe(r => r.Status == RewardStatus.Granted);
        (await GiveAsync("multi-b", "multi-c")).Status.ShouldBe(RewardStatus.Granted);
        (await GiveAsync("multi-c", "multi-a")).Flags.Single().ShouldStartWith("ring: multi-c → multi-a → ");
    }

    [Fact]
    public async Task PeerRewardsThroughAProxyAfterTheCooldownStoppedTheGiverAreHeldWithTheReason()
    {
        // Observed peer rewards (BehaviourObserved from the Initiatives service), one after the other, over a day.
        var start = DateTimeOffset.UtcNow.AddDays(-1);
        (string Giver, string Recipient, int Minutes)[] gifts =
        [
            ("proxy-g", "proxy-r", 0), ("proxy-g", "proxy-r", 10), // the second is declined: the cooldown stops g rewarding r
            ("proxy-g", "proxy-x", 120), ("proxy-g", "proxy-x", 240), ("proxy-x", "proxy-r", 300), ("proxy-x", "proxy-r", 420),
        ];
        for (var i = 0; i < gifts.Length; i++)
        {
            var (giver, recipient, minutes) = gifts[i];
            await _host.PublishAsync(IncentivesHost.Observed(recipient, "helps", ObservationSource.Peer, observer: giver, unit: "unit-proxy",
                at: start.AddMinutes(minutes), id: $"proxy-{i}"), Ct);
            await _host.WaitUntilAsync($"SELECT count(*) FROM outcomes WHERE observation_id = 'proxy-{i}'", 1, Ct);
        }

        (await _host.ScalarAsync("SELECT decline_reason FROM outcomes WHERE observation_id = 'proxy-1'", Ct)).ShouldBe((long)DeclineReason.Cooldown);
        (await _host.ScalarAsync("SELECT count(*) FROM outcomes WHERE observation_id IN ('proxy-2', 'proxy-3', 'proxy-4') AND status = 0", Ct)).ShouldBe(3);
        var queue = await _host.CallAsync<ListReviewQueueRequest, ListReviewQueueResponse>("ListReviewQueue", new ListReviewQueueRequest { Limit = 500 }, _hr);
        var held = queue.Rewards.Single(r => r.ObservationId == "proxy-5");
        held.Status.ShouldBe(RewardStatus.Flagged);
        held.Flags.Single().ShouldBe("proxy: proxy-g may not reward proxy-r directly (their peer reward to proxy-r was declined for the cooldown), "
            + "yet gave proxy-x 2 peer reward(s) and proxy-x gave proxy-r 2 (this one included) within 30 day(s)");
    }

    private async Task<Reward> GiveAsync(string giver, string recipient) =>
        (await _host.CallAsync<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition", new GiveRecognitionRequest
        {
            IdempotencyKey = $"{giver}-{recipient}", RecipientIds = { recipient }, BehaviourId = "helps", Message = "Thanks", Public = true,
        }, _host.Token(giver, Roles.Employee))).Rewards.Single();
}
