using System.Globalization;
using Bogus;
using Google.Protobuf.WellKnownTypes;
using Transformation.Baselines.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Cli.Demo;

/// <summary>
/// The dates of the demo, all relative to one anchor (the moment of the first load, to the second): the baseline survey about seven
/// months before, the pulse a week before, six months of observations up to the anchor, targets a year after. A later load of the
/// same organisation recovers the anchor from the baseline assessment or the end state, so every request it sends is the same as the
/// first time.
/// </summary>
public sealed record DemoTimeline(DateTimeOffset Anchor)
{
    public const int ObservationWindows = 6;
    public static readonly TimeSpan Window = TimeSpan.FromDays(30);
    private static readonly TimeSpan BaselineOpensBefore = TimeSpan.FromDays(210);
    private static readonly TimeSpan TargetsAfter = TimeSpan.FromDays(365);

    public static DemoTimeline StartingNow(TimeProvider time) => new(DateTimeOffset.FromUnixTimeSeconds(time.GetUtcNow().ToUnixTimeSeconds()));

    public static DemoTimeline FromBaselineOpening(DateTimeOffset opensAt) => new(opensAt + BaselineOpensBefore);

    public static DemoTimeline FromTargetDate(DateTimeOffset targetDate) => new(targetDate - TargetsAfter);

    public DateTimeOffset BaselineOpens => Anchor - BaselineOpensBefore;

    public DateTimeOffset BaselineCloses => Anchor - TimeSpan.FromDays(196);

    public DateTimeOffset PulseOpens => Anchor - TimeSpan.FromDays(21);

    public DateTimeOffset PulseCloses => Anchor - TimeSpan.FromDays(7);

    public DateTimeOffset TargetDate => Anchor + TargetsAfter;

    public DateTimeOffset WindowStart(int window) => Anchor - ((ObservationWindows - window) * Window);

    /// <summary>The months ("yyyy-MM") that observations fall in, from the first window to the anchor.</summary>
    public IReadOnlyList<string> Months
    {
        get
        {
            var months = new List<string>();
            var first = WindowStart(0).UtcDateTime;
            for (var month = new DateTime(first.Year, first.Month, 1, 0, 0, 0, DateTimeKind.Utc); month <= Anchor.UtcDateTime; month = month.AddMonths(1))
            {
                months.Add(month.ToString("yyyy-MM", CultureInfo.InvariantCulture));
            }

            return months;
        }
    }
}

/// <summary>One observation the demo records, and the change manager who records it.</summary>
public sealed record DemoObservation(string InitiativeKey, int Window, ObservationInput Input);

/// <summary>One peer recognition: the giver and the request.</summary>
public sealed record DemoRecognition(DemoPerson Giver, IReadOnlyList<DemoPerson> Recipients, string BehaviourId, string Message, bool Public, string Key);

/// <summary>The generated activity of the demo organisation: survey responses, observations, recognitions. Deterministic per seed and anchor.</summary>
public static class DemoActivity
{
    public const string BaselineAssessmentId = "demo-baseline";
    public const string PulseAssessmentId = "demo-pulse";

    /// <summary>The survey responses of an assessment: every leader and most others answer; units differ, the pulse shows the initiatives' effect.</summary>
    public static IReadOnlyList<ResponseRow> Responses(DemoOrganisation organisation, string assessmentId, IReadOnlyList<DemoItemRef> items, bool pulse)
    {
        var random = new Randomizer(organisation.Seed + (pulse ? 2 : 1));
        var rows = new List<ResponseRow>();
        var units = DemoCatalogue.Units.ToDictionary(u => u.Id, StringComparer.Ordinal);
        foreach (var person in organisation.People)
        {
            var leader = string.Equals(person.OrgUnitId, DemoCatalogue.RootId, StringComparison.Ordinal) || person.Slot is "head" or "hr-lead";
            if (!leader && random.Double() > (pulse ? 0.68 : 0.8))
            {
                continue;
            }

            var unit = units[person.OrgUnitId];
            var outlook = Gaussian(random, 0, 0.35);
            var row = new ResponseRow
            {
                Line = rows.Count + 1,
                RespondentToken = organisation.RespondentToken(assessmentId, person),
                OrgUnitId = person.OrgUnitId,
                TenureBand = random.ListItem(DemoCatalogue.TenureBands.ToList()),
                RoleLevel = person.Slot switch
                {
                    "ceo" or "coo" or "cco" or "hr-lead" => "executive",
                    "head" or "lead" => "manager",
                    _ => "individual",
                },
                Location = random.Double() < 0.8 ? unit.Location : random.ListItem(DemoCatalogue.Locations.ToList()),
            };
            var answered = 0;
            foreach (var item in items)
            {
                var mean = unit.Culture[item.DimensionId] + outlook + (pulse ? Improvement(unit.Id, item.DimensionId) : 0);
                var value = Math.Clamp((int)Math.Round(Gaussian(random, mean, 0.85)), 1, 5);
                var skipped = random.Double() < 0.04 && answered > 0;
                row.Answers.Add(skipped ? 0 : item.ReverseScored ? 6 - value : value);
                answered += skipped ? 0 : 1;
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>
    /// Six windows of 30 days of observations per initiative, recorded by its change manager: a growing share of the people in scope
    /// show a desired target behaviour (seen by their manager, customers, partners or systems), fewer and fewer unacceptable ones.
    /// </summary>
    public static IReadOnlyList<DemoObservation> Observations(DemoOrganisation organisation, DemoTimeline timeline, DemoInitiative initiative,
        string initiativeId)
    {
        var random = new Randomizer(organisation.Seed + 100 + DemoCatalogue.Initiatives.ToList().IndexOf(initiative));
        // The change manager records them, and nobody is observed on their own word.
        var recorder = organisation[initiative.ChangeManagerSlot].Id;
        var scope = organisation.People.Where(p => initiative.Scope.Contains(p.OrgUnitId, StringComparer.Ordinal) && !string.Equals(p.Id, recorder, StringComparison.Ordinal)).ToList();
        var behaviours = DemoCatalogue.Behaviours.Where(b => initiative.Behaviours.Contains(b.Id, StringComparer.Ordinal)).ToList();
        var desired = behaviours.Where(b => b.Polarity == Polarity.Desired).ToList();
        var unacceptable = behaviours.Where(b => b.Polarity == Polarity.Unacceptable).ToList();
        var observations = new List<DemoObservation>();
        for (var window = 0; window < DemoTimeline.ObservationWindows; window++)
        {
            var start = timeline.WindowStart(window);
            var showing = (int)Math.Round(scope.Count * (0.08 + (0.055 * window)));
            var calledOut = Math.Max(1, (int)Math.Round(scope.Count * (0.045 - (0.006 * window))));
            foreach (var person in random.ListItems(scope, Math.Min(showing, scope.Count)))
            {
                observations.Add(Observation(person, random.ListItem(desired), window, start));
            }

            foreach (var person in random.ListItems(scope, Math.Min(calledOut, scope.Count)))
            {
                observations.Add(Observation(person, random.ListItem(unacceptable), window, start, unacceptableOnly: true));
            }
        }

        return observations;

        DemoObservation Observation(DemoPerson person, DemoBehaviour behaviour, int window, DateTimeOffset start, bool unacceptableOnly = false)
        {
            var roll = random.Double();
            var source = unacceptableOnly || roll < 0.55 ? ObservationSource.Manager
                : roll < 0.75 ? ObservationSource.CustomerFeedback
                : roll < 0.85 ? ObservationSource.PartnerFeedback
                : ObservationSource.SystemIntegration;
            if (source == ObservationSource.Manager && person.ManagerId.Length == 0)
            {
                source = ObservationSource.SystemIntegration;
            }

            var observedAt = start + TimeSpan.FromSeconds(Math.Floor(random.Double() * DemoTimeline.Window.TotalSeconds));
            var input = new ObservationInput
            {
                IdempotencyKey = $"demo:{organisation.Fingerprint}:{initiative.Key}:{window}:{observations.Count}",
                EmployeeId = person.Id,
                BehaviourId = behaviour.Id,
                Polarity = behaviour.Polarity,
                Source = source,
                ObserverId = source == ObservationSource.Manager ? person.ManagerId : "",
                ObservedAt = Timestamp.FromDateTimeOffset(observedAt),
                Evidence = random.ListItem(behaviour.Examples.ToList()),
                InitiativeId = initiativeId,
            };
            return new DemoObservation(initiative.Key, window, input);
        }
    }

    /// <summary>Peer recognitions given now: about one person in eight thanks one or two colleagues of their unit.</summary>
    public static IReadOnlyList<DemoRecognition> Recognitions(DemoOrganisation organisation)
    {
        var random = new Randomizer(organisation.Seed + 200);
        var desired = DemoCatalogue.Behaviours.Where(b => b.Polarity == Polarity.Desired).ToList();
        var givers = random.ListItems(organisation.People.Where(p => p.Slot is "member" or "lead").ToList(), Math.Max(10, organisation.Size / 8));
        var recognitions = new List<DemoRecognition>();
        foreach (var giver in givers)
        {
            var colleagues = organisation.MembersOf(giver.OrgUnitId).Where(p => !string.Equals(p.Id, giver.Id, StringComparison.Ordinal)).ToList();
            var recipients = random.ListItems(colleagues, Math.Min(colleagues.Count, random.Double() < 0.8 ? 1 : 2)).ToList();
            var message = string.Format(CultureInfo.InvariantCulture, random.ListItem(DemoCatalogue.RecognitionMessages.ToList()),
                string.Join(" and ", recipients.Select(r => r.FirstName)));
            recognitions.Add(new DemoRecognition(giver, recipients, random.ListItem(desired).Id, message, random.Double() < 0.85,
                $"demo:{organisation.Fingerprint}:recognition:{recognitions.Count}"));
        }

        return recognitions;
    }

    /// <summary>How much the pulse improves a dimension in a unit: most where an initiative works on it.</summary>
    private static double Improvement(string unitId, string dimensionId) =>
        DemoCatalogue.Initiatives.Any(i => i.Scope.Contains(unitId, StringComparer.Ordinal) && i.Dimensions.Contains(dimensionId, StringComparer.Ordinal))
            ? 0.45
            : 0.05;

    private static double Gaussian(Randomizer random, double mean, double deviation)
    {
        // Box–Muller: two uniform draws, one normal value.
        var u1 = 1.0 - random.Double();
        var u2 = random.Double();
        return mean + (deviation * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }
}

/// <summary>An assessment item as the responses need it.</summary>
public sealed record DemoItemRef(string ItemId, string DimensionId, bool ReverseScored);
