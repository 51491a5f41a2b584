using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Transformation.Cli.Services;
using Transformation.Directory.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Cli.Load;

/// <summary>What to send: <paramref name="Count"/> observations at <paramref name="Rate"/> per second, <paramref name="Batch"/> per call, at most <paramref name="Concurrency"/> calls in flight.</summary>
public sealed record LoadSettings(int Count, double Rate, int Concurrency, int Batch);

/// <summary>What was achieved: observations accepted per second over the whole run, and the calls' latencies (send to response).</summary>
public sealed record LoadReport(int Observations, int Calls, int FailedCalls, TimeSpan Elapsed, double AchievedRate, double P50Milliseconds, double P90Milliseconds,
    double P99Milliseconds, double MaxMilliseconds, double MaxLagMilliseconds, IReadOnlyDictionary<string, int> Errors)
{
    /// <summary>Nearest-rank percentile of sorted values (0 when there are none).</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double percentile) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(percentile / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
}

/// <summary>
/// Load generation for the benchmarks: observations recorded in Initiatives at a fixed rate (open loop: call k starts at k × batch
/// / rate seconds, whatever the earlier calls are doing, up to the concurrency limit), each for a random active employee and a random
/// current behaviour, from a system integration (no observer), with keys unique to the run. Each one goes on through the events to
/// Incentives (a reward or a call-out) and into the initiatives' progress, as real observations do.
/// </summary>
public static class ObservationLoad
{
    /// <summary>Active employees (Directory) and current behaviours (Incentives) to observe.</summary>
    public static async Task<(IReadOnlyList<string> Employees, IReadOnlyList<string> Behaviours)> TargetsAsync(ServiceClients clients, string token,
        CancellationToken cancellationToken)
    {
        var employees = new List<string>();
        using (var call = clients.Directory.StreamDirectorySnapshot(new StreamDirectorySnapshotRequest(), ServiceClients.Headers(token), cancellationToken: cancellationToken))
        {
            await foreach (var item in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                if (item.Employee is { Active: true } employee)
                {
                    employees.Add(employee.EmployeeId);
                }
            }
        }

        var behaviours = await clients.Incentives.ListBehavioursAsync(new ListBehavioursRequest(), ServiceClients.Headers(token), cancellationToken: cancellationToken);
        return (employees, [.. behaviours.Behaviours.Where(b => !b.Retired).Select(b => b.BehaviourId)]);
    }

    public static async Task<LoadReport> RunAsync(InitiativeService.InitiativeServiceClient initiatives, string token, LoadSettings settings, IReadOnlyList<string> employees,
        IReadOnlyList<string> behaviours, string runId, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        if (employees.Count == 0 || behaviours.Count == 0)
        {
            throw new InvalidOperationException("There is nothing to observe: the Directory has no active employee or the catalogue no behaviour (load the demo first).");
        }

        var random = Random.Shared;
        var headers = ServiceClients.Headers(token);
        var calls = (settings.Count + settings.Batch - 1) / settings.Batch;
        var latencies = new ConcurrentBag<double>();
        var errors = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var accepted = 0;
        var maxLag = 0.0;
        using var slots = new SemaphoreSlim(settings.Concurrency);
        var running = new List<Task>(calls);
        var started = Stopwatch.StartNew();
        for (var call = 0; call < calls; call++)
        {
            var due = TimeSpan.FromSeconds(call * settings.Batch / settings.Rate);
            var wait = due - started.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait, cancellationToken);
            }

            await slots.WaitAsync(cancellationToken);
            maxLag = Math.Max(maxLag, (started.Elapsed - due).TotalMilliseconds);
            var first = call * settings.Batch;
            var inputs = Enumerable.Range(first, Math.Min(settings.Batch, settings.Count - first)).Select(i => new ObservationInput
            {
                IdempotencyKey = $"load:{runId}:{i}",
                EmployeeId = employees[random.Next(employees.Count)],
                BehaviourId = behaviours[random.Next(behaviours.Count)],
                Source = ObservationSource.SystemIntegration,
                ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
                Evidence = $"transform load {runId}",
            }).ToList();
            running.Add(SendAsync(inputs));
        }

        await Task.WhenAll(running);
        var elapsed = started.Elapsed;
        var sorted = latencies.Order().ToList();
        return new LoadReport(accepted, calls, errors.Values.Sum(), elapsed, accepted / elapsed.TotalSeconds, LoadReport.Percentile(sorted, 50),
            LoadReport.Percentile(sorted, 90), LoadReport.Percentile(sorted, 99), sorted.Count == 0 ? 0 : sorted[^1], maxLag, errors);

        async Task SendAsync(List<ObservationInput> inputs)
        {
            var begin = Stopwatch.GetTimestamp();
            try
            {
                if (inputs.Count == 1)
                {
                    await initiatives.RecordObservationAsync(new RecordObservationRequest { Observation = inputs[0] }, headers, cancellationToken: cancellationToken);
                }
                else
                {
                    await ServiceClients.ClientStreamAsync(initiatives.RecordObservations(headers, cancellationToken: cancellationToken),
                        inputs.Select(i => new RecordObservationsRequest { Observation = i }));
                }

                latencies.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
                var total = Interlocked.Add(ref accepted, inputs.Count);
                progress?.Report(total);
            }
            catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
            {
                errors.AddOrUpdate(e.StatusCode.ToString(), 1, (_, n) => n + 1);
            }
            finally
            {
                slots.Release();
            }
        }
    }
}
