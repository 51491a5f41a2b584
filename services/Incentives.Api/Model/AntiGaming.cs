using System.Globalization;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.Model;

/// <summary>What the anti-gaming rules look at for one peer reward: recent giving between the pair and by the giver.</summary>
public sealed record GivingHistory(int RecipientGaveGiverInWindow, int GiverGaveInBurstWindow);

/// <summary>One peer reward being decided: who gives it to whom, and when it was observed.</summary>
public sealed record PeerGift(string GiverId, string RecipientId, DateTimeOffset At);

/// <summary>How the rules stopped a giver's peer reward to a recipient.</summary>
public enum StopReason
{
    /// <summary>Declined: within the cooldown of the giver's previous reward to the recipient.</summary>
    Cooldown,

    /// <summary>Held for hr by an anti-gaming rule.</summary>
    Held,

    /// <summary>Rejected on review.</summary>
    Rejected,
}

/// <summary>A peer reward the rules stopped: its giver may not (for now) reward its recipient directly.</summary>
public sealed record StoppedGift(string GiverId, string RecipientId, DateTimeOffset At, StopReason Reason);

/// <summary>
/// The stored network of recent peer rewards around a batch: the peer rewards that stand (granted or waiting for a
/// review; not declined, rejected or revoked) and the stopped ones.
/// </summary>
public sealed record PeerNetwork(IReadOnlyList<PeerGift> Gifts, IReadOnlyList<StoppedGift> Stopped)
{
    public static PeerNetwork Empty { get; } = new([], []);
}

/// <summary>Rules that hold a peer reward for hr review, each with its reason in words.</summary>
public static class AntiGaming
{
    /// <summary>
    /// The ring and proxy reasons of each peer gift of a batch (in order), against the stored network plus the gifts
    /// decided before it in the batch (whatever their outcome, as in <see cref="WithEarlierInBatch"/>).
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> NetworkFlagsInBatch(IReadOnlyList<PeerGift> gifts, PeerNetwork stored, AntiGamingThresholds thresholds)
    {
        ArgumentNullException.ThrowIfNull(gifts);
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(thresholds);
        var result = new List<IReadOnlyList<string>>(gifts.Count);
        for (var i = 0; i < gifts.Count; i++)
        {
            result.Add(NetworkFlags(gifts[i], [.. stored.Gifts, .. gifts.Take(i)], stored.Stopped, thresholds));
        }

        return result;
    }

    /// <summary>
    /// The ring and proxy reasons of one peer gift given the peer rewards before it (<paramref name="earlier"/>) and the
    /// stopped ones; empty when neither applies or both checks are off.
    /// <list type="bullet">
    /// <item>Ring: the gift giver → recipient closes a directed cycle of 3 to <see cref="AntiGamingThresholds.RingMaxLength"/>
    /// people: a chain of peer rewards recipient → … → giver through other people, each within
    /// <see cref="AntiGamingThresholds.RingWindowDays"/> before the gift (the shortest such chain is named).</item>
    /// <item>Proxy: some G (not the gift's giver) was stopped from rewarding the recipient directly within
    /// <see cref="AntiGamingThresholds.ProxyWindowDays"/>, and in that window G gave the gift's giver (the proxy) at least
    /// <see cref="AntiGamingThresholds.ProxyMinCount"/> peer rewards and the proxy gave the recipient at least as many,
    /// this gift included.</item>
    /// </list>
    /// </summary>
    public static IReadOnlyList<string> NetworkFlags(PeerGift gift, IReadOnlyList<PeerGift> earlier, IReadOnlyList<StoppedGift> stopped, AntiGamingThresholds thresholds)
    {
        ArgumentNullException.ThrowIfNull(gift);
        ArgumentNullException.ThrowIfNull(earlier);
        ArgumentNullException.ThrowIfNull(stopped);
        ArgumentNullException.ThrowIfNull(thresholds);
        var reasons = new List<string>();
        if (thresholds.RingMaxLength >= 3 && FindRing(gift, Within(earlier, gift, thresholds.RingWindowDays), thresholds.RingMaxLength) is { } ring)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"ring: {string.Join(" → ", ring)}: this peer reward closes a ring of {ring.Count - 1} peer rewards within {thresholds.RingWindowDays} day(s)"));
        }

        if (thresholds.ProxyMinCount > 0 && FindProxy(gift, Within(earlier, gift, thresholds.ProxyWindowDays), stopped, thresholds) is { } proxy)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"proxy: {proxy.Stopped.GiverId} may not reward {gift.RecipientId} directly ({Words(proxy.Stopped)}), yet gave {gift.GiverId} {proxy.ToProxy} peer reward(s) and {gift.GiverId} gave {gift.RecipientId} {proxy.ToRecipient} (this one included) within {thresholds.ProxyWindowDays} day(s)"));
        }

        return reasons;
    }

    /// <summary>The shortest cycle giver → recipient → … → giver (as people, the giver first and last) of at most <paramref name="maxLength"/> rewards, or null.</summary>
    private static List<string>? FindRing(PeerGift gift, List<PeerGift> edges, int maxLength)
    {
        var next = edges
            .Where(e => !string.Equals(e.GiverId, e.RecipientId, StringComparison.Ordinal))
            .GroupBy(e => e.GiverId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(e => e.RecipientId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal);
        var previous = new Dictionary<string, string>(StringComparer.Ordinal) { [gift.RecipientId] = "" };
        var frontier = new List<string> { gift.RecipientId };

        // Breadth first from the recipient: the chain back to the giver has 2 to maxLength - 1 rewards (1 would be reciprocal).
        for (var depth = 1; depth <= maxLength - 1 && frontier.Count > 0; depth++)
        {
            var reached = new List<string>();
            foreach (var person in frontier)
            {
                foreach (var to in next.GetValueOrDefault(person, []))
                {
                    if (string.Equals(to, gift.GiverId, StringComparison.Ordinal))
                    {
                        if (depth >= 2)
                        {
                            var chain = new List<string> { gift.GiverId };
                            for (var at = person; at.Length > 0; at = previous[at])
                            {
                                chain.Add(at);
                            }

                            chain.Add(gift.GiverId);
                            chain.Reverse();
                            return chain;
                        }

                        continue;
                    }

                    if (previous.TryAdd(to, person))
                    {
                        reached.Add(to);
                    }
                }
            }

            frontier = reached;
        }

        return null;
    }

    private static (StoppedGift Stopped, int ToProxy, int ToRecipient)? FindProxy(PeerGift gift, List<PeerGift> edges, IReadOnlyList<StoppedGift> stopped,
        AntiGamingThresholds thresholds)
    {
        var since = gift.At - TimeSpan.FromDays(thresholds.ProxyWindowDays);
        var toRecipient = 1 + edges.Count(e => Is(e, gift.GiverId, gift.RecipientId));
        if (toRecipient < thresholds.ProxyMinCount)
        {
            return null;
        }

        foreach (var barred in stopped
            .Where(s => string.Equals(s.RecipientId, gift.RecipientId, StringComparison.Ordinal) && !string.Equals(s.GiverId, gift.GiverId, StringComparison.Ordinal)
                && s.At > since && s.At <= gift.At)
            .GroupBy(s => s.GiverId, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => g.MaxBy(s => s.At)!))
        {
            var toProxy = edges.Count(e => Is(e, barred.GiverId, gift.GiverId));
            if (toProxy >= thresholds.ProxyMinCount)
            {
                return (barred, toProxy, toRecipient);
            }
        }

        return null;
    }

    private static bool Is(PeerGift gift, string giverId, string recipientId) =>
        string.Equals(gift.GiverId, giverId, StringComparison.Ordinal) && string.Equals(gift.RecipientId, recipientId, StringComparison.Ordinal);

    private static List<PeerGift> Within(IReadOnlyList<PeerGift> gifts, PeerGift gift, int days)
    {
        var since = gift.At - TimeSpan.FromDays(days);
        return [.. gifts.Where(e => e.At > since && e.At <= gift.At)];
    }

    private static string Words(StoppedGift stopped) => stopped.Reason switch
    {
        StopReason.Cooldown => $"their peer reward to {stopped.RecipientId} was declined for the cooldown",
        StopReason.Held => $"their peer reward to {stopped.RecipientId} is held for review",
        _ => $"their peer reward to {stopped.RecipientId} was rejected on review",
    };

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
