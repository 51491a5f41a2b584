using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using Transformation.Cli.Demo;
using Transformation.Cli.Services;
using Transformation.ServerProcesses;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Cli.Run;

/// <summary>`transform run`: PostgreSQL, RabbitMQ, every service and the portal on this machine until Ctrl-C, with the demo organisation.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "Folder that keeps the databases, the broker, the local token issuer's key and the logs between runs.",
            DefaultValueFactory = _ => new DirectoryInfo(LocalSystem.DefaultDataDirectory),
        };
        var temporary = new Option<bool>("--temporary")
        {
            Description = "Use throwaway servers in a temporary folder, removed on exit (nothing is kept).",
        };
        var noServices = new Option<bool>("--no-services")
        {
            Description = "Start PostgreSQL and RabbitMQ only (for running a service from an IDE).",
        };
        var noDemo = new Option<bool>("--no-demo")
        {
            Description = "Do not load the demo organisation into empty services.",
        };
        var demoEmployees = new Option<int>("--demo-employees")
        {
            Description = "The size of the demo organisation loaded on the first run.",
            DefaultValueFactory = _ => DemoOrganisation.DefaultEmployees,
        };
        demoEmployees.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < DemoOrganisation.MinimumEmployees or > DemoOrganisation.MaximumEmployees)
            {
                result.AddError($"--demo-employees must be {DemoOrganisation.MinimumEmployees} to {DemoOrganisation.MaximumEmployees}.");
            }
        });
        var postgresPort = new Option<int>("--postgres-port")
        {
            Description = "PostgreSQL's loopback port (kept data only; 0 picks a free one).",
            DefaultValueFactory = _ => LocalSystem.DefaultPostgresPort,
        };
        var amqpPort = new Option<int>("--amqp-port")
        {
            Description = "RabbitMQ's AMQP port (kept data only; 0 picks a free one); its management UI listens on the next port.",
            DefaultValueFactory = _ => LocalSystem.DefaultAmqpPort,
        };

        var command = new Command("run", """
            Starts PostgreSQL and RabbitMQ from the installed Debian packages (ports that do not collide with system services, data
            kept in --data), then every Transformation service and the portal from their Release builds, and waits until all are
            healthy. On the first run (services that hold no organisation yet) it loads the demo organisation (`transform demo load`);
            later runs keep the data and do not load it again. Prints the portal's address, the services' addresses and the demo
            identities with the `transform token` command for each. Ctrl-C stops everything.
            """)
        {
            data, temporary, noServices, noDemo, demoEmployees, postgresPort, amqpPort,
        };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var settings = new LocalSystemSettings(
                parsed.GetValue(temporary) ? null : parsed.GetValue(data)!.FullName,
                parsed.GetValue(postgresPort),
                parsed.GetValue(amqpPort));
            var demo = parsed.GetValue(noServices) || parsed.GetValue(noDemo) ? 0 : parsed.GetValue(demoEmployees);
            return await RunAsync(settings, !parsed.GetValue(noServices), demo, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(LocalSystemSettings settings, bool withServices, int demoEmployees, CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();

        // A temporary run keeps its logs and its issuer's key in its own folder, removed on exit: `transform token --data <it>` works meanwhile.
        var home = settings.DataDirectory ?? Path.Combine(Path.GetTempPath(), $"transformation-run-{Environment.ProcessId}");
        var logs = Path.Combine(home, "logs");
        try
        {
            if (withServices)
            {
                LocalServices.EnsurePortsFree();
            }

            await using var system = await AnsiConsole.Status().StartAsync("Starting PostgreSQL and RabbitMQ…",
                _ => LocalSystem.StartAsync(settings, withServices ? LocalService.Databases : [], cancellationToken));
            var phases = new List<string> { $"servers {started.Elapsed.TotalSeconds:0.0} s" };
            // Without services nothing needs the key on disk (a temporary run killed outright would leave it behind).
            using var issuer = DevelopmentIssuer.Load(settings.DataDirectory ?? (withServices ? home : null));
            var phase = Stopwatch.StartNew();
            await using var services = withServices
                ? await AnsiConsole.Status().StartAsync("Starting the services…",
                    status => LocalServices.StartAsync(system, issuer, logs, message => status.Status(message), cancellationToken))
                : null;
            if (services is not null)
            {
                phases.Add($"services {phase.Elapsed.TotalSeconds:0.0} s");
            }

            DemoOrganisation? organisation = null;
            if (services is not null && demoEmployees > 0)
            {
                phase.Restart();
                organisation = await LoadDemoAsync(issuer, demoEmployees, cancellationToken);
                phases.Add($"demo {phase.Elapsed.TotalSeconds:0.0} s");
            }

            system.Describe(AnsiConsole.Console);
            if (services is not null)
            {
                Describe(services, logs);
            }

            if (organisation is not null)
            {
                DemoCommand.PrintIdentities(organisation, settings.DataDirectory is { } kept && string.Equals(kept, LocalSystem.DefaultDataDirectory, StringComparison.Ordinal) ? null : home);
            }
            else
            {
                AnsiConsole.MarkupLineInterpolated($"Tokens for local identities: transform token --subject <employee id> --role {string.Join("|", Roles.People)}");
            }

            AnsiConsole.MarkupLineInterpolated($"[green]Ready.[/] ({started.Elapsed.TotalSeconds:0.0} s: {string.Join(", ", phases)}) Press Ctrl-C to stop.");
            await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            AnsiConsole.MarkupLine("Stopping…");
            return 0;
        }
        catch (MissingPrerequisiteException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 2;
        }
        catch (Exception e) when (e is InvalidOperationException or FileNotFoundException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 1;
        }
        finally
        {
            if (settings.DataDirectory is null)
            {
                TryDelete(home);
            }
        }
    }

    /// <summary>
    /// Loads the demo organisation when the services hold none (or an interrupted load of it); leaves a loaded one, or another
    /// organisation, alone. Returns the organisation whose identities to print (null when the services hold another one).
    /// </summary>
    private static async Task<DemoOrganisation?> LoadDemoAsync(TokenIssuer issuer, int employees, CancellationToken cancellationToken)
    {
        var organisation = DemoOrganisation.Generate(employees);
        using var clients = new ServiceClients(ServiceAddresses.Default, issuer);
        var loader = new DemoLoader(clients, organisation, DemoLoaderOptions.Default, TimeProvider.System);

        // The load itself finds what the services hold (and leaves a loaded demo, or another organisation, alone).
        switch (await DemoCommand.LoadAsync(loader, organisation, force: false, cancellationToken))
        {
            case DemoCommand.Loaded:
                return organisation;
            case DemoCommand.Refused:
                AnsiConsole.MarkupLine("The services hold an organisation of their own: the demo organisation is not loaded.");
                return null;
            case DemoCommand.Unreachable:
                AnsiConsole.MarkupLine("[yellow]The demo organisation is not loaded; the system keeps running. `transform demo load` loads it.[/]");
                return null;
            default:
                AnsiConsole.MarkupLine("[yellow]The demo organisation is not complete (see above); the system keeps running. `transform demo load` finishes it.[/]");
                return organisation;
        }
    }

    private static void Describe(LocalServices services, string logs)
    {
        var table = new Table().AddColumns("Service", "gRPC (h2c)", "HTTP (health, SCIM)");
        foreach (var service in services.Running.Where(s => !s.IsPortal))
        {
            table.AddRow(service.Name, service.GrpcAddress, $"http://127.0.0.1:{service.HttpPort}");
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"Logs: {logs}");
        if (services.Running.FirstOrDefault(s => s.IsPortal) is { } portal)
        {
            AnsiConsole.MarkupLineInterpolated($"[bold]Portal: http://127.0.0.1:{portal.HttpPort}/[/] (sign in as one of the demo identities below)");
        }
        else if (services.Skipped.Any(s => s.IsPortal))
        {
            AnsiConsole.MarkupLineInterpolated($"The portal is not built ({LocalService.Named(LocalService.PortalName).Assembly}): build it to have it started.");
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (System.IO.Directory.Exists(directory))
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // A log still held open by a dying service: it sits in the temporary folder.
        }
    }
}
