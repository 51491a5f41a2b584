using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using ServiceClient = Transformation.Cli.Services.ServiceClients;

namespace Transformation.Cli.Demo;

/// <summary>What the services hold of the demo organisation.</summary>
public enum DemoState
{
    /// <summary>No organisation at all: the demo can be loaded.</summary>
    Empty,

    /// <summary>The demo organisation, but not all of it (an interrupted load): loading again completes it.</summary>
    Partial,

    /// <summary>The demo organisation, loaded to the end (its success stories are published).</summary>
    Complete,

    /// <summary>Another organisation: the demo is never loaded over it.</summary>
    Foreign,
}

/// <summary>The services hold another organisation: the demo is never loaded over it.</summary>
public sealed class ForeignOrganisationException(string message) : InvalidOperationException(message);

public enum DemoLoadOutcome
{
    Loaded,
    AlreadyLoaded,
}

/// <summary>One step's progress: <paramref name="Done"/> of <paramref name="Total"/>.</summary>
public sealed record DemoProgress(string Step, int Done, int Total);

/// <summary>What a load did, and the figures of what the services now hold.</summary>
public sealed record DemoLoadResult(DemoLoadOutcome Outcome, DemoState Before, DemoTimeline Timeline, IReadOnlyList<string> Notes,
    IReadOnlyList<(string Step, TimeSpan Took)> Timings);

/// <summary>How long the loader waits for events to carry data between the services (the catalogue to Initiatives, people to Incentives, …).</summary>
public sealed record DemoLoaderOptions(TimeSpan EventWait)
{
    public static DemoLoaderOptions Default { get; } = new(TimeSpan.FromSeconds(120));
}

/// <summary>
/// Loads the demo organisation into running services through their gRPC APIs only, as the people of the organisation: hr sets up
/// the directory, the survey, the catalogue, the rules and the end state; the named executives endorse and sponsor; change managers
/// run the initiatives and record what they observe; employees recognise each other. Every write carries a stable idempotency key
/// and the same request on every run (the dates hang off an anchor recovered from the baseline assessment), so loading again changes
/// nothing. Data that reaches a service through events (the org tree, people, the behaviour catalogue) is waited for: a call the
/// service refuses because it does not know a reference yet is retried until it does, or until <see cref="DemoLoaderOptions.EventWait"/>.
/// </summary>
public sealed class DemoLoader(ServiceClient clients, DemoOrganisation organisation, DemoLoaderOptions options, TimeProvider time)
{
    public const string DirectoryStep = "Directory";
    public const string SurveyStep = "Survey: dimensions and items";
    public const string BaselineStep = "Baseline assessment";
    public const string PulseStep = "Pulse assessment";
    public const string CatalogueStep = "Behaviours and incentive rules";
    public const string BudgetsStep = "Budgets";
    public const string EndStateStep = "End state";
    public const string InitiativesStep = "Initiatives";
    public const string ObservationsStep = "Observations (6 months)";
    public const string RecognitionsStep = "Peer recognitions";
    public const string StoriesStep = "Success stories";

    public static IReadOnlyList<string> Steps { get; } =
        [DirectoryStep, SurveyStep, BaselineStep, PulseStep, EndStateStep, CatalogueStep, BudgetsStep, InitiativesStep, ObservationsStep, RecognitionsStep, StoriesStep];

    private readonly List<string> _notes = [];

    private string Hr => clients.Token(organisation["hr-lead"].Id, organisation["hr-lead"].RoleNames);

    /// <summary>What the services hold: nothing, the demo (partly or completely), or another organisation.</summary>
    public async Task<DemoState> DetectAsync(CancellationToken cancellationToken)
    {
        var tree = await clients.Directory.GetOrgTreeAsync(new GetOrgTreeRequest(), Headers(Hr), cancellationToken: cancellationToken);
        if (tree.OrgUnits.Count == 0)
        {
            return DemoState.Empty;
        }

        if (!tree.OrgUnits.Any(u => string.Equals(u.OrgUnitId, DemoCatalogue.RootId, StringComparison.Ordinal)))
        {
            return DemoState.Foreign;
        }

        var stories = await clients.Initiatives.ListSuccessStoriesAsync(new ListSuccessStoriesRequest { PageSize = 500 }, Headers(Hr),
            cancellationToken: cancellationToken);
        var titles = DemoCatalogue.Initiatives.Where(i => i.Story is not null).Select(i => i.Story!.Title).ToList();
        return titles.All(t => stories.Stories.Any(s => string.Equals(s.Title, t, StringComparison.Ordinal))) ? DemoState.Complete : DemoState.Partial;
    }

    /// <summary>
    /// Loads the demo unless it is complete already (then nothing is sent; <paramref name="force"/> sends every step again, which
    /// changes nothing). Refuses (<see cref="ForeignOrganisationException"/>) when the services hold another organisation.
    /// </summary>
    public async Task<DemoLoadResult> LoadAsync(bool force, IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
    {
        // Side by side: on a fresh start each is the first call into its services, which is slow (the services compile as they go).
        var detecting = DetectAsync(cancellationToken);
        var dating = TimelineAsync(cancellationToken);
        await Task.WhenAll(detecting, dating);
        var (before, timeline) = (detecting.Result, dating.Result);
        if (before == DemoState.Foreign)
        {
            throw new ForeignOrganisationException(
                $"The Directory holds another organisation (no org unit '{DemoCatalogue.RootId}'): the demo is loaded only into services that hold none.");
        }

        if (before == DemoState.Complete && !force)
        {
            return new DemoLoadResult(DemoLoadOutcome.AlreadyLoaded, before, timeline, [], []);
        }

        // Independent chains run side by side (the machine is mostly waiting on the services): the directory; the survey and its two
        // assessments; the end state; the catalogue and the rules. Initiatives need the catalogue and the people to have reached
        // Initiatives; observations and recognitions the rules and budgets to be in force in Incentives. The end state is the first dated
        // write (the budgets and the initiatives wait for it), so an interrupted first load leaves an anchor behind (see TimelineAsync).
        var timings = new List<(string, TimeSpan)>();
        async Task<T> Step<T>(string name, Func<Task<T>> step)
        {
            var took = Stopwatch.StartNew();
            var result = await step();
            lock (timings)
            {
                timings.Add((name, took.Elapsed));
            }

            return result;
        }

        var directory = Step(DirectoryStep, async () => { await DirectoryAsync(progress, cancellationToken); return 0; });
        var survey = Task.Run(async () =>
        {
            var items = await Step(SurveyStep, () => SurveyDesignAsync(progress, cancellationToken));
            await Step(BaselineStep, async () =>
            {
                await AssessmentAsync(BaselineStep, DemoActivity.BaselineAssessmentId, AssessmentKind.Baseline, "Culture baseline", timeline.BaselineOpens,
                    timeline.BaselineCloses, items, progress, cancellationToken);
                return 0;
            });
            var pulseItems = items.GroupBy(i => i.DimensionId, StringComparer.Ordinal).Select(g => g.First()).ToList();
            await Step(PulseStep, async () =>
            {
                await AssessmentAsync(PulseStep, DemoActivity.PulseAssessmentId, AssessmentKind.Pulse, "Culture pulse", timeline.PulseOpens, timeline.PulseCloses,
                    pulseItems, progress, cancellationToken);
                return 0;
            });
        }, cancellationToken);
        var endState = Step(EndStateStep, async () => { await EndStateAsync(timeline, progress, cancellationToken); return 0; });
        var catalogue = Task.Run(() => Step(CatalogueStep, async () => { await CatalogueAsync(progress, cancellationToken); return 0; }), cancellationToken);
        var budgets = Task.Run(async () =>
        {
            await endState;
            await Step(BudgetsStep, async () => { await BudgetsAsync(timeline, progress, cancellationToken); return 0; });
        }, cancellationToken);
        await Task.WhenAll(directory, catalogue, endState);
        var initiatives = Step(InitiativesStep, () => InitiativesAsync(timeline, progress, cancellationToken));

        // Rewards are decided by the rules and charged to the budgets in force when Incentives evaluates: both come first.
        await budgets;
        var recognitions = Step(RecognitionsStep, async () => { await RecognitionsAsync(progress, cancellationToken); return 0; });
        var ids = await initiatives;
        var observations = await Step(ObservationsStep, () => ObservationsAsync(timeline, ids, progress, cancellationToken));
        await Task.WhenAll(survey, recognitions);
        await Step(StoriesStep, async () => { await StoriesAsync(ids, observations, progress, cancellationToken); return 0; });
        return new DemoLoadResult(DemoLoadOutcome.Loaded, before, timeline, _notes, timings);
    }

    /// <summary>
    /// The anchor of the first load: from the baseline assessment (it opened 210 days before), else from the end state's first version
    /// (its targets are a year after), else now.
    /// </summary>
    private async Task<DemoTimeline> TimelineAsync(CancellationToken cancellationToken)
    {
        try
        {
            var baseline = await clients.Baselines.GetAssessmentAsync(new GetAssessmentRequest { AssessmentId = DemoActivity.BaselineAssessmentId }, Headers(Hr),
                cancellationToken: cancellationToken);
            return DemoTimeline.FromBaselineOpening(baseline.Assessment.OpensAt.ToDateTimeOffset());
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            var history = await clients.EndState.GetEndStateHistoryAsync(new GetEndStateHistoryRequest { ScopeOrgUnitId = DemoCatalogue.RootId }, Headers(Hr), cancellationToken: cancellationToken);
            return history.Versions.FirstOrDefault()?.Draft.Targets.FirstOrDefault()?.TargetDate is { } target
                ? DemoTimeline.FromTargetDate(target.ToDateTimeOffset())
                : DemoTimeline.StartingNow(time);
        }
    }

    // ---- Directory ----

    private async Task DirectoryAsync(IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
    {
        var total = DemoCatalogue.Units.Count + organisation.People.Count;
        progress?.Report(new DemoProgress(DirectoryStep, 0, total));
        var messages = new List<ImportDirectoryRequest>
        {
            new() { Options = new ImportOptions { IdempotencyKey = $"demo:{organisation.Fingerprint}:directory" } },
        };
        var line = 1;
        var units = new ImportDirectoryRequest();
        units.OrgUnits.AddRange(DemoCatalogue.Units.Select(u => new ImportOrgUnitRow { Line = ++line, OrgUnitId = u.Id, Name = u.Name, ParentId = u.ParentId, Kind = u.Kind }));
        messages.Add(units);
        foreach (var chunk in organisation.People.Chunk(500))
        {
            var message = new ImportDirectoryRequest();
            foreach (var person in chunk)
            {
                var row = new ImportEmployeeRow
                {
                    Line = ++line, EmployeeId = person.Id, DisplayName = person.Name, Email = person.Email, OrgUnitId = person.OrgUnitId, ManagerId = person.ManagerId,
                };
                row.Roles.AddRange(person.Roles);
                message.Employees.Add(row);
            }

            messages.Add(message);
        }

        await ServiceClient.ClientStreamAsync(clients.Directory.ImportDirectory(Headers(Hr), cancellationToken: cancellationToken), messages);
        progress?.Report(new DemoProgress(DirectoryStep, total, total));
    }

    // ---- Baselines ----

    private async Task<List<DemoItemRef>> SurveyDesignAsync(IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
    {
        var total = DemoCatalogue.Dimensions.Sum(d => 1 + d.Items.Count);
        var done = 0;
        progress?.Report(new DemoProgress(SurveyStep, 0, total));
        await InParallelAsync(DemoCatalogue.Dimensions, async (dimension, ct) =>
        {
            await clients.Baselines.DefineDimensionAsync(new DefineDimensionRequest
            {
                IdempotencyKey = $"demo:dimension:{dimension.Id}",
                DimensionId = dimension.Id,
                Fields = new DimensionFields { Name = dimension.Name, Description = dimension.Description, Facet = dimension.Facet, Scope = dimension.Scope },
            }, Headers(Hr), cancellationToken: ct);
            progress?.Report(new DemoProgress(SurveyStep, Interlocked.Increment(ref done), total));
        }, cancellationToken);
        var items = DemoCatalogue.Dimensions.SelectMany(d => d.Items.Select(i => (Dimension: d, Item: i))).ToList();
        await InParallelAsync(items, async (pair, ct) =>
        {
            await clients.Baselines.DefineItemAsync(new DefineItemRequest
            {
                IdempotencyKey = $"demo:item:{pair.Item.Id}", ItemId = pair.Item.Id, DimensionId = pair.Dimension.Id, Text = pair.Item.Text,
                ReverseScored = pair.Item.ReverseScored,
            }, Headers(Hr), cancellationToken: ct);
            progress?.Report(new DemoProgress(SurveyStep, Interlocked.Increment(ref done), total));
        }, cancellationToken);
        return [.. items.Select(p => new DemoItemRef(p.Item.Id, p.Dimension.Id, p.Item.ReverseScored))];
    }

    /// <summary>Creates the assessment (once the org tree has reached Baselines), submits the responses while it is open, closes and publishes it.</summary>
    private async Task AssessmentAsync(string step, string assessmentId, AssessmentKind kind, string title, DateTimeOffset opens, DateTimeOffset closes,
        IReadOnlyList<DemoItemRef> items, IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
    {
        var rows = DemoActivity.Responses(organisation, assessmentId, items, kind == AssessmentKind.Pulse);
        var total = rows.Count + 3;
        progress?.Report(new DemoProgress(step, 0, total));
        var create = new CreateAssessmentRequest
        {
            IdempotencyKey = $"demo:assessment:{assessmentId}",
            AssessmentId = assessmentId,
            Title = $"{title} {closes.UtcDateTime.Year}",
            Kind = kind,
            OpensAt = Timestamp.FromDateTimeOffset(opens),
            ClosesAt = Timestamp.FromDateTimeOffset(closes),
            PopulationOrgUnitIds = { DemoCatalogue.RootId },
            ItemIds = { items.Select(i => i.ItemId) },
        };
        var assessment = (await UntilKnownAsync("the org tree to reach Baselines",
            () => clients.Baselines.CreateAssessmentAsync(create, Headers(Hr), cancellationToken: cancellationToken).ResponseAsync, cancellationToken)).Assessment;
        assessment = (await clients.Baselines.GetAssessmentAsync(new GetAssessmentRequest { AssessmentId = assessment.AssessmentId }, Headers(Hr), cancellationToken: cancellationToken)).Assessment;
        progress?.Report(new DemoProgress(step, 1, total));
        if (assessment.Status == AssessmentStatus.Open)
        {
            var messages = new List<SubmitResponsesRequest> { new() { Header = new SubmitResponsesHeader { AssessmentId = assessmentId } } };
            messages.AddRange(rows.Chunk(1000).Select(chunk => new SubmitResponsesRequest { Rows = { chunk } }));
            await ServiceClient.ClientStreamAsync(clients.Baselines.SubmitResponses(Headers(Hr), cancellationToken: cancellationToken), messages);
        }

        progress?.Report(new DemoProgress(step, rows.Count + 1, total));
        await clients.Baselines.CloseAssessmentAsync(new CloseAssessmentRequest { IdempotencyKey = $"demo:close:{assessmentId}", AssessmentId = assessmentId }, Headers(Hr), cancellationToken: cancellationToken);
        await clients.Baselines.PublishScoresAsync(new PublishScoresRequest { IdempotencyKey = $"demo:publish:{assessmentId}", AssessmentId = assessmentId }, Headers(Hr), cancellationToken: cancellationToken);
        if (kind == AssessmentKind.Baseline)
        {
            await clients.Baselines.SetBaselineAsync(new SetBaselineRequest
            {
                IdempotencyKey = $"demo:baseline:{assessmentId}", ScopeOrgUnitId = DemoCatalogue.RootId, AssessmentId = assessmentId,
            }, Headers(Hr), cancellationToken: cancellationToken);
        }

        progress?.Report(new DemoProgress(step, total, total));
    }

    // ---- Incentives ----

    private async Task CatalogueAsync(IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
    {
        var total = DemoCatalogue.Behaviours.Count + 1;
        var done = 0;
        progress?.Report(new DemoProgress(CatalogueStep, 0, total));
        await InParallelAsync(DemoCatalogue.Behaviours, async (behaviour, ct) =>
        {
            var draft = new BehaviourDraft { Name = behaviour.Name, Description = behaviour.Description, Polarity = behaviour.Polarity, Examples = { behaviour.Examples } };
            draft.Dimensions.AddRange(behaviour.Dimensions.Select(d => new DimensionLink { DimensionId = d.DimensionId, Weight = d.Weight }));
            await clients.Incentives.DefineBehaviourAsync(new DefineBehaviourRequest { IdempotencyKey = $"demo:behaviour:{behaviour.Id}", BehaviourId = behaviour.Id, Behaviour = draft }, Headers(Hr), cancellationToken: ct);
            progress?.Report(new DemoProgress(CatalogueStep, Interlocked.Increment(ref done), total));
        }, cancellationToken);

        await clients.Incentives.UpdateIncentiveRulesAsync(new UpdateIncentiveRulesRequest { IdempotencyKey = "demo:incentive-rules", ExpectedVersion = 0, Rules = Rules() }, Headers(Hr), cancellationToken: cancellationToken);
        progress?.Report(new DemoProgress(CatalogueStep, total, total));
    }

    /// <summary>A monthly budget per unit for every month the observations fall in: 25 points a person.</summary>
    private async Task BudgetsAsync(DemoTimeline timeline, IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
    {
        var budgets = DemoCatalogue.Units.SelectMany(u => timeline.Months.Select(m => (Unit: u, Month: m))).ToList();
        var done = 0;
        progress?.Report(new DemoProgress(BudgetsStep, 0, budgets.Count));
        await InParallelAsync(budgets, async (budget, ct) =>
        {
            await clients.Incentives.SetBudgetAsync(new SetBudgetRequest
            {
                IdempotencyKey = $"demo:{organisation.Fingerprint}:budget:{budget.Unit.Id}:{budget.Month}", OrgUnitId = budget.Unit.Id, Period = budget.Month,
                Amount = 25 * Math.Max(1, organisation.MembersOf(budget.Unit.Id).Count),
            }, Headers(Hr), cancellationToken: ct);
            progress?.Report(new DemoProgress(BudgetsStep, Interlocked.Increment(ref done), budgets.Count));
        }, cancellationToken);
    }

    /// <summary>Independent writes, a few at a time (each is its own transaction in the service).</summary>
    private static Task InParallelAsync<T>(IEnumerable<T> items, Func<T, CancellationToken, ValueTask> write, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, write);

    /// <summary>Monthly points by source (customers' praise weighs most), a cap, badges, approval above 50 points, a peer allowance, anti-gaming.</summary>
    public static IncentiveRules Rules() => new()
    {
        Period = PeriodKind.Month,
        SourcePoints =
        {
            new SourcePoints { Source = ObservationSource.Manager, Points = 10 },
            new SourcePoints { Source = ObservationSource.Peer, Points = 5 },
            new SourcePoints { Source = ObservationSource.SystemIntegration, Points = 5 },
            new SourcePoints { Source = ObservationSource.CustomerFeedback, Points = 15 },
            new SourcePoints { Source = ObservationSource.PartnerFeedback, Points = 10 },
        },
        BehaviourPoints = { new BehaviourPoints { BehaviourId = "champions-customer", Source = ObservationSource.CustomerFeedback, Points = 60 } },
        CapPerEmployee = 150,
        CooldownMinutes = 60,
        Badges =
        {
            new BadgeRule { BadgeId = "first-steps", Name = "First steps", Threshold = 10 },
            new BadgeRule { BadgeId = "culture-builder", Name = "Culture builder", Threshold = 60 },
            new BadgeRule { BadgeId = "change-champion", Name = "Change champion", Threshold = 150 },
        },
        ApprovalThreshold = 50,
        PeerAllowance = 40,
        AntiGaming = new AntiGamingRules { ReciprocalMinCount = 3, ReciprocalWindowDays = 30, BurstMaxCount = 5, BurstWindowMinutes = 60 },
        ObservationsPublic = true,
        MinimumGroupSize = 5,
    };

    // ---- EndState ----

    private async Task EndStateAsync(DemoTimeline timeline, IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
    {
        var sponsors = new[] { organisation["ceo"], organisation["coo"] };
        var total = 2 + sponsors.Length;
        progress?.Report(new DemoProgress(EndStateStep, 0, total));
        var draft = new EndStateDraft
        {
            Vision = $"By {timeline.TargetDate.UtcDateTime:MMMM yyyy}, {DemoCatalogue.OrganisationName} is a cooperative where anyone can raise a concern " +
                "and be thanked for it, where every decision starts from the customer and the community we serve, and where units, partners " +
                "and suppliers work as one team that keeps its word and recognises each other's work.",
            SponsorIds = { sponsors.Select(s => s.Id) },
        };
        draft.Targets.AddRange(DemoCatalogue.Dimensions.Select(d => new DimensionTarget
        {
            DimensionId = d.Id, TargetScore = d.Target, TargetDate = Timestamp.FromDateTimeOffset(timeline.TargetDate),
        }));
        var scope = DemoCatalogue.RootId;
        var drafted = await clients.EndState.DraftEndStateAsync(new DraftEndStateRequest { IdempotencyKey = "demo:endstate:draft", ScopeOrgUnitId = scope, ExpectedVersion = 0, Draft = draft }, Headers(Hr), cancellationToken: cancellationToken);
        progress?.Report(new DemoProgress(EndStateStep, 1, total));
        var version = (await clients.EndState.ProposeEndStateAsync(new ProposeEndStateRequest
        {
            IdempotencyKey = "demo:endstate:propose", ScopeOrgUnitId = scope, ExpectedVersion = drafted.EndState.Version,
        }, Headers(Hr), cancellationToken: cancellationToken)).EndState.Version;
        progress?.Report(new DemoProgress(EndStateStep, 2, total));
        foreach (var (sponsor, index) in sponsors.Select((s, i) => (s, i)))
        {
            version = (await clients.EndState.EndorseEndStateAsync(new EndorseEndStateRequest
            {
                IdempotencyKey = "demo:endstate:endorse", ScopeOrgUnitId = scope, Version = version,
                Comment = index == 0 ? "This is the cooperative we promised our members." : "Operations is behind it; we start with speaking up.",
            }, Headers(clients.Token(sponsor.Id, sponsor.RoleNames)), cancellationToken: cancellationToken)).EndState.Version;
            progress?.Report(new DemoProgress(EndStateStep, 3 + index, total));
        }
    }

    // ---- Initiatives ----

    private async Task<Dictionary<string, string>> InitiativesAsync(DemoTimeline timeline, IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
    {
        var total = DemoCatalogue.Initiatives.Count * 3;
        var done = 0;
        progress?.Report(new DemoProgress(InitiativesStep, 0, total));
        var ids = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        await InParallelAsync(DemoCatalogue.Initiatives, async (initiative, _) =>
        {
            var manager = organisation[initiative.ChangeManagerSlot];
            var sponsor = organisation[initiative.SponsorSlot];
            var managerToken = clients.Token(manager.Id, manager.RoleNames);
            var people = organisation.People.Count(p => initiative.Scope.Contains(p.OrgUnitId, StringComparer.Ordinal));
            var draft = new InitiativeDraft
            {
                Name = initiative.Name,
                Purpose = initiative.Purpose,
                SponsorId = sponsor.Id,
                ChangeManagerId = manager.Id,
                ScopeOrgUnitIds = { initiative.Scope },
                DimensionIds = { initiative.Dimensions },
                TargetBehaviourIds = { initiative.Behaviours },
                Goals =
                {
                    new Goal { GoalId = "adoption", Kind = GoalKind.Adoption, Description = "A third of the people in scope show a target behaviour each month.", Target = 0.35 },
                    new Goal { GoalId = "observations", Kind = GoalKind.Count, Description = "Desired behaviour observed as often as there are people in scope.", Target = people },
                },
                Milestones =
                {
                    new Milestone
                    {
                        MilestoneId = "first-wave", Name = "First wave: desired behaviour seen by two in five", GoalId = "observations",
                        Target = Math.Max(1, Math.Round(people * 0.4)), DueOn = Timestamp.FromDateTimeOffset(timeline.Anchor + TimeSpan.FromDays(30)),
                    },
                    new Milestone
                    {
                        MilestoneId = "adoption", Name = "A third of the people, every month", GoalId = "adoption", Target = 0.35,
                        DueOn = Timestamp.FromDateTimeOffset(timeline.Anchor + TimeSpan.FromDays(120)),
                    },
                },
            };
            if (initiative.MissesAMilestone)
            {
                draft.Milestones.Add(new Milestone
                {
                    MilestoneId = "charter", Name = "Partner charter: three in five involved", GoalId = "adoption", Target = 0.6,
                    DueOn = Timestamp.FromDateTimeOffset(timeline.Anchor - TimeSpan.FromDays(14)),
                });
            }

            var proposal = new ProposeInitiativeRequest { IdempotencyKey = $"demo:initiative:{initiative.Key}", Initiative = draft };
            var proposed = await UntilKnownAsync("the catalogue and the people to reach Initiatives", () =>
                clients.Initiatives.ProposeInitiativeAsync(proposal, Headers(managerToken), cancellationToken: cancellationToken).ResponseAsync, cancellationToken);
            var id = proposed.Initiative.InitiativeId;
            ids[initiative.Key] = id;
            progress?.Report(new DemoProgress(InitiativesStep, Interlocked.Increment(ref done), total));
            await clients.Initiatives.SponsorInitiativeAsync(new SponsorInitiativeRequest { IdempotencyKey = $"demo:sponsor:{initiative.Key}", InitiativeId = id }, Headers(clients.Token(sponsor.Id, sponsor.RoleNames)), cancellationToken: cancellationToken);
            progress?.Report(new DemoProgress(InitiativesStep, Interlocked.Increment(ref done), total));
            await clients.Initiatives.ActivateInitiativeAsync(new ActivateInitiativeRequest { IdempotencyKey = $"demo:activate:{initiative.Key}", InitiativeId = id }, Headers(managerToken), cancellationToken: cancellationToken);
            progress?.Report(new DemoProgress(InitiativesStep, Interlocked.Increment(ref done), total));
        }, cancellationToken);

        return new Dictionary<string, string>(ids, StringComparer.Ordinal);
    }

    /// <summary>Each initiative's six months, recorded by its change manager in one client stream (all or nothing; the four side by side); returns the ids in order.</summary>
    private async Task<Dictionary<string, (IReadOnlyList<DemoObservation> Observations, IReadOnlyList<string> Ids)>> ObservationsAsync(DemoTimeline timeline,
        Dictionary<string, string> initiativeIds, IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
    {
        var all = DemoCatalogue.Initiatives.ToDictionary(i => i.Key, i => DemoActivity.Observations(organisation, timeline, i, initiativeIds[i.Key]),
            StringComparer.Ordinal);
        var total = all.Values.Sum(o => o.Count);
        var done = 0;
        progress?.Report(new DemoProgress(ObservationsStep, 0, total));
        var result = new ConcurrentDictionary<string, (IReadOnlyList<DemoObservation>, IReadOnlyList<string>)>(StringComparer.Ordinal);
        await InParallelAsync(DemoCatalogue.Initiatives, async (initiative, _) =>
        {
            var manager = organisation[initiative.ChangeManagerSlot];
            var observations = all[initiative.Key];
            var response = await UntilKnownAsync("the people to reach Initiatives", () =>
                ServiceClient.ClientStreamAsync(
                    clients.Initiatives.RecordObservations(Headers(clients.Token(manager.Id, manager.RoleNames)), cancellationToken: cancellationToken),
                    observations.Select(o => new RecordObservationsRequest { Observation = o.Input })), cancellationToken);
            result[initiative.Key] = (observations, [.. response.ObservationIds]);
            var recorded = Interlocked.Add(ref done, observations.Count);
            progress?.Report(new DemoProgress(ObservationsStep, recorded, total));
        }, cancellationToken);

        return new Dictionary<string, (IReadOnlyList<DemoObservation>, IReadOnlyList<string>)>(result, StringComparer.Ordinal);
    }

    /// <summary>Employees thank colleagues (a few at a time); a recipient Incentives does not know yet is waited for.</summary>
    private async Task RecognitionsAsync(IProgress<DemoProgress>? progress, CancellationToken cancellationToken)
    {
        var recognitions = DemoActivity.Recognitions(organisation);
        var done = 0;
        progress?.Report(new DemoProgress(RecognitionsStep, 0, recognitions.Count));
        await InParallelAsync(recognitions, async (r, ct) =>
        {
            var request = new GiveRecognitionRequest { IdempotencyKey = r.Key, BehaviourId = r.BehaviourId, Message = r.Message, Public = r.Public };
            request.RecipientIds.AddRange(r.Recipients.Select(p => p.Id));
            await UntilKnownAsync("the people to reach Incentives", () => clients.Incentives.GiveRecognitionAsync(request, Headers(clients.Token(r.Giver.Id, r.Giver.RoleNames)), cancellationToken: ct).ResponseAsync, ct);
            progress?.Report(new DemoProgress(RecognitionsStep, Interlocked.Increment(ref done), recognitions.Count));
        }, cancellationToken);
    }

    /// <summary>
    /// A story per initiative that has one, about three desired observations of its first month (the first recorded, so the first that
    /// Incentives rewards): once Incentives has rewarded them (so the story's evidence shows the rewards), its change manager drafts and
    /// submits it, its sponsor publishes it.
    /// </summary>
    private async Task StoriesAsync(Dictionary<string, string> initiativeIds,
        Dictionary<string, (IReadOnlyList<DemoObservation> Observations, IReadOnlyList<string> Ids)> observations, IProgress<DemoProgress>? progress,
        CancellationToken cancellationToken)
    {
        var withStories = DemoCatalogue.Initiatives.Where(i => i.Story is not null).ToList();
        var total = withStories.Count * 4;
        var done = 0;
        progress?.Report(new DemoProgress(StoriesStep, 0, total));
        await InParallelAsync(withStories, async (initiative, _) =>
        {
            var (list, ids) = observations[initiative.Key];
            var chosen = list.Select((o, i) => (Observation: o, Id: ids[i]))
                .Where(p => p.Observation.Input.Polarity == Polarity.Desired && p.Observation.Window == 0)
                .Take(3).ToList();
            await RewardsAsync(chosen.Select(c => (c.Observation.Input.EmployeeId, c.Id)).ToList(), cancellationToken);
            progress?.Report(new DemoProgress(StoriesStep, Interlocked.Increment(ref done), total));
            var manager = organisation[initiative.ChangeManagerSlot];
            var managerToken = clients.Token(manager.Id, manager.RoleNames);
            var story = (await clients.Initiatives.DraftSuccessStoryAsync(new DraftSuccessStoryRequest
            {
                IdempotencyKey = $"demo:story:{initiative.Key}",
                InitiativeId = initiativeIds[initiative.Key],
                Title = initiative.Story!.Title,
                Body = initiative.Story.Body,
                ObservationIds = { chosen.Select(c => c.Id) },
            }, Headers(managerToken), cancellationToken: cancellationToken)).Story;
            progress?.Report(new DemoProgress(StoriesStep, Interlocked.Increment(ref done), total));

            // A draft retried returns the story as it is now: submitting or publishing it again would be refused.
            if (story.Status == StoryStatus.Draft)
            {
                story = (await clients.Initiatives.SubmitSuccessStoryAsync(new SubmitSuccessStoryRequest { IdempotencyKey = $"demo:submit:{initiative.Key}", StoryId = story.StoryId }, Headers(managerToken), cancellationToken: cancellationToken)).Story;
            }

            progress?.Report(new DemoProgress(StoriesStep, Interlocked.Increment(ref done), total));
            if (story.Status != StoryStatus.Published)
            {
                var sponsor = organisation[initiative.SponsorSlot];
                await clients.Initiatives.PublishSuccessStoryAsync(new PublishSuccessStoryRequest { IdempotencyKey = $"demo:publish:{initiative.Key}", StoryId = story.StoryId }, Headers(clients.Token(sponsor.Id, sponsor.RoleNames)), cancellationToken: cancellationToken);
            }

            progress?.Report(new DemoProgress(StoriesStep, Interlocked.Increment(ref done), total));
        }, cancellationToken);
    }

    /// <summary>Waits (bounded) until Incentives has decided each observation (the employee's feed, read as hr, shows its reward).</summary>
    private async Task RewardsAsync(IReadOnlyList<(string EmployeeId, string ObservationId)> observations, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        var pending = observations.ToList();
        while (pending.Count > 0)
        {
            foreach (var (employee, observation) in pending.ToList())
            {
                var feed = await clients.Incentives.GetEmployeeFeedAsync(new GetEmployeeFeedRequest { EmployeeId = employee, Limit = 500 }, Headers(Hr), cancellationToken: cancellationToken);
                if (feed.Rewards.Any(r => string.Equals(r.ObservationId, observation, StringComparison.Ordinal)))
                {
                    pending.Remove((employee, observation));
                }
            }

            if (pending.Count == 0)
            {
                return;
            }

            if (waited.Elapsed > options.EventWait)
            {
                lock (_notes)
                {
                    _notes.Add($"Incentives had not rewarded {pending.Count} observation(s) of a story after {options.EventWait.TotalSeconds:0} s; the story was published without them.");
                }

                return;
            }

            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>
    /// Retries a write the service refuses because a reference has not reached it yet through events (INVALID_ARGUMENT: nothing was
    /// stored), until it is accepted or <see cref="DemoLoaderOptions.EventWait"/> has passed; then the refusal is thrown.
    /// </summary>
    private async Task<T> UntilKnownAsync<T>(string waitingFor, Func<Task<T>> call, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                return await call();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument && waited.Elapsed < options.EventWait)
            {
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(250, delay.TotalMilliseconds * 1.5));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
            {
                // The trailers carry the refusal's field violations (google.rpc.Status) on.
                throw new RpcException(new Status(e.StatusCode, $"Waited {options.EventWait.TotalSeconds:0} s for {waitingFor}; the service still refuses: {e.Status.Detail}"),
                    e.Trailers);
            }
        }
    }

    private static Metadata Headers(string token) => ServiceClient.Headers(token);
}
