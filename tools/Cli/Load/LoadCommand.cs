using System.CommandLine;
using System.Globalization;
using Grpc.Core;
using Spectre.Console;
using Transformation.Cli.Services;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Cli.Load;

/// <summary>`transform load observations`: load generation against Initiatives for the benchmarks.</summary>
public static class LoadCommand
{
    /// <summary>The subject of the generator's token (a system integration, role service).</summary>
    public const string Subject = "transform-load";

    public static Command Create()
    {
        var count = new Option<int>("--count", "-n") { Description = "How many observations to record.", DefaultValueFactory = _ => 10_000 };
        var rate = new Option<double>("--rate", "-r") { Description = "Observations per second to send (the target; the report says what was achieved).", DefaultValueFactory = _ => 500 };
        var concurrency = new Option<int>("--concurrency", "-c") { Description = "Calls in flight at most.", DefaultValueFactory = _ => 32 };
        var batch = new Option<int>("--batch", "-b")
        {
            Description = "Observations per call: 1 sends RecordObservation (unary), more send them in one RecordObservations client stream.",
            DefaultValueFactory = _ => 1,
        };
        count.Validators.Add(r => Check(r, r.GetValueOrDefault<int>() is >= 1 and <= 10_000_000, "--count must be 1 to 10000000."));
        rate.Validators.Add(r => Check(r, r.GetValueOrDefault<double>() is > 0 and <= 1_000_000, "--rate must be above 0 and at most 1000000."));
        concurrency.Validators.Add(r => Check(r, r.GetValueOrDefault<int>() is >= 1 and <= 10_000, "--concurrency must be 1 to 10000."));
        batch.Validators.Add(r => Check(r, r.GetValueOrDefault<int>() is >= 1 and <= 5_000, "--batch must be 1 to 5000."));
        var services = new ServiceAddressOptions("directory", "incentives", "initiatives");

        var observations = new Command("observations", """
            Records --count observations in the Initiatives service at --rate per second (open loop: each call starts on schedule,
            up to --concurrency in flight), each for a random active employee and a random current behaviour, reported by a system
            integration, with keys unique to the run; then reports the achieved rate and the calls' p50/p90/p99 latency. The
            observations go on through the events to Incentives (rewards, call-outs) as real ones do. Load the demo first
            (`transform demo load`): it needs employees and behaviours. The token is signed with the local issuer of --data (role service).
            """)
        {
            count, rate, concurrency, batch,
        };
        foreach (var option in services.All)
        {
            observations.Options.Add(option);
        }

        observations.SetAction(async (parsed, cancellationToken) =>
        {
            using var issuer = services.Issuer(parsed);
            if (issuer is null)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{parsed.GetValue(services.Data)!.FullName} has no local token issuer: start the system with `transform run` (or pass its --data).[/]");
                return 2;
            }

            using var clients = new ServiceClients(services.Addresses(parsed), issuer);
            var token = clients.Token(Subject, [Roles.Service]);
            var settings = new LoadSettings(parsed.GetValue(count), parsed.GetValue(rate), parsed.GetValue(concurrency), parsed.GetValue(batch));
            try
            {
                var (employees, behaviours) = await ObservationLoad.TargetsAsync(clients, token, cancellationToken);
                LoadReport? report = null;
                await AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .StartAsync(async context =>
                    {
                        var task = context.AddTask($"Recording {settings.Count:N0} observations at {settings.Rate:N0}/s", maxValue: settings.Count);
                        report = await ObservationLoad.RunAsync(clients.Initiatives, token, settings, employees, behaviours, Guid.NewGuid().ToString("n"),
                            new Progress<int>(n => task.Value = n), cancellationToken);
                        task.Value = task.MaxValue;
                    });
                Print(settings, report!);
                return report!.FailedCalls == 0 ? 0 : 1;
            }
            catch (InvalidOperationException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
                return 1;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && e.Status.DebugException is HttpRequestException unreachable)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]A service is not reachable: {unreachable.Message}[/]");
                return 2;
            }
            catch (RpcException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{e.StatusCode}: {e.Status.Detail}[/]");
                return e.StatusCode == StatusCode.Unavailable ? 2 : 1;
            }
        });

        return new Command("load", "Load generation for the benchmarks: sustained calls at a given rate, with the achieved rate and latency percentiles.")
        {
            observations,
        };
    }

    private static void Print(LoadSettings settings, LoadReport report)
    {
        var table = new Table().AddColumns("Figure", "Value");
        string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
        table.AddRow("observations recorded", $"{report.Observations:N0} of {settings.Count:N0} ({report.Calls:N0} calls of {settings.Batch}, {report.FailedCalls} failed)");
        table.AddRow("elapsed", $"{F(report.Elapsed.TotalSeconds, "0.00")} s");
        table.AddRow("target rate", $"{F(settings.Rate, "N0")} /s");
        table.AddRow("achieved rate", $"[bold]{F(report.AchievedRate, "N0")} /s[/]");
        table.AddRow("latency p50 / p90 / p99 / max",
            $"[bold]{F(report.P50Milliseconds, "0.00")}[/] / {F(report.P90Milliseconds, "0.00")} / [bold]{F(report.P99Milliseconds, "0.00")}[/] / {F(report.MaxMilliseconds, "0.00")} ms");
        table.AddRow("most behind schedule", $"{F(report.MaxLagMilliseconds, "0.0")} ms{(report.MaxLagMilliseconds > 1000 ? " (the target rate was not sustained)" : "")}");
        foreach (var (status, n) in report.Errors)
        {
            table.AddRow($"failed: {Markup.Escape(status)}", n.ToString(CultureInfo.InvariantCulture));
        }

        AnsiConsole.Write(table);
    }

    private static void Check(System.CommandLine.Parsing.OptionResult result, bool valid, string message)
    {
        if (!valid)
        {
            result.AddError(message);
        }
    }
}
