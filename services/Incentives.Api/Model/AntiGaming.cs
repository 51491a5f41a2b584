using System.Globalization;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.Model;

/// <summary>What the anti-gaming rules look at for one peer reward: recent giving between the pair and by the giver.</summary>
public sealed record GivingHistory(int RecipientGaveGiverInWindow, int GiverGaveInBurstWindow);

/// <summary>Rules that hold a peer reward for hr review, each with its reason in words.</summary>
public static class AntiGaming
{
    /// <summary>The reasons to flag a reward; empty when none applies (only peer rewards are checked).</summary>
    public static IReadOnlyList<string> Flags(ObservationSource source, string giverId, string recipientId, GivingHistory history,
        AntiGamingThresholds thresholds)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(thresholds);
        var reasons = new List<string>();
        if (source != ObservationSource.Peer || string.IsNullOrEmpty(giverId))
        {
            return reasons;
        }

        if (thresholds.ReciprocalMinCount > 0 && history.RecipientGaveGiverInWindow >= thresholds.ReciprocalMinCount)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"reciprocal: {recipientId} gave {giverId} {history.RecipientGaveGiverInWindow} peer reward(s) in the last {thresholds.ReciprocalWindowDays} day(s), and now {giverId} rewards {recipientId}"));
        }

        // The history counts earlier rewards only; this one is the (count + 1)th.
        if (thresholds.BurstMaxCount > 0 && history.GiverGaveInBurstWindow + 1 > thresholds.BurstMaxCount)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"burst: {giverId} gave {history.GiverGaveInBurstWindow + 1} peer rewards within {thresholds.BurstWindowMinutes} minute(s), more than the {thresholds.BurstMaxCount} allowed"));
        }

        return reasons;
    }
}
