using System.CommandLine;
using Grpc.Core;
using Spectre.Console;
using Transformation.Baselines.V1;
using Transformation.Cli.Services;

namespace Transformation.Cli.Baselines;

/// <summary>`transform baselines import responses.csv --assessment id`: survey responses into an open assessment.</summary>
public static class BaselinesCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file")
        {
            Description = "The responses (CSV, UTF-8): respondent_token,org_unit_id,tenure_band,role_level,location, then one column per item id (1 to 5, empty = not answered).",
        };
        var assessment = new Option<string>("--assessment") { Description = "The open assessment the responses answer.", Required = true };
        var service = new Option<string>("--service")
        {
            Description = "The Baselines service's gRPC address (env TRANSFORM_BASELINES_URL).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TRANSFORM_BASELINES_URL") ?? "http://127.0.0.1:5000",
        };
        service.Validators.Add(result =>
        {
            if (!Uri.TryCreate(result.GetValueOrDefault<string>(), UriKind.Absolute, out _))
            {
                result.AddError("--service must be an absolute address such as http://127.0.0.1:5000.");
            }
        });
        var token = new Option<string>("--token")
        {
            Description = "A bearer token with the hr or service role (env TRANSFORM_TOKEN).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TRANSFORM_TOKEN") ?? "",
        };
        var batchSize = new Option<int>("--batch-size") { Description = "Rows per streamed message.", DefaultValueFactory = _ => 1000 };
        batchSize.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 100_000)
            {
                result.AddError("--batch-size must be 1 to 100000.");
            }
        });
        var import = new Command("import", """
            Streams a responses file into an assessment. The whole file is one submission: any bad row (named by line and
            column) refuses all of it. Idempotent per respondent token: the same file again adds nothing.
            """)
        {
            file, assessment, service, token, batchSize,
        };
        import.SetAction(async (parsed, cancellationToken) => await ImportAsync(parsed.GetValue(file)!, parsed.GetValue(assessment)!,
            new Uri(parsed.GetValue(service)!), parsed.GetValue(token)!, parsed.GetValue(batchSize), cancellationToken));
        return new Command("baselines", "Work with the Baselines: survey responses.") { import };
    }

    /// <summary>Exit codes: 0 imported, 1 refused (bad rows, unknown assessment), 2 cannot start (file, token, service), 3 assessment closed.</summary>
    public static async Task<int> ImportAsync(FileInfo file, string assessmentId, Uri service, string token, int batchSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!file.Exists)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{file.FullName} does not exist.[/]");
            return 2;
        }

        if (token.Length == 0)
        {
            AnsiConsole.MarkupLine("[red]A token is needed: --token or TRANSFORM_TOKEN (hr or service role).[/]");
            return 2;
        }

        try
        {
            using var channel = ServiceClients.Channel(service);
            var client = new BaselineService.BaselineServiceClient(channel);
            ImportResult? result = null;
            await AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    var reading = progress.AddTask("Importing " + file.Name, maxValue: Math.Max(file.Length, 1));
                    result = await BaselinesImport.ImportAsync(file, assessmentId, client, token, batchSize, bytes => reading.Value = bytes, cancellationToken);
                    reading.Value = reading.MaxValue;
                });

            if (!result!.Succeeded)
            {
                var table = new Table().AddColumns("Line", "Column", "Problem");
                foreach (var problem in result.Problems)
                {
                    table.AddRow(problem.Line.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(problem.Column), Markup.Escape(problem.Problem));
                }

                AnsiConsole.Write(table);
                AnsiConsole.MarkupLineInterpolated($"[red]{result.Problems.Count} problem(s) in {file.Name}; nothing was imported.[/]");
                return 1;
            }

            AnsiConsole.MarkupLineInterpolated($"[green]Imported {result.Accepted} response(s)[/]; {result.AlreadySubmitted} had been submitted before and were left as they were.");
            return 0;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && e.Status.DebugException is HttpRequestException unreachable)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]Cannot reach the Baselines service at {service}: {unreachable.Message}[/]");
            return 2;
        }
        catch (RpcException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.StatusCode}: {e.Status.Detail}[/]");
            return e.StatusCode switch
            {
                StatusCode.FailedPrecondition => 3,
                StatusCode.Unavailable => 2,
                _ => 1,
            };
        }
    }
}
