using System.Diagnostics;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Npgsql;
using NpgsqlTypes;
using Transformation.Baselines.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Baselines.Benchmarks;

/// <summary>
/// Issue 24, acceptance 3: `people` employees answer a survey in the product. The invitees are written into the service's
/// `employees` table as the Directory's events would leave them (setup, not measured); HR opens the survey for the whole
/// organisation; then every invitee submits once through SubmitSurvey, each with their own token, `concurrency` at a time
/// over one HTTP/2 connection: a whole day's answers compressed into as short a time as the service allows, so the rate
/// is the sustained maximum and the latencies are those under that load. Then HR closes the survey and the clock runs
/// until the first GetHeatmap over every unit answers (results ready).
/// </summary>
internal static class SurveyLoad
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(60);

    public static async Task RunAsync(BaselineService.BaselineServiceClient client, string database, TestIdentity identity, Metadata hr,
        IReadOnlyList<string> units, IReadOnlyList<string> items, int dimensions, int people, int concurrency)
    {
        Console.WriteLine($"Writing {people:N0} employees in {units.Count} units…");
        await using (var connection = new NpgsqlConnection(database))
        {
            await connection.OpenAsync();
            await using var import = await connection.BeginBinaryImportAsync(
                "COPY employees (employee_id, org_unit_id, active, version, display_name, email) FROM STDIN (FORMAT BINARY)");
            for (var p = 0; p < people; p++)
            {
                await import.StartRowAsync();
                await import.WriteAsync(Employee(p), NpgsqlDbType.Text);
                await import.WriteAsync(units[p % units.Count], NpgsqlDbType.Text);
                await import.WriteAsync(true, NpgsqlDbType.Boolean);
                await import.WriteAsync(1L, NpgsqlDbType.Bigint);
                await import.WriteAsync($"Person {p}", NpgsqlDbType.Text);
                await import.WriteAsync($"{Employee(p)}@example.test", NpgsqlDbType.Text);
            }

            await import.CompleteAsync();
        }

        const string Survey = "pulse-load";
        var stopwatch = Stopwatch.StartNew();
        var opened = await client.OpenSurveyAsync(new OpenSurveyRequest
        {
            IdempotencyKey = Survey, AssessmentId = Survey, Title = "Pulse under load", Kind = AssessmentKind.Pulse,
            ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(7)), PopulationOrgUnitIds = { "root" }, ItemIds = { items },
        }, hr);
        var openSeconds = stopwatch.Elapsed.TotalSeconds;
        Console.WriteLine($"Opened for {opened.Invited:N0} invitees in {openSeconds:N1} s");

        var latencies = new double[people];
        var next = -1;
        var done = 0;
        using var deadline = new CancellationTokenSource(Deadline);
        stopwatch.Restart();
        var progress = Task.Run(async () =>
        {
            while (Volatile.Read(ref done) < people && !deadline.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(10));
                var now = Volatile.Read(ref done);
                Console.WriteLine($"  {now:N0} of {people:N0} answered, {now / stopwatch.Elapsed.TotalSeconds:N0}/s so far");
            }
        });
        var submitters = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int p;
            while ((p = Interlocked.Increment(ref next)) < people && !deadline.IsCancellationRequested)
            {
                var random = new Random(p);
                var answers = new SurveyAnswers { Answers = { items.Select(item => new ItemAnswer { ItemId = item, Answer = 1 + random.Next(5) }) } };
                if (p % 10 == 0)
                {
                    answers.Comments.Add(new DimensionComment { DimensionId = "dim-0", Text = "More time with customers would help." });
                }

                var headers = new Metadata { { "authorization", "Bearer " + identity.TokenFor(Employee(p), Roles.Employee) } };
                var started = Stopwatch.GetTimestamp();
                await client.SubmitSurveyAsync(new SubmitSurveyRequest { AssessmentId = Survey, Answers = answers }, headers);
                latencies[p] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                Interlocked.Increment(ref done);
            }
        })).ToArray();
        await Task.WhenAll(submitters);
        var answerSeconds = stopwatch.Elapsed.TotalSeconds;
        await progress;
        if (done < people)
        {
            throw new InvalidOperationException($"Only {done:N0} of {people:N0} answered within {Deadline}.");
        }

        Array.Sort(latencies);
        double Percentile(double q) => latencies[(int)Math.Ceiling(q * latencies.Length) - 1];

        stopwatch.Restart();
        await client.CloseAssessmentAsync(new CloseAssessmentRequest { IdempotencyKey = "close-" + Survey, AssessmentId = Survey }, hr);
        var closeSeconds = stopwatch.Elapsed.TotalSeconds;
        var heatmap = await client.GetHeatmapAsync(new GetHeatmapRequest
        {
            AssessmentId = Survey, DimensionIds = { Enumerable.Range(0, dimensions).Select(d => $"dim-{d}") }, OrgUnitIds = { units }, IncludeDescendants = true,
        }, hr);
        var readySeconds = stopwatch.Elapsed.TotalSeconds;
        if (heatmap.Cells.Count != dimensions * units.Count || heatmap.Cells.Any(c => c.Suppressed))
        {
            throw new InvalidOperationException($"Unexpected heatmap: {heatmap.Cells.Count} cells, {heatmap.Cells.Count(c => c.Suppressed)} suppressed.");
        }

        Console.WriteLine();
        Console.WriteLine("| invitees | open s | submissions/s | submit p50 ms | p95 ms | p99 ms | max ms | close s | close to results s |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {people:N0} | {openSeconds:N1} | {people / answerSeconds:N0} ({answerSeconds:N0} s, {concurrency} at a time) | {Percentile(0.50):N1} | {Percentile(0.95):N1} | {Percentile(0.99):N1} | {latencies[^1]:N0} | {closeSeconds:N1} | {readySeconds:N1} |"));
    }

    private static string Employee(int p) => $"e{p:D7}";
}
