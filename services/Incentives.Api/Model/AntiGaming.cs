using System.Globalization;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.Model;

/// <summary>What the anti-gaming rules look at for one peer reward: recent giving between the pair and by the giver.</summary>
public sealed record GivingHistory(int RecipientGaveGiverInWindow, int GiverGaveInBurstWindow);

/// <summary>One peer reward being decided: who gives it to whom, and when it was observed.</summary>
public sealed record PeerGift(string GiverId, string RecipientId, DateTimeOffset At);

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

    /// <summary>
    /// Adds to each gift's stored history the gifts decided before it in the same batch (not stored yet): those from
    /// its recipient to its giver within the reciprocal window, and those by its giver within the burst window. An
    /// earlier gift of the batch counts whatever its own outcome, since that is not known yet when this one is decided.
    /// </summary>
    public static IReadOnlyList<GivingHistory> WithEarlierInBatch(IReadOnlyList<PeerGift> gifts, IReadOnlyList<GivingHistory> stored,
        AntiGamingThresholds thresholds)
    {
        ArgumentNullException.ThrowIfNull(gifts);
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(thresholds);
        if (gifts.Count != stored.Count)
        {
            throw new ArgumentException("One stored history per gift is required.", nameof(stored));
        }

        var result = new List<GivingHistory>(gifts.Count);
        for (var i = 0; i < gifts.Count; i++)
        {
            var gift = gifts[i];
            var reciprocalSince = gift.At - TimeSpan.FromDays(thresholds.ReciprocalWindowDays);
            var burstSince = gift.At - TimeSpan.FromMinutes(thresholds.BurstWindowMinutes);
            int reciprocal = 0, burst = 0;
            for (var j = 0; j < i; j++)
            {
                var earlier = gifts[j];
                if (string.Equals(earlier.GiverId, gift.RecipientId, StringComparison.Ordinal) && string.Equals(earlier.RecipientId, gift.GiverId, StringComparison.Ordinal)
                    && earlier.At > reciprocalSince)
                {
                    reciprocal++;
                }

                if (string.Equals(earlier.GiverId, gift.GiverId, StringComparison.Ordinal) && earlier.At > burstSince && earlier.At <= gift.At)
                {
                    burst++;
                }
            }

            result.Add(new GivingHistory(stored[i].RecipientGaveGiverInWindow + reciprocal, stored[i].GiverGaveInBurstWindow + burst));
        }

        return result;
    }
}
