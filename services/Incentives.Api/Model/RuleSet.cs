using System.Collections.Immutable;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.Model;

[GenerateSerializer]
[Immutable]
public sealed record Badge([property: Id(0)] string BadgeId, [property: Id(1)] string Name, [property: Id(2)] int Threshold);

/// <summary>
/// When peer rewards are held for hr (0 = that check is off): reciprocal and burst look at the pair and the giver; rings
/// (<see cref="RingMaxLength"/>: the longest cycle looked for, 3 or more) and proxies (<see cref="ProxyMinCount"/>) at the
/// network of recent peer rewards around them (<see cref="AntiGaming"/>).
/// </summary>
[GenerateSerializer]
[Immutable]
public sealed record AntiGamingThresholds([property: Id(0)] int ReciprocalMinCount, [property: Id(1)] int ReciprocalWindowDays,
    [property: Id(2)] int BurstMaxCount, [property: Id(3)] int BurstWindowMinutes, [property: Id(4)] int RingMaxLength = 0,
    [property: Id(5)] int RingWindowDays = 0, [property: Id(6)] int ProxyMinCount = 0, [property: Id(7)] int ProxyWindowDays = 0)
{
    public static AntiGamingThresholds Off { get; } = new(0, 0, 0, 0);

    /// <summary>Whether ring or proxy detection is on: they need the network of recent peer rewards.</summary>
    public bool LooksAtNetwork => RingMaxLength >= 3 || ProxyMinCount > 0;

    /// <summary>The longest look-back of the network checks.</summary>
    public TimeSpan NetworkWindow => TimeSpan.FromDays(Math.Max(RingMaxLength >= 3 ? RingWindowDays : 0, ProxyMinCount > 0 ? ProxyWindowDays : 0));
}

/// <summary>One version of the incentive rules, as the evaluation uses them (immutable: it crosses into the ledger grains).</summary>
[GenerateSerializer]
[Immutable]
public sealed record RuleSet(
    [property: Id(0)] int Version,
    [property: Id(1)] PeriodKind PeriodKind,
    [property: Id(2)] ImmutableDictionary<ObservationSource, int> SourcePoints,
    [property: Id(3)] ImmutableDictionary<(string BehaviourId, ObservationSource Source), int> BehaviourPoints,
    [property: Id(4)] int CapPerEmployee,
    [property: Id(5)] TimeSpan Cooldown,
    [property: Id(6)] ImmutableArray<Badge> Badges,
    [property: Id(7)] int ApprovalThreshold,
    [property: Id(8)] int PeerAllowance,
    [property: Id(9)] AntiGamingThresholds AntiGaming,
    [property: Id(10)] bool ObservationsPublic,
    [property: Id(11)] int MinimumGroupSize)
{
    public const int DefaultMinimumGroupSize = 5;

    /// <summary>The longest ring of peer rewards the anti-gaming rules look for (the search grows with it).</summary>
    public const int MaxRingLength = 6;

    /// <summary>The most points one observation may earn under a rule.</summary>
    public const int MaxRulePoints = 100_000;

    /// <summary>The most points a cap, an allowance, a threshold or a budget may name.</summary>
    public const int MaxPoints = 10_000_000;

    /// <summary>A cooldown of at most a year.</summary>
    public const int MaxCooldownMinutes = 525_600;

    /// <summary>The most a count (a group size, an anti-gaming count) may be.</summary>
    public const int MaxCount = 10_000;

    /// <summary>Before hr sets any rules: nothing is rewarded, call-outs are still recorded.</summary>
    public static RuleSet Empty { get; } = new(0, PeriodKind.Month, ImmutableDictionary<ObservationSource, int>.Empty,
        ImmutableDictionary<(string, ObservationSource), int>.Empty, 0, TimeSpan.Zero, [], 0, 0, AntiGamingThresholds.Off, false, DefaultMinimumGroupSize);

    public string PeriodOf(DateTimeOffset instant) => Period.Of(PeriodKind, instant);

    /// <summary>Points for a desired behaviour observed from a source: the behaviour's own figure, else the source's.</summary>
    public int PointsFor(string behaviourId, ObservationSource source) =>
        BehaviourPoints.TryGetValue((behaviourId, source), out var specific) ? specific
        : SourcePoints.TryGetValue(source, out var general) ? general
        : 0;

    public static RuleSet FromProto(int version, IncentiveRules rules)
    {
        var anti = rules.AntiGaming ?? new AntiGamingRules();
        return new RuleSet(
            version,
            rules.Period == PeriodKind.Unspecified ? PeriodKind.Month : rules.Period,
            rules.SourcePoints.ToImmutableDictionary(p => p.Source, p => p.Points),
            rules.BehaviourPoints.ToImmutableDictionary(p => (p.BehaviourId, p.Source), p => p.Points),
            rules.CapPerEmployee,
            TimeSpan.FromMinutes(rules.CooldownMinutes),
            [.. rules.Badges.Select(b => new Badge(b.BadgeId, b.Name, b.Threshold)).OrderBy(b => b.Threshold)],
            rules.ApprovalThreshold,
            rules.PeerAllowance,
            new AntiGamingThresholds(anti.ReciprocalMinCount, anti.ReciprocalWindowDays, anti.BurstMaxCount, anti.BurstWindowMinutes,
                anti.RingMaxLength, anti.RingWindowDays, anti.ProxyMinCount, anti.ProxyWindowDays),
            rules.ObservationsPublic,
            rules.MinimumGroupSize <= 0 ? DefaultMinimumGroupSize : rules.MinimumGroupSize);
    }

    /// <summary>Field violations of a rules document (empty when valid); field names are the request's.</summary>
    public static IReadOnlyList<(string Field, string Description)> Validate(IncentiveRules? rules)
    {
        var violations = new List<(string, string)>();
        if (rules is null)
        {
            violations.Add(("rules", "The rules are required."));
            return violations;
        }

        for (var i = 0; i < rules.SourcePoints.Count; i++)
        {
            var p = rules.SourcePoints[i];
            if (p.Source == ObservationSource.Unspecified)
            {
                violations.Add(($"rules.source_points[{i}].source", "A source is required."));
            }

            AddIfOutside(violations, $"rules.source_points[{i}].points", p.Points, MaxRulePoints);
        }

        if (rules.SourcePoints.GroupBy(p => p.Source).Any(g => g.Count() > 1))
        {
            violations.Add(("rules.source_points", "Each source may appear once."));
        }

        for (var i = 0; i < rules.BehaviourPoints.Count; i++)
        {
            var p = rules.BehaviourPoints[i];
            if (string.IsNullOrWhiteSpace(p.BehaviourId))
            {
                violations.Add(($"rules.behaviour_points[{i}].behaviour_id", "A behaviour id is required."));
            }

            if (p.Source == ObservationSource.Unspecified)
            {
                violations.Add(($"rules.behaviour_points[{i}].source", "A source is required."));
            }

            AddIfOutside(violations, $"rules.behaviour_points[{i}].points", p.Points, MaxRulePoints);
        }

        if (rules.BehaviourPoints.GroupBy(p => (p.BehaviourId, p.Source)).Any(g => g.Count() > 1))
        {
            violations.Add(("rules.behaviour_points", "Each behaviour and source may appear once."));
        }

        AddIfOutside(violations, "rules.cap_per_employee", rules.CapPerEmployee, MaxPoints);
        AddIfOutside(violations, "rules.cooldown_minutes", rules.CooldownMinutes, MaxCooldownMinutes);
        AddIfOutside(violations, "rules.approval_threshold", rules.ApprovalThreshold, MaxPoints);
        AddIfOutside(violations, "rules.peer_allowance", rules.PeerAllowance, MaxPoints);
        AddIfOutside(violations, "rules.minimum_group_size", rules.MinimumGroupSize, MaxCount);
        if (rules.MinimumGroupSize is > 0 and < 3)
        {
            violations.Add(("rules.minimum_group_size", "The minimum group size must be at least 3 (0 = the default of 5)."));
        }

        for (var i = 0; i < rules.Badges.Count; i++)
        {
            var badge = rules.Badges[i];
            if (string.IsNullOrWhiteSpace(badge.BadgeId))
            {
                violations.Add(($"rules.badges[{i}].badge_id", "A badge id is required."));
            }

            if (string.IsNullOrWhiteSpace(badge.Name))
            {
                violations.Add(($"rules.badges[{i}].name", "A badge name is required."));
            }

            if (badge.Threshold is <= 0 or > MaxPoints)
            {
                violations.Add(($"rules.badges[{i}].threshold", $"From 1 to {MaxPoints} points."));
            }
        }

        if (rules.Badges.GroupBy(b => b.BadgeId, StringComparer.Ordinal).Any(g => g.Count() > 1))
        {
            violations.Add(("rules.badges", "Badge ids must be unique."));
        }

        if (rules.AntiGaming is { } anti)
        {
            AddIfOutside(violations, "rules.anti_gaming.reciprocal_min_count", anti.ReciprocalMinCount, MaxCount);
            AddIfOutside(violations, "rules.anti_gaming.burst_max_count", anti.BurstMaxCount, MaxCount);
            if ((anti.ReciprocalMinCount > 0 && anti.ReciprocalWindowDays <= 0) || anti.ReciprocalWindowDays is < 0 or > 366)
            {
                violations.Add(("rules.anti_gaming.reciprocal_window_days", "A window of 1 to 366 days is required when reciprocal detection is on."));
            }

            if ((anti.BurstMaxCount > 0 && anti.BurstWindowMinutes <= 0) || anti.BurstWindowMinutes is < 0 or > MaxCooldownMinutes)
            {
                violations.Add(("rules.anti_gaming.burst_window_minutes", $"A window of 1 to {MaxCooldownMinutes} minutes is required when burst detection is on."));
            }

            if (anti.RingMaxLength is < 0 or 1 or 2 or > MaxRingLength)
            {
                violations.Add(("rules.anti_gaming.ring_max_length", $"0 (off) or 3 to {MaxRingLength} (2 is reciprocal giving)."));
            }

            if (anti.RingMaxLength >= 3 && anti.RingWindowDays is <= 0 or > 366)
            {
                violations.Add(("rules.anti_gaming.ring_window_days", "A window of 1 to 366 days is required when ring detection is on."));
            }

            AddIfOutside(violations, "rules.anti_gaming.proxy_min_count", anti.ProxyMinCount, MaxCount);
            if (anti.ProxyMinCount > 0 && anti.ProxyWindowDays is <= 0 or > 366)
            {
                violations.Add(("rules.anti_gaming.proxy_window_days", "A window of 1 to 366 days is required when proxy detection is on."));
            }
        }

        return violations;
    }

    private static void AddIfOutside(List<(string, string)> violations, string field, int value, int max)
    {
        if (value < 0 || value > max)
        {
            violations.Add((field, $"From 0 to {max}."));
        }
    }
}
