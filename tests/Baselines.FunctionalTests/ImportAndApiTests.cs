using System.CommandLine;
using System.Globalization;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using MathNet.Numerics.Distributions;
using Transformation.Baselines.V1;
using Transformation.EventBus;
using Transformation.ServiceDefaults.Identity;
using BaselinesCommand = Transformation.Cli.Baselines.BaselinesCommand;
using BaselinesImport = Transformation.Cli.Baselines.BaselinesImport;
using ImportResult = Transformation.Cli.Baselines.ImportResult;
using ServiceClients = Transformation.Cli.Services.ServiceClients;
using Grpc.Core;

namespace Transformation.Baselines.FunctionalTests;

/// <summary>`transform baselines import` against the running service, and the API rules the first tests left out.</summary>
public sealed class ImportAndApiTests(BaselinesHost host) : IClassFixture<BaselinesHost>, IDisposable
{
    private const string Header = "respondent_token,org_unit_id,tenure_band,role_level,location";

    private readonly List<string> _files = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        foreach (var file in _files)
        {
            File.Delete(file);
        }
    }

    /// <summary>Units root → a, b, c; dimensions d1 (items 1, 2r) and d2 (item 3); an open assessment over root.</summary>
    private async Task<(string Assessment, string[] Items)> SetUpAsync(string prefix, string suffix = "q1")
    {
        string root = $"{prefix}-root", d1 = $"{prefix}-d1", d2 = $"{prefix}-d2";
        string[] items = [$"{prefix}-i1", $"{prefix}-i2", $"{prefix}-i3"];
        if (suffix == "q1")
        {
            await host.UnitsAsync((root, ""), ($"{prefix}-a", root), ($"{prefix}-b", root), ($"{prefix}-c", root));
            foreach (var dimension in new[] { d1, d2 })
            {
                await host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", new DefineDimensionRequest
                {
                    IdempotencyKey = dimension, DimensionId = dimension,
                    Fields = new DimensionFields { Name = dimension, Facet = Facet.Experiences, Scope = InteractionScope.Internal },
                });
            }

            foreach (var (item, dimension, reverse) in new[] { (items[0], d1, false), (items[1], d1, true), (items[2], d2, false) })
            {
                await host.CallAsync<DefineItemRequest, DefineItemResponse>("DefineItem", new DefineItemRequest
                {
                    IdempotencyKey = item, ItemId = item, DimensionId = dimension, Text = "Statement", ReverseScored = reverse,
                });
            }
        }

        var id = $"{prefix}-{suffix}";
        await host.CallAsync<CreateAssessmentRequest, CreateAssessmentResponse>("CreateAssessment", new CreateAssessmentRequest
        {
            IdempotencyKey = id, AssessmentId = id, Title = id, Kind = AssessmentKind.Baseline,
            OpensAt = Timestamp.FromDateTime(DateTime.UtcNow), ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(7)),
            PopulationOrgUnitIds = { root }, ItemIds = { items },
        });
        return (id, items);
    }

    private string WriteFile(string text) => WriteFile(Encoding.UTF8.GetBytes(text));

    private string WriteFile(byte[] bytes)
    {
        var file = Path.Combine(Path.GetTempPath(), $"baselines-{Guid.NewGuid():N}.csv");
        _files.Add(file);
        File.WriteAllBytes(file, bytes);
        return file;
    }

    /// <summary>A header and <paramref name="rows"/> rows (line = index + 2) of the given unit; <paramref name="change"/> may edit a line.</summary>
    private static string Csv(string[] items, string unit, int rows, string answers = "4,2,5", Func<int, string, string?>? change = null)
    {
        var text = new StringBuilder(Header).Append(',').Append(string.Join(',', items)).Append('\n');
        for (var i = 0; i < rows; i++)
        {
            var line = $"{unit}-t{i},{unit},0-2,ic,berlin,{answers}";
            text.Append(change?.Invoke(i + 2, line) ?? line).Append('\n');
        }

        return text.ToString();
    }

    private async Task<ImportResult> ImportAsync(string file, string assessment, int batchSize = 1000)
    {
        // The command's import takes the generated client, as `transform baselines import` makes it.
        using var channel = ServiceClients.Channel(new Uri($"http://127.0.0.1:{host.GrpcPort}"));
        return await BaselinesImport.ImportAsync(new FileInfo(file), assessment, new BaselineService.BaselineServiceClient(channel), host.Token(Roles.Hr), batchSize, null,
            Ct);
    }

    private async Task<int> RunAsync(string file, string assessment, params string[] options)
    {
        var root = new RootCommand { BaselinesCommand.Create() };
        string[] args = ["baselines", "import", file, "--assessment", assessment, "--service", $"http://127.0.0.1:{host.GrpcPort}",
            "--token", host.Token(Roles.Hr), .. options];
        return await root.Parse(args).InvokeAsync(cancellationToken: Ct);
    }

    private async Task ShouldHaveNothingAsync(string assessment)
    {
        (await host.ScalarAsync($"SELECT count(*) FROM responses WHERE assessment_id = '{assessment}'")).ShouldBe(0);
        (await host.ScalarAsync($"SELECT count(*) FROM cells WHERE assessment_id = '{assessment}'")).ShouldBe(0);
        (await host.ScalarAsync($"SELECT respondents FROM assessments WHERE assessment_id = '{assessment}'")).ShouldBe(0);
    }

    private static void ShouldName(ImportResult result, long line, string column)
    {
        result.Succeeded.ShouldBeFalse();
        result.Problems.ShouldContain(p => p.Line == line && p.Column == column,
            string.Join("; ", result.Problems.Select(p => $"{p.Line}/{p.Column}: {p.Problem}")));
    }

    [Fact]
    public async Task EveryBadFileNamesTheLineAndColumnAndStoresNothing()
    {
        var (id, items) = await SetUpAsync("m1");
        const string unit = "m1-a";

        // Columns: one missing, one unknown.
        ShouldName(await ImportAsync(WriteFile(Csv(items, unit, 10).Replace(",location,", ",place,", StringComparison.Ordinal)), id), 1, "location");
        ShouldName(await ImportAsync(WriteFile(Csv(items, unit, 10).Replace($",{items[2]}\n", ",m1-i9\n", StringComparison.Ordinal)), id), 1, items[2]);
        // Values: out of range, non-numeric, a row with too few fields.
        ShouldName(await ImportAsync(WriteFile(Csv(items, unit, 10, change: (l, t) => l == 7 ? t[..^1] + "6" : null)), id), 7, items[2]);
        ShouldName(await ImportAsync(WriteFile(Csv(items, unit, 10, change: (l, t) => l == 5 ? t.Replace(",4,2,", ",x,2,", StringComparison.Ordinal) : null)), id), 5, items[0]);
        ShouldName(await ImportAsync(WriteFile(Csv(items, unit, 10, change: (l, t) => l == 3 ? t[..t.LastIndexOf(',')] : null)), id), 3, items[2]);
        // From the service: an unknown unit, a duplicate token.
        ShouldName(await ImportAsync(WriteFile(Csv(items, unit, 10, change: (l, t) => l == 8 ? t.Replace(",m1-a,", ",nowhere,", StringComparison.Ordinal) : null)), id), 8, "org_unit_id");
        ShouldName(await ImportAsync(WriteFile(Csv(items, unit, 10, change: (l, t) => l == 9 ? t.Replace("m1-a-t7", "m1-a-t1", StringComparison.Ordinal) : null)), id), 9, "respondent_token");
        // Bytes that are not UTF-8 (Latin-1 'ü') in the location of line 4.
        var bytes = Encoding.UTF8.GetBytes(Csv(items, unit, 10, change: (l, t) => l == 4 ? t.Replace("berlin", "m#nchen", StringComparison.Ordinal) : null)).ToList();
        bytes[bytes.IndexOf((byte)'#')] = 0xFC;
        ShouldName(await ImportAsync(WriteFile([.. bytes]), id), 4, "location");

        await ShouldHaveNothingAsync(id);
        (await ImportAsync(WriteFile(Csv(items, unit, 10)), id)).Accepted.ShouldBe(10);
    }

    [Fact]
    public async Task AFileOfManyBatchesIsAllOrNothing()
    {
        var (id, items) = await SetUpAsync("m2");
        const int rows = 5000;
        // The service refuses the unknown unit after 49 batches of 100 were sent into the same transaction.
        ShouldName(await ImportAsync(WriteFile(Csv(items, "m2-a", rows, change: (l, t) => l == rows ? t.Replace(",m2-a,", ",nowhere,", StringComparison.Ordinal) : null)), id, 100),
            rows, "org_unit_id");
        // A duplicate of line 3 in the last batch: found when the stream ends.
        ShouldName(await ImportAsync(WriteFile(Csv(items, "m2-a", rows, change: (l, t) => l == rows + 1 ? t.Replace($"m2-a-t{rows - 1},", "m2-a-t1,", StringComparison.Ordinal) : null)), id, 100),
            rows + 1, "respondent_token");
        // The CLI finds the bad value after having streamed most of the file: the call is cancelled.
        ShouldName(await ImportAsync(WriteFile(Csv(items, "m2-a", rows, change: (l, t) => l == rows ? t[..^1] + "0" : null)), id, 100), rows, items[2]);
        await ShouldHaveNothingAsync(id);

        (await ImportAsync(WriteFile(Csv(items, "m2-a", rows)), id, 100)).Accepted.ShouldBe(rows);
        (await host.ScalarAsync($"SELECT count(*) FROM responses WHERE assessment_id = '{id}'")).ShouldBe(rows);
    }

    [Fact]
    public async Task AGeneratedFileOfSeveralMegabytesImportsAndAReImportChangesNothing()
    {
        var (id, items) = await SetUpAsync("m3");
        string[] units = ["m3-root", "m3-a", "m3-b", "m3-c"];
        var text = new StringBuilder(Header).Append(',').Append(string.Join(',', items)).Append('\n');
        const int rows = 60_000;
        for (var i = 0; i < rows; i++)
        {
            // Every 7th respondent skips the second item.
            text.Append(CultureInfo.InvariantCulture, $"token-{i:D8}-{Guid.NewGuid():N},{units[i % 4]},{(i % 3 == 0 ? "0-2" : "3-9")},")
                .Append(CultureInfo.InvariantCulture, $"{(i % 5 == 0 ? "manager" : "ic")},{(i % 2 == 0 ? "berlin" : "lisbon")},{1 + (i % 5)},{(i % 7 == 0 ? "" : (1 + (i % 4)).ToString(CultureInfo.InvariantCulture))},{1 + (i % 3)}\n");
        }

        var file = WriteFile(text.ToString());
        new FileInfo(file).Length.ShouldBeGreaterThan(4_000_000);

        (await RunAsync(file, id, "--batch-size", "2000")).ShouldBe(0);
        (await host.ScalarAsync($"SELECT count(*) FROM responses WHERE assessment_id = '{id}'")).ShouldBe(rows);
        var cells = await host.ScalarAsync($"SELECT sum(n) * 1000 + count(*) FROM cells WHERE assessment_id = '{id}'");
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox");

        var again = await ImportAsync(file, id);
        (again.Accepted, again.AlreadySubmitted).ShouldBe((0L, (long)rows));
        (await host.ScalarAsync($"SELECT count(*) FROM responses WHERE assessment_id = '{id}'")).ShouldBe(rows);
        (await host.ScalarAsync($"SELECT sum(n) * 1000 + count(*) FROM cells WHERE assessment_id = '{id}'")).ShouldBe(cells);
        (await host.ScalarAsync($"SELECT respondents FROM assessments WHERE assessment_id = '{id}'")).ShouldBe(rows);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox);
    }

    [Fact]
    public async Task TheCommandsExitCodesSayWhatHappened()
    {
        var (id, items) = await SetUpAsync("m4");
        (await RunAsync(Path.Combine(Path.GetTempPath(), "no-such-file.csv"), id)).ShouldBe(2);
        (await RunAsync(WriteFile(Csv(items, "m4-a", 10, change: (l, t) => l == 4 ? t[..^1] + "9" : null)), id)).ShouldBe(1);
        (await RunAsync(WriteFile(Csv(items, "m4-a", 10)), "m4-nothing")).ShouldBe(1);
        (await RunAsync(WriteFile(Csv(items, "m4-a", 10)), id)).ShouldBe(0);
        await host.CloseAsync(id);
        (await RunAsync(WriteFile(Csv(items, "m4-b", 10)), id)).ShouldBe(3);
        (await host.ScalarAsync($"SELECT count(*) FROM responses WHERE assessment_id = '{id}'")).ShouldBe(10);
    }

    [Fact]
    public async Task ARevisionKeepsTheHistoryAndAStaleVersionIsRefused()
    {
        var defined = await host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", new DefineDimensionRequest
        {
            IdempotencyKey = "r1-define", DimensionId = "r1-trust", Fields = new DimensionFields { Name = "Trust", Facet = Facet.Beliefs, Scope = InteractionScope.Internal },
        });
        defined.Dimension.Version.ShouldBe(1);
        var revised = await host.CallAsync<ReviseDimensionRequest, ReviseDimensionResponse>("ReviseDimension", new ReviseDimensionRequest
        {
            IdempotencyKey = "r1-revise", DimensionId = "r1-trust", ExpectedVersion = 1,
            Fields = new DimensionFields { Name = "Trust with customers", Facet = Facet.Beliefs, Scope = InteractionScope.External },
        });
        revised.Dimension.Version.ShouldBe(2);

        var stale = await Should.ThrowAsync<RpcException>(() => host.CallAsync<ReviseDimensionRequest, ReviseDimensionResponse>("ReviseDimension",
            new ReviseDimensionRequest
            {
                IdempotencyKey = "r1-stale", DimensionId = "r1-trust", ExpectedVersion = 1,
                Fields = new DimensionFields { Name = "Lost update", Facet = Facet.Values, Scope = InteractionScope.Internal },
            }));
        stale.StatusCode.ShouldBe(StatusCode.FailedPrecondition);

        var history = await host.CallAsync<GetDimensionHistoryRequest, GetDimensionHistoryResponse>("GetDimensionHistory",
            new GetDimensionHistoryRequest { DimensionId = "r1-trust" }, host.Token(Roles.Employee));
        history.Versions.Select(v => (v.Version, v.Fields.Name, v.Fields.Scope)).ShouldBe(
            [(1L, "Trust", InteractionScope.Internal), (2L, "Trust with customers", InteractionScope.External)]);
        var current = (await host.CallAsync<ListDimensionsRequest, ListDimensionsResponse>("ListDimensions", new ListDimensionsRequest()))
            .Dimensions.Single(d => d.DimensionId == "r1-trust");
        (current.Version, current.Fields.Name).ShouldBe((2L, "Trust with customers"));
    }

    [Fact]
    public async Task ARetriedWriteReturnsTheFirstResultAndStoresOnce()
    {
        var request = new DefineDimensionRequest
        {
            IdempotencyKey = "i1-key", Fields = new DimensionFields { Name = "Generated id", Facet = Facet.Attitudes, Scope = InteractionScope.Internal },
        };
        var first = await host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", request);
        var retry = await host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", request);
        retry.ShouldBe(first);
        (await host.ScalarAsync("SELECT count(*) FROM dimension_versions WHERE name = 'Generated id'")).ShouldBe(1);

        var reused = await Should.ThrowAsync<RpcException>(() => host.CallAsync<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension",
            new DefineDimensionRequest { IdempotencyKey = "i1-key", Fields = new DimensionFields { Name = "Other", Facet = Facet.Attitudes, Scope = InteractionScope.Internal } }));
        reused.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        (await host.ScalarAsync("SELECT count(*) FROM dimension_versions WHERE name = 'Other'")).ShouldBe(0);
    }

    [Fact]
    public async Task TheHeatmapGivesEveryDimensionAndUnitInOneCall()
    {
        var (id, items) = await SetUpAsync("h1");
        // Unit a: d1 = (4 + (6 - 2)) / 2 = 4, d2 = 5; unit b: d1 = (2 + (6 - 4)) / 2 = 2, d2 = 1; unit c: nobody.
        (await ImportAsync(WriteFile(Csv(items, "h1-a", 10, "4,2,5")), id)).Accepted.ShouldBe(10);
        (await ImportAsync(WriteFile(Csv(items, "h1-b", 8, "2,4,1")), id)).Accepted.ShouldBe(8);
        await host.CloseAsync(id);

        var heatmap = await host.CallAsync<GetHeatmapRequest, GetHeatmapResponse>("GetHeatmap", new GetHeatmapRequest
        {
            AssessmentId = id, DimensionIds = { "h1-d1", "h1-d2" }, OrgUnitIds = { "h1-a", "h1-b", "h1-c" }, IncludeDescendants = true,
        }, host.Token(Roles.Executive));
        heatmap.DimensionIds.ShouldBe(["h1-d1", "h1-d2"]);
        heatmap.OrgUnitIds.ShouldBe(["h1-a", "h1-b", "h1-c"]);
        heatmap.MinimumGroupSize.ShouldBe(5);
        heatmap.Cells.Select(c => (c.DimensionId, c.OrgUnitId, c.Suppressed, c.N, c.Mean)).ShouldBe(
        [
            ("h1-d1", "h1-a", false, 10L, 4.0), ("h1-d1", "h1-b", false, 8L, 2.0), ("h1-d1", "h1-c", true, 0L, 0.0),
            ("h1-d2", "h1-a", false, 10L, 5.0), ("h1-d2", "h1-b", false, 8L, 1.0), ("h1-d2", "h1-c", true, 0L, 0.0),
        ]);

        // The whole population by default; employees may not read it.
        var all = await host.CallAsync<GetHeatmapRequest, GetHeatmapResponse>("GetHeatmap", new GetHeatmapRequest { AssessmentId = id, IncludeDescendants = true });
        all.Cells.Count.ShouldBe(all.DimensionIds.Count * all.OrgUnitIds.Count);
        all.OrgUnitIds.ShouldBe(["h1-root", "h1-a", "h1-b", "h1-c"], ignoreOrder: true);
        all.Cells.Single(c => c.DimensionId == "h1-d2" && c.OrgUnitId == "h1-root").Mean.ShouldBe((10 * 5.0 + 8 * 1.0) / 18, 1e-9);
        (await Should.ThrowAsync<RpcException>(() => host.CallAsync<GetHeatmapRequest, GetHeatmapResponse>("GetHeatmap",
            new GetHeatmapRequest { AssessmentId = id }, host.Token(Roles.Employee)))).StatusCode.ShouldBe(StatusCode.PermissionDenied);

        // An org unit the organisation does not have is NOT_FOUND, named, on every scores read (not an empty answer).
        var scores = await Should.ThrowAsync<RpcException>(() => host.CallAsync<GetScoresRequest, GetScoresResponse>("GetScores",
            new GetScoresRequest { AssessmentId = id, OrgUnitId = "h1-nowhere" }));
        (scores.StatusCode, scores.Status.Detail).ShouldBe((StatusCode.NotFound, "org_unit_id: no org unit 'h1-nowhere' in the organisation."));
        var unknownInHeatmap = await Should.ThrowAsync<RpcException>(() => host.CallAsync<GetHeatmapRequest, GetHeatmapResponse>("GetHeatmap",
            new GetHeatmapRequest { AssessmentId = id, OrgUnitIds = { "h1-root", "h1-nowhere" } }));
        (unknownInHeatmap.StatusCode, unknownInHeatmap.Status.Detail).ShouldBe((StatusCode.NotFound, "org_unit_ids[1]: no org unit 'h1-nowhere' in the organisation."));
    }

    [Fact]
    public async Task TheChangeAgainstAnEarlierAssessmentCarriesWelchsTest()
    {
        var (first, items) = await SetUpAsync("w1");
        // d2 (one item): 3,3,3,3,3,4,4,4,4,4 then 4,4,4,4,4,5,5,5,5,5.
        var before = Csv(items, "w1-a", 10, change: (l, t) => t[..^1] + (l < 7 ? "3" : "4"));
        (await ImportAsync(WriteFile(before), first)).Accepted.ShouldBe(10);
        await host.CloseAsync(first);
        var (second, _) = await SetUpAsync("w1", "q2");
        (await ImportAsync(WriteFile(Csv(items, "w1-a", 10, change: (l, t) => t[..^1] + (l < 7 ? "4" : "5"))), second)).Accepted.ShouldBe(10);
        await host.CloseAsync(second);

        var score = (await host.CallAsync<GetScoresRequest, GetScoresResponse>("GetScores", new GetScoresRequest
        {
            AssessmentId = second, DimensionIds = { "w1-d2" }, OrgUnitId = "w1-a", IncludeDescendants = true, CompareToAssessmentId = first,
        })).Scores.Single();

        double[] x = [4, 4, 4, 4, 4, 5, 5, 5, 5, 5], y = [3, 3, 3, 3, 3, 4, 4, 4, 4, 4];
        static double Variance(double[] v) => v.Sum(e => (e - v.Average()) * (e - v.Average())) / (v.Length - 1);
        double a = Variance(x) / x.Length, b = Variance(y) / y.Length;
        var t = (x.Average() - y.Average()) / Math.Sqrt(a + b);
        var df = (a + b) * (a + b) / ((a * a / (x.Length - 1)) + (b * b / (y.Length - 1)));
        var p = 2 * (1 - StudentT.CDF(0, 1, df, Math.Abs(t)));

        var change = score.Change;
        (change.AgainstAssessmentId, change.Available, change.Significant).ShouldBe((first, true, true));
        change.PreviousMean.ShouldBe(3.5, 1e-9);
        change.Difference.ShouldBe(1.0, 1e-9);
        change.T.ShouldBe(t, 1e-9);
        change.DegreesOfFreedom.ShouldBe(df, 1e-9);
        change.PValue.ShouldBe(p, 1e-12);
        change.PValue.ShouldBeLessThan(0.05);

        // No change without a difference: the same assessment against itself.
        var same = (await host.CallAsync<GetScoresRequest, GetScoresResponse>("GetScores", new GetScoresRequest
        {
            AssessmentId = first, DimensionIds = { "w1-d2" }, OrgUnitId = "w1-a", IncludeDescendants = true, CompareToAssessmentId = first,
        })).Scores.Single().Change;
        (same.Difference, same.Significant).ShouldBe((0.0, false));
    }

    [Fact]
    public async Task ClosingAnAssessmentPublishesAssessmentClosedToRabbitMq()
    {
        var (id, items) = await SetUpAsync("e1");
        const string queue = "test-assessment-closed";
        await using var channel = await host.Broker.CreateChannelAsync(cancellationToken: Ct);
        await RabbitMqTopology.DeclareTopicAsync(channel, "assessment-closed", Ct);
        await channel.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false, cancellationToken: Ct);
        await channel.QueueBindAsync(queue, "assessment-closed", "", cancellationToken: Ct);

        (await ImportAsync(WriteFile(Csv(items, "e1-a", 7)), id)).Accepted.ShouldBe(7);
        await host.CloseAsync(id);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        AssessmentClosed? closed = null;
        while (closed is null)
        {
            var delivery = await channel.BasicGetAsync(queue, autoAck: true, Ct);
            if (delivery is null)
            {
                DateTime.UtcNow.ShouldBeLessThan(deadline, "AssessmentClosed did not reach RabbitMQ.");
                await Task.Delay(50, Ct);
                continue;
            }

            var cloudEvent = CloudEvent.Parse(delivery.Body.Span);
            var message = cloudEvent.DataAs(AssessmentClosed.Parser);
            if (message.AssessmentId == id)
            {
                (cloudEvent.Source, cloudEvent.Subject).ShouldBe(("baselines", id));
                closed = message;
            }
        }

        closed.Respondents.ShouldBe(7);
    }
}
