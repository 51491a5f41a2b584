using System.ComponentModel.DataAnnotations;

namespace Transformation.Incentives.Api;

/// <summary>The "Incentives" section.</summary>
public sealed class IncentivesOptions
{
    public const string Section = "Incentives";

    /// <summary>
    /// Whether GetLeaderboard answers. Leaderboards are opt-in per deployment (some organisations find they add pressure
    /// and competition); unset, they are on only in the Development environment (local runs), off elsewhere.
    /// </summary>
    public bool? LeaderboardEnabled { get; set; }

    /// <summary>Observations one evaluation transaction takes from the queue the subscriber fills.</summary>
    [Range(1, 5000)]
    public int EvaluationBatchSize { get; set; } = 500;

    /// <summary>Evaluation loops per instance (each takes its own batches; instances share the queue).</summary>
    [Range(1, 16)]
    public int EvaluationConcurrency { get; set; } = 2;

    /// <summary>How often an evaluation loop looks for queued observations (doubling up to 250 ms while the queue stays empty).</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan EvaluationPollInterval { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Attempts at evaluating one observation before it is set aside in observation_dead_letters.</summary>
    [Range(1, 100)]
    public int EvaluationMaxAttempts { get; set; } = 5;

    /// <summary>Rewards a live feed holds for a watcher that does not read; beyond that its stream ends (RESOURCE_EXHAUSTED).</summary>
    [Range(1, 10_000)]
    public int FeedBufferSize { get; set; } = 64;

    /// <summary>Live feeds one instance serves for one employee at once (each device or tab is one).</summary>
    [Range(1, 1000)]
    public int FeedWatchersPerEmployee { get; set; } = 16;

    /// <summary>How long a new live feed waits for the instance's database listener to (re)connect before answering UNAVAILABLE.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan FeedConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
