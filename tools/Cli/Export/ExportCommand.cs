using System.CommandLine;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Spectre.Console;
using Transformation.Cli.Services;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Cli.Export;

/// <summary>`transform export directory|recognitions|observations`: a service's data as CSV or JSON, read through its gRPC API.</summary>
public static class ExportCommand
{
    /// <summary>Who the CLI's own token is for when no --token is given (hr reads every export).</summary>
    public const string Subject = "transform-export";

    public static Command Create()
    {
        var directory = Subcommand("directory", "directory", """
            Exports the Directory as it is now: every open org unit (parents first), then every employee. The CSV has the columns of
            `transform directory import` (record,id,name,email,parent_id,kind,org_unit_id,manager_id,roles), so it can be imported again.
            """, out var directoryOptions);
        directory.SetAction((parsed, ct) => RunAsync(parsed, directoryOptions, (clients, token, output, format, progress) =>
            Exports.DirectoryAsync(clients.Directory, token, output, format, progress, ct)));

        var orgUnit = new Option<string>("--org-unit") { Description = "Only recognition of employees in this org unit.", DefaultValueFactory = _ => "" };
        var recognitions = Subcommand("recognitions", "incentives", """
            Exports the public recognition feed (granted rewards that are public: peer recognition and rewarded observations), newest
            first: reward_id, occurred_at, employee_id, org_unit_id, behaviour_id, behaviour_name, source, giver_id, points, message.
            """, out var recognitionOptions);
        recognitions.Options.Add(orgUnit);
        recognitions.SetAction((parsed, ct) => RunAsync(parsed, recognitionOptions, (clients, token, output, format, progress) =>
            Exports.RecognitionsAsync(clients.Incentives, token, parsed.GetValue(orgUnit)!, output, format, progress, ct)));

        var initiative = new Option<string>("--initiative") { Description = "Only observations of this initiative.", DefaultValueFactory = _ => "" };
        var employee = new Option<string>("--employee") { Description = "Only observations of this employee.", DefaultValueFactory = _ => "" };
        var behaviour = new Option<string>("--behaviour") { Description = "Only observations of this behaviour.", DefaultValueFactory = _ => "" };
        var since = new Option<DateTimeOffset?>("--since") { Description = "Only observations observed at or after this time (ISO 8601)." };
        var until = new Option<DateTimeOffset?>("--until") { Description = "Only observations observed before this time (ISO 8601)." };
        var observations = Subcommand("observations", "initiatives", """
            Exports recorded observations in the order they were recorded: observation_id, observed_at, employee_id, org_unit_id,
            behaviour_id, behaviour_version, polarity, source, observer_id, initiative_id, evidence, recorded_by, recorded_at.
            Needs the hr, change_manager or executive role.
            """, out var observationOptions);
        foreach (var option in new System.CommandLine.Option[] { initiative, employee, behaviour, since, until })
        {
            observations.Options.Add(option);
        }

        observations.SetAction((parsed, ct) => RunAsync(parsed, observationOptions, (clients, token, output, format, progress) =>
        {
            var filter = new ListObservationsRequest
            {
                InitiativeId = parsed.GetValue(initiative)!,
                EmployeeId = parsed.GetValue(employee)!,
                BehaviourId = parsed.GetValue(behaviour)!,
                Since = parsed.GetValue(since) is { } from ? Timestamp.FromDateTimeOffset(from) : null,
                Until = parsed.GetValue(until) is { } to ? Timestamp.FromDateTimeOffset(to) : null,
            };
            return Exports.ObservationsAsync(clients.Initiatives, token, filter, output, format, progress, ct);
        }));

        return new Command("export", "Exports data from the running services as CSV or JSON, through their gRPC APIs.")
        {
            directory, recognitions, observations,
        };
    }

    private sealed record Shared(ServiceAddressOptions Services, Option<ExportFormat> Format, Option<string> Output, Option<string> Token);

    private static Command Subcommand(string name, string service, string description, out Shared shared)
    {
        var format = new Option<ExportFormat>("--format") { Description = "csv or json.", DefaultValueFactory = _ => ExportFormat.Csv };
        var output = new Option<string>("--output", "-o") { Description = "The file to write; - (the default) writes to standard output.", DefaultValueFactory = _ => "-" };
        var token = new Option<string>("--token")
        {
            Description = "A bearer token to call with (env TRANSFORM_TOKEN); without one, the CLI signs its own (hr) with the local issuer of --data.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TRANSFORM_TOKEN") ?? "",
        };
        var services = new ServiceAddressOptions(service);
        var command = new Command(name, description) { format, output, token };
        foreach (var option in services.All)
        {
            command.Options.Add(option);
        }

        shared = new Shared(services, format, output, token);
        return command;
    }

    private delegate Task<int> Export(ServiceClients clients, string token, TextWriter output, ExportFormat format, Action<int>? progress);

    private static async Task<int> RunAsync(ParseResult parsed, Shared shared, Export export)
    {
        var given = parsed.GetValue(shared.Token)!;
        using var issuer = shared.Services.Issuer(parsed);
        if (given.Length == 0 && issuer is null)
        {
            Console.Error.WriteLine($"A token is needed: --token, TRANSFORM_TOKEN, or the local issuer of `transform run` (--data; none in {parsed.GetValue(shared.Services.Data)!.FullName}).");
            return 2;
        }

        // With an explicit token the issuer signs nothing; the clients still take one.
        using var unused = issuer is null ? TokenIssuer.CreateEphemeral(Run.DevelopmentIssuer.Issuer, Run.DevelopmentIssuer.Audience) : null;
        using var clients = new ServiceClients(shared.Services.Addresses(parsed), issuer ?? unused!);
        var token = given.Length > 0 ? given : clients.Token(Subject, [Roles.Hr]);
        var path = parsed.GetValue(shared.Output)!;
        var format = parsed.GetValue(shared.Format);
        try
        {
            if (string.Equals(path, "-", StringComparison.Ordinal))
            {
                await using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
                var written = await export(clients, token, stdout, format, null);
                Console.Error.WriteLine($"{written} record(s) exported.");
                return 0;
            }

            var count = 0;
            await using (var file = new StreamWriter(path, append: false, new UTF8Encoding(false)))
            {
                await AnsiConsole.Status().StartAsync($"Exporting to {path}…", async status =>
                    count = await export(clients, token, file, format, n =>
                    {
                        if (n % 500 == 0)
                        {
                            status.Status($"Exporting to {path}: {n} record(s)…");
                        }
                    }));
            }

            AnsiConsole.MarkupLineInterpolated($"[green]{count} record(s)[/] written to {path} ({format.ToString().ToLowerInvariant()}).");
            return 0;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && e.Status.DebugException is HttpRequestException unreachable)
        {
            Console.Error.WriteLine($"A service is not reachable: {unreachable.Message}");
            return 2;
        }
        catch (RpcException e)
        {
            Console.Error.WriteLine($"{e.StatusCode}: {e.Status.Detail}");
            return e.StatusCode is StatusCode.Unavailable ? 2 : 1;
        }
    }
}
