using System.CommandLine;
using System.Globalization;
using Grpc.Core;
using Spectre.Console;
using Transformation.Cli.Services;
using Transformation.Csv;
using Transformation.Directory.V1;

namespace Transformation.Cli.Directory;

/// <summary>`transform directory import file.csv`: a full sync of the Directory from an HR export.</summary>
public static class DirectoryCommand
{
    private const int MaxChangesShown = 200;

    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "The HR export (CSV): record,id,name,email,parent_id,kind,org_unit_id,manager_id,roles." };
        var dryRun = new Option<bool>("--dry-run") { Description = "List the changes without applying them." };
        var force = new Option<bool>("--force") { Description = "Apply even when more than the allowed share of people would be deactivated." };
        var service = new Option<string>("--service")
        {
            Description = "The Directory service's gRPC address (env TRANSFORM_DIRECTORY_URL).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TRANSFORM_DIRECTORY_URL") ?? "http://127.0.0.1:5000",
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
            Description = "A bearer token with the hr, operator or service role (env TRANSFORM_TOKEN).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TRANSFORM_TOKEN") ?? "",
        };
        var import = new Command("import", """
            Synchronises the Directory with an HR export: units and people in the file are created or updated, people
            missing from it leave, units missing from it close (a file without unit rows leaves the tree as it is).
            Idempotent: the same file again changes nothing. Any bad row refuses the whole file, named by line and column.
            """)
        {
            file, dryRun, force, service, token,
        };
        import.SetAction(async (parsed, cancellationToken) => await ImportAsync(parsed.GetValue(file)!, parsed.GetValue(dryRun), parsed.GetValue(force),
            new Uri(parsed.GetValue(service)!), parsed.GetValue(token)!, cancellationToken));
        var resync = new Command("resync", """
            Full resynchronisation: the Directory republishes every org unit and employee as its current snapshot, so that
            every service's local copy catches up (after restoring a service's database, or when a new service joins).
            Services take only what is newer than what they hold, so running it again is harmless. Needs hr or operator.
            """)
        {
            service, token,
        };
        resync.SetAction(async (parsed, cancellationToken) => await ResyncAsync(new Uri(parsed.GetValue(service)!), parsed.GetValue(token)!, cancellationToken));
        return new Command("directory", "Work with the Directory: org units and employees.") { import, resync };
    }

    private static async Task<int> ResyncAsync(Uri service, string token, CancellationToken cancellationToken)
    {
        if (token.Length == 0)
        {
            AnsiConsole.MarkupLine("[red]A token is needed: --token or TRANSFORM_TOKEN (hr or operator role).[/]");
            return 2;
        }

        try
        {
            using var channel = ServiceClients.Channel(service);
            var response = await new DirectoryService.DirectoryServiceClient(channel).RepublishDirectoryAsync(
                new RepublishDirectoryRequest { IdempotencyKey = Guid.NewGuid().ToString() }, ServiceClients.Headers(token), cancellationToken: cancellationToken);
            AnsiConsole.MarkupLineInterpolated(
                $"[green]Republished[/] {response.OrgUnits} org units and {response.Employees} employees ({response.ErasedEmployees} erased) for every consumer.");
            return 0;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && e.Status.DebugException is HttpRequestException unreachable)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]Cannot reach the Directory service at {service}: {unreachable.Message}[/]");
            return 2;
        }
        catch (RpcException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.StatusCode}: {e.Status.Detail}[/]");
            return 1;
        }
    }

    private static async Task<int> ImportAsync(FileInfo file, bool dryRun, bool force, Uri service, string token, CancellationToken cancellationToken)
    {
        if (!file.Exists)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{file.FullName} does not exist.[/]");
            return 2;
        }

        if (token.Length == 0)
        {
            AnsiConsole.MarkupLine("[red]A token is needed: --token or TRANSFORM_TOKEN (hr, operator or service role).[/]");
            return 2;
        }

        try
        {
            using var channel = ServiceClients.Channel(service);
            var client = new DirectoryService.DirectoryServiceClient(channel);
            CsvUploadResult<ImportDirectoryResponse>? result = null;
            await AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    var sending = progress.AddTask((dryRun ? "Checking " : "Importing ") + file.Name, maxValue: Math.Max(file.Length, 1));
                    result = await SendAsync(file, client, token, dryRun, force, bytes => sending.Value = bytes, cancellationToken);
                    sending.Value = sending.MaxValue;
                });

            if (!result!.Succeeded)
            {
                var table = new Table().AddColumns("Line", "Column", "Problem");
                foreach (var problem in result.Problems)
                {
                    table.AddRow(problem.Line.ToString(CultureInfo.InvariantCulture), Markup.Escape(problem.Column), Markup.Escape(problem.Problem));
                }

                AnsiConsole.Write(table);
                AnsiConsole.MarkupLineInterpolated($"[red]{result.Problems.Count} problem(s) in {file.Name}; nothing was applied.[/]");
                return 1;
            }

            Print(result.Response!);
            return 0;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && e.Status.DebugException is HttpRequestException unreachable)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]Cannot reach the Directory service at {service}: {unreachable.Message}[/]");
            return 2;
        }
        catch (RpcException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.StatusCode}: {e.Status.Detail}[/]");
            if (e.StatusCode == StatusCode.FailedPrecondition && !force)
            {
                AnsiConsole.MarkupLine("Run with [bold]--dry-run[/] to see the changes, and with [bold]--force[/] to apply them anyway.");
            }

            return e.StatusCode is StatusCode.FailedPrecondition ? 3 : 1;
        }
    }

    /// <summary>
    /// Streams the file (<see cref="DirectoryCsv"/>) to ImportDirectory in one call while it is read: bad rows, found here or by
    /// the service, come back as problems by line and column, and nothing is applied.
    /// </summary>
    public static async Task<CsvUploadResult<ImportDirectoryResponse>> SendAsync(FileInfo file, DirectoryService.DirectoryServiceClient client, string token, bool dryRun, bool force,
        Action<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(client);
        // One key per run: a retry of this run is answered with its first result.
        var format = new DirectoryCsv(new ImportOptions { DryRun = dryRun, Force = force, IdempotencyKey = dryRun ? "" : Guid.NewGuid().ToString() });
        // bufferSize 1: the CSV reader has its own buffer.
        await using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        return await CsvUpload.SendAsync(stream, format,
            ct => client.ImportDirectory(ServiceClients.Headers(token), cancellationToken: ct),
            progress, cancellationToken);
    }

    private static void Print(ImportDirectoryResponse response)
    {
        if (response.Changes.Count == 0)
        {
            AnsiConsole.MarkupLine("[green]No changes: the Directory already matches the file.[/]");
            return;
        }

        // A large organisation's first import is a million changes: the table shows the first ones, the summary counts them all.
        var table = new Table().AddColumns("Change", "Id", "What");
        foreach (var change in response.Changes.Take(MaxChangesShown))
        {
            table.AddRow(Markup.Escape(Label(change.Kind)), Markup.Escape(change.Id), Markup.Escape(change.Description));
        }

        AnsiConsole.Write(table);
        if (response.Changes.Count > MaxChangesShown)
        {
            AnsiConsole.MarkupLineInterpolated($"… and {response.Changes.Count - MaxChangesShown:N0} more changes.");
        }

        var summary = string.Join(", ", response.Changes.GroupBy(c => c.Kind).Select(g => $"{g.Count()} {Label(g.Key)}"));
        AnsiConsole.MarkupLineInterpolated($"{(response.Applied ? "[green]Applied[/]" : "[yellow]Dry run, nothing applied[/]")}: {summary}.");
        if (response.ExceedsChangeLimit)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"[yellow]Of {response.ActiveBefore} active people, {response.Deactivated} would leave, {response.RolesChanged} change roles and {response.ManagersChanged} change manager: more than the limit of {response.MaxDeactivatedShare:P0} of them for one of these; applying needs --force.[/]");
        }
    }

    private static string Label(ChangeKind kind) => kind switch
    {
        ChangeKind.OrgUnitCreated => "unit created",
        ChangeKind.OrgUnitChanged => "unit changed",
        ChangeKind.OrgUnitClosed => "unit closed",
        ChangeKind.EmployeeJoined => "joined",
        ChangeKind.EmployeeMoved => "moved",
        ChangeKind.EmployeeUpdated => "updated",
        ChangeKind.EmployeeLeft => "left",
        _ => kind.ToString(),
    };
}
