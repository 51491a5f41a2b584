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
