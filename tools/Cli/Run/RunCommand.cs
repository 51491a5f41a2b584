using System.CommandLine;
using Spectre.Console;
using Transformation.ServerProcesses;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Cli.Run;

/// <summary>`transform run`: PostgreSQL, RabbitMQ and every service on this machine until Ctrl-C.</summary>
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
            Starts PostgreSQL and RabbitMQ from the installed Debian packages (ports that do not collide with
            system services, data kept in --data), then every Transformation service from its Release build,
            waits until all are healthy and prints their addresses. Ctrl-C stops everything; the next run keeps
            the data. `transform token` issues tokens the running services accept.
            """)
        {
            data, temporary, noServices, postgresPort, amqpPort,
        };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var settings = new LocalSystemSettings(
                parsed.GetValue(temporary) ? null : parsed.GetValue(data)!.FullName,
                parsed.GetValue(postgresPort),
                parsed.GetValue(amqpPort));
            return await RunAsync(settings, !parsed.GetValue(noServices), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(LocalSystemSettings settings, bool withServices, CancellationToken cancellationToken)
    {
        var logs = settings.DataDirectory is { } kept
            ? Path.Combine(kept, "logs")
            : Path.Combine(Path.GetTempPath(), $"transformation-run-{Environment.ProcessId}", "logs");
        try
        {
            await using var system = await AnsiConsole.Status().StartAsync("Starting PostgreSQL and RabbitMQ…",
                _ => LocalSystem.StartAsync(settings, cancellationToken));
            using var issuer = DevelopmentIssuer.Load(settings.DataDirectory);
            await using var services = withServices
                ? await AnsiConsole.Status().StartAsync("Starting the services…",
                    status => LocalServices.StartAsync(system, issuer, logs, message => status.Status(message), cancellationToken))
                : null;

            system.Describe(AnsiConsole.Console);
            if (services is not null)
            {
                Describe(services, logs);
            }

            AnsiConsole.MarkupLine("[green]Ready.[/] Press Ctrl-C to stop.");
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
                TryDelete(Path.GetDirectoryName(logs)!);
            }
        }
    }

    private static void Describe(LocalServices services, string logs)
    {
        var table = new Table().AddColumns("Service", "gRPC (h2c)", "HTTP (health, SCIM)");
        foreach (var service in services.Running)
        {
            table.AddRow(service.Name, $"http://127.0.0.1:{service.GrpcPort}", $"http://127.0.0.1:{service.HttpPort}");
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"Logs: {logs}");
        AnsiConsole.MarkupLineInterpolated($"Tokens for local identities: transform token --subject <employee id> --role {string.Join("|", Roles.People)}");
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
