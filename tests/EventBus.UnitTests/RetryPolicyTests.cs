namespace Transformation.EventBus.UnitTests;

public sealed class RetryPolicyTests
{
    private readonly RetryPolicy _policy = new(MaxAttempts: 4, BaseDelay: TimeSpan.FromMilliseconds(100), MaxDelay: TimeSpan.FromMilliseconds(350));

    [Fact]
    public void RetriesStopAfterTheLastAttempt()
    {
        _policy.ShouldRetry(1).ShouldBeTrue();
        _policy.ShouldRetry(3).ShouldBeTrue();
        _policy.ShouldRetry(4).ShouldBeFalse();
        new RetryPolicy(1, TimeSpan.Zero, TimeSpan.Zero).ShouldRetry(1).ShouldBeFalse();
    }

    [Fact]
    public void DelaysDoubleUpToTheCap()
    {
        _policy.DelayAfter(1, jitter: 0).ShouldBe(TimeSpan.FromMilliseconds(100));
        _policy.DelayAfter(2, jitter: 0).ShouldBe(TimeSpan.FromMilliseconds(200));
        _policy.DelayAfter(3, jitter: 0).ShouldBe(TimeSpan.FromMilliseconds(350));
        _policy.DelayAfter(60, jitter: 0).ShouldBe(TimeSpan.FromMilliseconds(350));
    }

    [Fact]
    public void JitterAddsAtMostAFifthAndNeverPassesTheCap()
    {
        _policy.DelayAfter(1, jitter: 1).ShouldBe(TimeSpan.FromMilliseconds(120));
        _policy.DelayAfter(1, jitter: 0.5).ShouldBe(TimeSpan.FromMilliseconds(110));
        _policy.DelayAfter(3, jitter: 1).ShouldBe(TimeSpan.FromMilliseconds(350));
    }

    [Fact]
    public void AttemptsCountFromOne() => Should.Throw<ArgumentOutOfRangeException>(() => _policy.DelayAfter(0, 0));
}
