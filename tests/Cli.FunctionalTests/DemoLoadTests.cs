using System.CommandLine;
using System.Diagnostics;
using Grpc.Core;
using B = Transformation.Baselines.V1;
using D = Transformation.Directory.V1;
using DemoActivity = Transformation.Cli.Demo.DemoActivity;
using DemoCatalogue = Transformation.Cli.Demo.DemoCatalogue;
using DemoCommand = Transformation.Cli.Demo.DemoCommand;
using DemoLoader = Transformation.Cli.Demo.DemoLoader;
using DemoLoaderOptions = Transformation.Cli.Demo.DemoLoaderOptions;
using DemoLoadOutcome = Transformation.Cli.Demo.DemoLoadOutcome;
using DemoOrganisation = Transformation.Cli.Demo.DemoOrganisation;
using DemoState = Transformation.Cli.Demo.DemoState;
using E = Transformation.EndState.V1;
using ExportCommand = Transformation.Cli.Export.ExportCommand;
using I = Transformation.Initiatives.V1;
using LoadCommand = Transformation.Cli.Load.LoadCommand;
using R = Transformation.Incentives.V1;
using ServiceClients = Transformation.Cli.Services.ServiceClients;

namespace Transformation.Cli.FunctionalTests;

/// <summary>
/// `transform demo load` against the five real services: the demo organisation of `transform run` (600 people) arrives through the
/// APIs with everything the demo promises, and loading again (detected, or forced through every step) changes nothing. The exports
/// and the load generator run as commands against the loaded organisation.
/// </summary>
public sealed class DemoLoadTests(DemoHost host) : IClassFixture<DemoHost>
{
    private const int Employees = 600;

    private static readonly DemoOrganisation Organisation = DemoOrganisation.Generate(Employees);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TheDemoLoadsThroughTheApisAndLoadingAgainChangesNothing()
    {
        var first = await host.FirstLoadAsync(Organisation);
        (first.Outcome, first.Before).ShouldBe((DemoLoadOutcome.Loaded, DemoState.Empty));
        first.Notes.ShouldBeEmpty();
        using var clients = host.Clients();
        var hr = Token(clients, "hr-lead");

        // Directory: 8 units, everyone in their unit, managers who exist, the roles the demo needs.
        var tree = await clients.Directory.GetOrgTreeAsync(new(), Headers(hr), cancellationToken: Ct);
        tree.OrgUnits.Select(u => u.OrgUnitId).Order(StringComparer.Ordinal).ShouldBe(DemoCatalogue.Units.Select(u => u.Id).Order(StringComparer.Ordinal));
        var everyone = new List<D.EmployeeSnapshot>();
        foreach (var unit in DemoCatalogue.Units)
        {
            var members = (await clients.Directory.ListUnitMembersAsync(new D.ListUnitMembersRequest { OrgUnitId = unit.Id }, Headers(hr), cancellationToken: Ct)).Employees;
            members.Count.ShouldBe(Organisation.MembersOf(unit.Id).Count, $"members of {unit.Id}");
            members.Count.ShouldBeGreaterThanOrEqualTo(6, $"members of {unit.Id}");
            everyone.AddRange(members);
        }

        everyone.Count.ShouldBe(Employees);
        everyone.Select(e => e.EmployeeId).Distinct(StringComparer.Ordinal).Count().ShouldBe(Employees);
        everyone.Where(e => e.ManagerId.Length == 0).Select(e => e.EmployeeId).ShouldBe([Organisation["ceo"].Id]);
        everyone.Where(e => e.ManagerId.Length > 0).ShouldAllBe(e => everyone.Any(m => m.EmployeeId == e.ManagerId));
        everyone.Count(e => e.Roles.Contains(D.Role.Hr)).ShouldBeGreaterThanOrEqualTo(1);
        everyone.Count(e => e.Roles.Contains(D.Role.Executive)).ShouldBeGreaterThanOrEqualTo(2);
        everyone.Count(e => e.Roles.Contains(D.Role.ChangeManager)).ShouldBeGreaterThanOrEqualTo(4);
        everyone.ShouldAllBe(e => e.Roles.Contains(D.Role.Employee) && e.DisplayName.Contains(' ') && e.Email.EndsWith("@" + DemoCatalogue.EmailDomain));

        // Baselines: both assessments closed and published with their responses, the baseline set, scores that differ by unit.
        foreach (var id in new[] { DemoActivity.BaselineAssessmentId, DemoActivity.PulseAssessmentId })
        {
            var assessment = (await clients.Baselines.GetAssessmentAsync(new B.GetAssessmentRequest { AssessmentId = id }, Headers(hr), cancellationToken: Ct)).Assessment;
            (assessment.Status, assessment.Published).ShouldBe((B.AssessmentStatus.Closed, true));
            assessment.Respondents.ShouldBeGreaterThan(Employees / 2);
        }

        (await clients.Baselines.ListBaselinesAsync(new B.ListBaselinesRequest { ScopeOrgUnitId = DemoCatalogue.RootId }, Headers(hr), cancellationToken: Ct)).Baselines.Single().AssessmentId.ShouldBe(DemoActivity.BaselineAssessmentId);
        var heatmap = await clients.Baselines.GetHeatmapAsync(new B.GetHeatmapRequest { AssessmentId = DemoActivity.BaselineAssessmentId, DimensionIds = { "speak-up" } }, Headers(hr), cancellationToken: Ct);
        var reported = heatmap.Cells.Where(c => !c.Suppressed).ToList();
        reported.Count.ShouldBeGreaterThanOrEqualTo(5);
        (reported.Max(c => c.Mean) - reported.Min(c => c.Mean)).ShouldBeGreaterThan(0.5, "the units' speak-up scores differ");

        // EndState: endorsed by both named sponsors; the gap reads the baseline.
        var endState = await clients.EndState.GetEndStateAsync(new E.GetEndStateRequest { ScopeOrgUnitId = DemoCatalogue.RootId }, Headers(hr), cancellationToken: Ct);
        endState.Endorsed.ShouldNotBeNull();
        endState.Endorsed.Status.ShouldBe(E.EndStateStatus.Endorsed);
        endState.Endorsed.Endorsements.Select(e => e.SponsorId).ShouldBe([Organisation["ceo"].Id, Organisation["coo"].Id], ignoreOrder: true);
        endState.Endorsed.Draft.Targets.Count.ShouldBe(DemoCatalogue.Dimensions.Count);
        var gap = await clients.EndState.GetGapAsync(new E.GetGapRequest { ScopeOrgUnitId = DemoCatalogue.RootId }, Headers(hr), cancellationToken: Ct);
        gap.Dimensions.Count.ShouldBe(DemoCatalogue.Dimensions.Count);
        gap.Dimensions.ShouldAllBe(d => d.Status != E.GapStatus.NoBaseline && d.Baseline.AssessmentId == DemoActivity.BaselineAssessmentId);

        // Incentives: 20 behaviours, desired and unacceptable; the rules; a budget per unit and month.
        var behaviours = (await clients.Incentives.ListBehavioursAsync(new R.ListBehavioursRequest(), Headers(hr), cancellationToken: Ct)).Behaviours;
        behaviours.Count.ShouldBe(20);
        behaviours.Count(b => b.Polarity == I.Polarity.Unacceptable).ShouldBe(6);
        (await clients.Incentives.GetIncentiveRulesAsync(new R.GetIncentiveRulesRequest(), Headers(hr), cancellationToken: Ct)).Version.ShouldBe(1);
        var budget = await clients.Incentives.GetBudgetAsync(new R.GetBudgetRequest { OrgUnitId = "operations", Period = first.Timeline.Months[^1] }, Headers(hr), cancellationToken: Ct);
        budget.Budget.Amount.ShouldBe(25 * Organisation.MembersOf("operations").Count);

        // Initiatives: four, sponsored and active; their observations as generated; progress folded from them.
        var initiatives = (await clients.Initiatives.ListInitiativesAsync(new I.ListInitiativesRequest { Status = I.InitiativeStatus.Active }, Headers(hr), cancellationToken: Ct)).Initiatives;
        initiatives.Select(i => i.Definition.Name).ShouldBe(DemoCatalogue.Initiatives.Select(i => i.Name), ignoreOrder: true);
        initiatives.ShouldAllBe(i => i.SponsoredAt != null && i.ActivatedAt != null);
        var desired = new HashSet<string>(StringComparer.Ordinal);
        var unacceptable = new HashSet<string>(StringComparer.Ordinal);
        foreach (var initiative in DemoCatalogue.Initiatives)
        {
            var definition = initiatives.Single(i => i.Definition.Name == initiative.Name);
            var id = definition.InitiativeId;
            var expected = DemoActivity.Observations(Organisation, first.Timeline, initiative, id);
            var recorded = await ObservationsAsync(clients, id, hr);
            recorded.Select(o => o.Input.IdempotencyKey).ShouldBe(expected.Select(o => o.Input.IdempotencyKey), ignoreOrder: true);
            recorded.Select(o => o.Input.ObservedAt.ToDateTimeOffset()).ShouldAllBe(t => t <= first.Timeline.Anchor && t >= first.Timeline.WindowStart(0));
            desired.UnionWith(recorded.Where(o => o.Input.Polarity == I.Polarity.Desired).Select(o => o.ObservationId));
            unacceptable.UnionWith(recorded.Where(o => o.Input.Polarity == I.Polarity.Unacceptable).Select(o => o.ObservationId));
            // The progress folds the initiative's observations and those of no initiative in its scope of its target behaviours
            // (the load command's, when its test ran first).
            await EventuallyAsync($"the progress of {initiative.Key} folds its observations", async () =>
            {
                var unassigned = (await AllObservationsAsync(clients, hr)).Count(o => o.Input.InitiativeId.Length == 0
                    && definition.Definition.ScopeOrgUnitIds.Contains(o.OrgUnitId) && definition.Definition.TargetBehaviourIds.Contains(o.Input.BehaviourId));
                var progress = (await clients.Initiatives.GetInitiativeAsync(new I.GetInitiativeRequest { InitiativeId = id }, Headers(hr), cancellationToken: Ct)).Initiative.Progress;
                return progress.DesiredObservations + progress.UnacceptableObservations == expected.Count + unassigned;
            });
        }

        desired.Count.ShouldBeGreaterThan(unacceptable.Count);
        unacceptable.ShouldNotBeEmpty();

        // Incentives decided every observation through the events: a reward for each desired one, a call-out for each unacceptable one.
        await EventuallyAsync("Incentives decides every demo observation", async () =>
            (await RewardedAsync(clients, hr)).Count(desired.Contains) == desired.Count && (await CalledOutAsync(clients, hr)).Count(unacceptable.Contains) == unacceptable.Count);
        var rewards = await FeedsAsync(clients, hr);
        rewards.Where(r => desired.Contains(r.ObservationId)).ShouldContain(r => r.Status == R.RewardStatus.Granted && r.Public && r.Points > 0);
        rewards.Where(r => desired.Contains(r.ObservationId)).ShouldContain(r => r.Status == R.RewardStatus.PendingApproval, "customers' championing waits for approval");

        // Peer recognition: a reward for each recipient of each recognition, from its giver.
        var recognitions = DemoActivity.Recognitions(Organisation);
        rewards.Where(r => r.Source == I.ObservationSource.Peer).Select(r => (r.GiverId, r.EmployeeId))
            .ShouldBe(recognitions.SelectMany(g => g.Recipients.Select(p => (g.Giver.Id, p.Id))), ignoreOrder: true);
        var feed = (await clients.Incentives.GetPublicFeedAsync(new R.GetPublicFeedRequest { Limit = 500 }, Headers(hr), cancellationToken: Ct)).Rewards;
        feed.ShouldNotBeEmpty();
        feed.ShouldAllBe(r => r.Public && r.Status == R.RewardStatus.Granted);

        // Two published success stories pointing at rewarded observations.
        var stories = (await clients.Initiatives.ListSuccessStoriesAsync(new I.ListSuccessStoriesRequest { PageSize = 50 }, Headers(hr), cancellationToken: Ct)).Stories;
        stories.Select(s => s.Title).ShouldBe(DemoCatalogue.Initiatives.Where(i => i.Story is not null).Select(i => i.Story!.Title), ignoreOrder: true);
        stories.ShouldAllBe(s => s.Status == I.StoryStatus.Published && s.Evidence.ObservationIds.Count == 3 && s.Evidence.ObservationIds.All(desired.Contains));

        // Loading again: the complete demo is detected and nothing is sent; forced through every step, nothing changes either.
        var before = await SnapshotAsync(clients, hr);
        var loader = new DemoLoader(clients, Organisation, DemoLoaderOptions.Default, TimeProvider.System);
        (await loader.DetectAsync(Ct)).ShouldBe(DemoState.Complete);
        (await RunAsync(["demo", "load", "--employees", $"{Employees}", .. host.Options("directory", "baselines", "incentives", "initiatives", "endstate")]))
            .ShouldBe(0);
        (await SnapshotAsync(clients, hr)).ShouldBe(before);

        var forced = await loader.LoadAsync(force: true, progress: null, Ct);
        (forced.Outcome, forced.Before, forced.Timeline).ShouldBe((DemoLoadOutcome.Loaded, DemoState.Complete, first.Timeline));
        (await SnapshotAsync(clients, hr)).ShouldBe(before);
    }

    [Fact]
    public async Task ExportsWriteTheDirectoryTheRecognitionFeedAndObservationsAsCsvAndJson()
    {
        await host.FirstLoadAsync(Organisation);
        using var clients = host.Clients();
        var hr = Token(clients, "hr-lead");
        var file = Path.Combine(host.DataDirectory, $"export-{Guid.NewGuid():n}");

        // The directory as CSV, with a name a spreadsheet would run as a formula: the cell is neutralised ('= in a quoted field),
        // and the file reads back as an import file that changes nothing (the name included).
        var person = (await clients.Directory.GetEmployeeAsync(new D.GetEmployeeRequest { EmployeeId = Organisation.People[5].Id }, Headers(hr), cancellationToken: Ct)).Employee;
        await RenameAsync(clients, person, "=HYPERLINK(\"http://evil.example\",\"x\")", hr);
        (await RunAsync(["export", "directory", "--format", "csv", "--output", file, .. host.Options("directory")])).ShouldBe(0);
        (await File.ReadAllTextAsync(file, Ct)).ShouldContain($",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",{person.Email},");
        var reimport = await Transformation.Cli.Directory.DirectoryCommand.SendAsync(new FileInfo(file), clients.Directory, hr, dryRun: true, force: false, null, Ct);
        reimport.Problems.ShouldBeEmpty();
        reimport.Response!.Changes.ShouldBeEmpty();
        await RenameAsync(clients, person, person.DisplayName, hr);

        // One initiative's observations as JSON: the recorded ones, in protobuf's JSON form.
        var initiative = (await clients.Initiatives.ListInitiativesAsync(new I.ListInitiativesRequest(), Headers(hr), cancellationToken: Ct)).Initiatives.First(i => i.Definition.Name == DemoCatalogue.Initiatives[0].Name);
        var recorded = await ObservationsAsync(clients, initiative.InitiativeId, hr);
        (await RunAsync(["export", "observations", "--format", "json", "--initiative", initiative.InitiativeId, "--output", file,
            .. host.Options("initiatives")])).ShouldBe(0);
        using (var json = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(file, Ct)))
        {
            var items = json.RootElement.EnumerateArray().ToList();
            items.Select(o => o.GetProperty("observation_id").GetString()).ShouldBe(recorded.Select(o => o.ObservationId));
            items.ShouldAllBe(o => o.GetProperty("input").GetProperty("initiative_id").GetString() == initiative.InitiativeId);
        }

        // The export reads what its caller may: the initiative's change manager gets its desired observations, never a call-out (hr's alone).
        recorded.ShouldContain(o => o.Input.Polarity == I.Polarity.Unacceptable);
        var changeManager = Token(clients, DemoCatalogue.Initiatives[0].ChangeManagerSlot);
        (await RunAsync(["export", "observations", "--format", "json", "--initiative", initiative.InitiativeId, "--token", changeManager, "--output", file,
            .. host.Options("initiatives")])).ShouldBe(0);
        using (var json = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(file, Ct)))
        {
            json.RootElement.EnumerateArray().Select(o => o.GetProperty("observation_id").GetString())
                .ShouldBe(recorded.Where(o => o.Input.Polarity == I.Polarity.Desired).Select(o => o.ObservationId));
        }

        // The public recognition feed as CSV, newest first, across pages: every granted public reward (as the people's own feeds, read
        // by hr, show them), the first page as the feed gives it.
        var firstPage = (await clients.Incentives.GetPublicFeedAsync(new R.GetPublicFeedRequest { Limit = 500 }, Headers(hr), cancellationToken: Ct)).Rewards;
        var published = (await FeedsAsync(clients, hr)).Where(r => r.Public && r.Status == R.RewardStatus.Granted).Select(r => r.RewardId).ToList();
        published.Count.ShouldBeGreaterThan(firstPage.Count, "the feed has more than one page");
        (await RunAsync(["export", "recognitions", "--output", file, .. host.Options("incentives")])).ShouldBe(0);
        var lines = await File.ReadAllLinesAsync(file, Ct);
        lines[0].ShouldBe(string.Join(',', Transformation.Cli.Export.Exports.RecognitionColumns));
        var exported = lines.Skip(1).Select(l => l.Split(',')[0]).ToList();
        exported.ShouldBe(published, ignoreOrder: true);
        exported.Take(firstPage.Count).ShouldBe(firstPage.Select(r => r.RewardId));
    }

    [Fact]
    public async Task TheLoadCommandRecordsObservationsThatReachIncentives()
    {
        await host.FirstLoadAsync(Organisation);
        using var clients = host.Clients();
        var hr = Token(clients, "hr-lead");
        var before = await AllObservationsAsync(clients, hr);

        (await RunAsync(["load", "observations", "--count", "40", "--rate", "200", "--concurrency", "4", "--batch", "1",
            .. host.Options("directory", "incentives", "initiatives")])).ShouldBe(0);
        (await RunAsync(["load", "observations", "--count", "30", "--rate", "300", "--concurrency", "2", "--batch", "10",
            .. host.Options("directory", "incentives", "initiatives")])).ShouldBe(0);

        var generated = (await AllObservationsAsync(clients, hr)).Where(o => !before.Any(b => b.ObservationId == o.ObservationId)).ToList();
        generated.Count.ShouldBe(70);
        generated.ShouldAllBe(o => o.RecordedBy == LoadCommand.Subject && o.Input.Source == I.ObservationSource.SystemIntegration
            && Organisation.ById.ContainsKey(o.Input.EmployeeId));

        // Each one goes on to Incentives: a reward (desired) or a call-out (unacceptable). Waiting here also leaves the system quiet for the other tests.
        var ids = generated.Select(o => o.ObservationId).ToHashSet(StringComparer.Ordinal);
        await EventuallyAsync("Incentives decides every generated observation", async () =>
            (await RewardedAsync(clients, hr)).Count(ids.Contains) + (await CalledOutAsync(clients, hr)).Count(ids.Contains) == ids.Count);
    }

    [Fact]
    public async Task HelpExplainsEveryNewCommand()
    {
        foreach (var command in new[] { "demo load", "demo identities", "export directory", "export recognitions", "export observations", "load observations" })
        {
            var output = new StringWriter();
            var root = Root();
            var parsed = root.Parse([.. command.Split(' '), "--help"]);
            (await parsed.InvokeAsync(new InvocationConfiguration { Output = output }, Ct)).ShouldBe(0);
            var text = output.ToString();
            text.ShouldContain("Usage:");
            text.ShouldContain("--data");
            text.Length.ShouldBeGreaterThan(400, command);
        }
    }

    private static RootCommand Root() => new() { DemoCommand.Create(), ExportCommand.Create(), LoadCommand.Create() };

    private static async Task<int> RunAsync(string[] args) => await Root().Parse(args).InvokeAsync(cancellationToken: Ct);

    private static Task<D.UpsertEmployeeResponse> RenameAsync(ServiceClients clients, D.EmployeeSnapshot person, string name, string token)
    {
        var request = new D.UpsertEmployeeRequest
        {
            IdempotencyKey = Guid.NewGuid().ToString(), EmployeeId = person.EmployeeId, DisplayName = name, Email = person.Email, OrgUnitId = person.OrgUnitId,
            ManagerId = person.ManagerId, Active = person.Active,
        };
        request.Roles.AddRange(person.Roles);
        return clients.Directory.UpsertEmployeeAsync(request, Headers(token), cancellationToken: Ct).ResponseAsync;
    }

    private static string Token(ServiceClients clients, string slot) => clients.Token(Organisation[slot].Id, Organisation[slot].RoleNames);

    private static Metadata Headers(string token) => ServiceClients.Headers(token);

    private static async Task<List<I.Observation>> ObservationsAsync(ServiceClients clients, string initiativeId, string token)
    {
        var all = new List<I.Observation>();
        var request = new I.ListObservationsRequest { InitiativeId = initiativeId, PageSize = 500 };
        while (true)
        {
            var page = await clients.Initiatives.ListObservationsAsync(request, Headers(token), cancellationToken: Ct);
            all.AddRange(page.Observations);
            if (page.NextPageToken.Length == 0)
            {
                return all;
            }

            request.PageToken = page.NextPageToken;
        }
    }

    private static Task<List<I.Observation>> AllObservationsAsync(ServiceClients clients, string token) => ObservationsAsync(clients, "", token);

    /// <summary>Every person's feed, read as hr: every outcome but call-outs (granted, pending, flagged, declined, rejected).</summary>
    private static async Task<List<R.Reward>> FeedsAsync(ServiceClients clients, string token)
    {
        var rewards = new List<R.Reward>();
        foreach (var person in Organisation.People)
        {
            var feed = await clients.Incentives.GetEmployeeFeedAsync(new R.GetEmployeeFeedRequest { EmployeeId = person.Id, Limit = 500 }, Headers(token), cancellationToken: Ct);
            feed.Rewards.Count.ShouldBeLessThan(500, "one page holds a person's whole feed");
            rewards.AddRange(feed.Rewards);
        }

        return rewards;
    }

    /// <summary>Observation ids with an outcome on someone's feed.</summary>
    private static async Task<List<string>> RewardedAsync(ServiceClients clients, string token) =>
        [.. (await FeedsAsync(clients, token)).Select(r => r.ObservationId)];

    private static async Task<List<string>> CalledOutAsync(ServiceClients clients, string token)
    {
        var callOuts = (await clients.Incentives.ListCallOutsAsync(new R.ListCallOutsRequest { Limit = 500 }, Headers(token), cancellationToken: Ct)).CallOuts;
        callOuts.Count.ShouldBeLessThan(500, "one page holds every call-out");
        return [.. callOuts.Select(c => c.ObservationId)];
    }

    /// <summary>What the services hold, read through their APIs, as lines to compare (any new version, row, audit entry or reward shows).</summary>
    private static async Task<List<string>> SnapshotAsync(ServiceClients clients, string hr)
    {
        var lines = new List<string>();
        using (var call = clients.Directory.StreamDirectorySnapshot(new D.StreamDirectorySnapshotRequest(), Headers(hr), cancellationToken: Ct))
        {
            await foreach (var item in call.ResponseStream.ReadAllAsync(Ct))
            {
                lines.Add(item.OrgUnit is { } unit ? $"unit {unit.OrgUnitId} v{unit.Version}" : $"employee {item.Employee.EmployeeId} v{item.Employee.Version} {item.Employee.Active}");
            }
        }

        var dimensions = await clients.Baselines.ListDimensionsAsync(new(), Headers(hr), cancellationToken: Ct);
        lines.Add($"dimensions {dimensions.Dimensions.Count} items {dimensions.Items.Count} versions {dimensions.Dimensions.Sum(d => d.Version)}");
        foreach (var id in new[] { DemoActivity.BaselineAssessmentId, DemoActivity.PulseAssessmentId })
        {
            lines.Add((await clients.Baselines.GetAssessmentAsync(new B.GetAssessmentRequest { AssessmentId = id }, Headers(hr), cancellationToken: Ct)).Assessment.ToString());
        }

        lines.AddRange((await clients.Baselines.ListBaselinesAsync(new(), Headers(hr), cancellationToken: Ct))
            .Baselines.Select(b => b.ToString()));
        lines.AddRange((await clients.EndState.GetEndStateHistoryAsync(new E.GetEndStateHistoryRequest { ScopeOrgUnitId = DemoCatalogue.RootId }, Headers(hr), cancellationToken: Ct)).Versions.Select(v => $"end state v{v.Version} {v.Status}"));
        lines.Add($"end state audit {(await clients.EndState.ListAuditEntriesAsync(new(), Headers(hr), cancellationToken: Ct)).Entries.Count}");
        lines.AddRange((await clients.Incentives.ListBehavioursAsync(new R.ListBehavioursRequest { IncludeRetired = true }, Headers(hr), cancellationToken: Ct)).Behaviours.Select(b => $"behaviour {b.BehaviourId} v{b.Version}"));
        lines.Add($"incentives audit {(await clients.Incentives.ListAuditEntriesAsync(new Audit.V1.ListAuditEntriesRequest { Limit = 500 }, Headers(hr), cancellationToken: Ct)).Entries.Count}");
        foreach (var person in Organisation.People)
        {
            var feed = await clients.Incentives.GetEmployeeFeedAsync(new R.GetEmployeeFeedRequest { EmployeeId = person.Id, Limit = 500 }, Headers(hr), cancellationToken: Ct);
            lines.Add($"feed {person.Id}: {string.Join(' ', feed.Rewards.Select(r => $"{r.RewardId}/{r.Status}/{r.Points}").Order(StringComparer.Ordinal))} badges {feed.Badges.Count}");
        }

        lines.Add($"call-outs {string.Join(' ', (await CalledOutAsync(clients, hr)).Order(StringComparer.Ordinal))}");
        foreach (var initiative in (await clients.Initiatives.ListInitiativesAsync(new(), Headers(hr), cancellationToken: Ct)).Initiatives)
        {
            lines.Add($"initiative {initiative.InitiativeId} {initiative.Status} {initiative.Progress.DesiredObservations}/{initiative.Progress.UnacceptableObservations}");
        }

        lines.Add($"observations {string.Join(' ', (await AllObservationsAsync(clients, hr)).Select(o => o.ObservationId))}");
        lines.AddRange((await clients.Initiatives.ListSuccessStoriesAsync(new I.ListSuccessStoriesRequest { PageSize = 500 }, Headers(hr), cancellationToken: Ct)).Stories.Select(s => $"story {s.StoryId} {s.Status} {s.PublishedAt}"));
        return lines;
    }

    /// <summary>Waits (bounded) for an effect that travels by events; fails naming it when it never comes.</summary>
    private static async Task EventuallyAsync(string what, Func<Task<bool>> condition)
    {
        var waited = Stopwatch.StartNew();
        while (!await condition())
        {
            waited.Elapsed.ShouldBeLessThan(TimeSpan.FromMinutes(2), $"waiting for {what}");
            await Task.Delay(200, Ct);
        }
    }
}
