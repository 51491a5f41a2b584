using System.CommandLine;
using Spectre.Console;
using Transformation.ServerProcesses;

namespace Transformation.Cli.Run;

/// <summary>`transform run`: PostgreSQL, RabbitMQ and every service on this machine until Ctrl-C.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "Folder that keeps the databases and the broker between runs.",
            DefaultValueFactory = _ => new DirectoryInfo(LocalSystem.DefaultDataDirectory),
        };
        var temporary = new Option<bool>("--temporary")
        {
            Description = "Use throwaway servers in a temporary folder, removed on exit (nothing is kept).",
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
            system services, data kept in --data), then every Transformation service, waits until all are
            healthy and prints their addresses. Ctrl-C stops everything; the next run keeps the data.
            """)
        {
            data, temporary, postgresPort, amqpPort,
        };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var settings = new LocalSystemSettings(
                parsed.GetValue(temporary) ? null : parsed.GetValue(data)!.FullName,
                parsed.GetValue(postgresPort),
                parsed.GetValue(amqpPort));
            return await RunAsync(settings, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(LocalSystemSettings settings, CancellationToken cancellationToken)
    {
        try
        {
            await using var system = await AnsiConsole.Status().StartAsync("Starting PostgreSQL and RabbitMQ…",
                _ => LocalSystem.StartAsync(settings, cancellationToken));
            system.Describe(AnsiConsole.Console);
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
    }
}
