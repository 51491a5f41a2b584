using Spectre.Console;
using Transformation.ServerProcesses;

namespace Transformation.Cli.Run;

/// <summary>Where a local run keeps its data (null: throwaway servers) and its fixed ports.</summary>
public sealed record LocalSystemSettings(string? DataDirectory, int PostgresPort, int AmqpPort);

/// <summary>The servers and services of a local run, stopped together.</summary>
public sealed class LocalSystem : IAsyncDisposable
{
    // Beside the usual 5432/5672, so a system PostgreSQL or RabbitMQ keeps its ports.
    public const int DefaultPostgresPort = 55432;
    public const int DefaultAmqpPort = 55672;

    private readonly Task _rabbitMqReady;

    private LocalSystem(PostgresServer postgres, RabbitMqServer rabbitMq, Task rabbitMqReady)
    {
        Postgres = postgres;
        RabbitMq = rabbitMq;
        _rabbitMqReady = rabbitMqReady;
    }

    public PostgresServer Postgres { get; }

    /// <summary>Started, perhaps still booting: see <see cref="WaitForRabbitMqAsync"/>.</summary>
    public RabbitMqServer RabbitMq { get; }

    /// <summary>Outside the repository, where PostgreSQL's own user can reach it when we run as root.</summary>
    public static string DefaultDataDirectory => string.Equals(Environment.UserName, "root", StringComparison.Ordinal)
        ? "/var/lib/transformation"
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "transformation");

    /// <summary>
    /// Starts both servers side by side and returns once PostgreSQL answers and has the <paramref name="databases"/>; RabbitMQ may
    /// still be booting (some seconds, with a core idle), which the services ride out (they retry their broker connection), so they can
    /// start meanwhile. <see cref="WaitForRabbitMqAsync"/> waits for it.
    /// </summary>
    public static async Task<LocalSystem> StartAsync(LocalSystemSettings settings, IReadOnlyList<string> databases, CancellationToken cancellationToken)
    {
        var kept = settings.DataDirectory is not null;
        var rabbitMq = await RabbitMqServer.LaunchAsync(new RabbitMqServerOptions
        {
            DataDirectory = kept ? Path.Combine(settings.DataDirectory!, "rabbitmq") : null,
            AmqpPort = kept ? settings.AmqpPort : 0,
            ManagementPort = kept && settings.AmqpPort != 0 ? settings.AmqpPort + 1 : 0,
        }, cancellationToken);
        var rabbitMqReady = rabbitMq.WaitUntilReadyAsync(cancellationToken);
        try
        {
            var postgres = await PostgresServer.StartAsync(new PostgresServerOptions
            {
                DataDirectory = kept ? Path.Combine(settings.DataDirectory!, "postgres") : null,
                Port = kept ? settings.PostgresPort : 0,
                Durable = kept,
            }, cancellationToken);
            try
            {
                foreach (var database in databases)
                {
                    if (!await postgres.DatabaseExistsAsync(database, cancellationToken))
                    {
                        await postgres.CreateDatabaseAsync(database, cancellationToken);
                    }
                }
            }
            catch
            {
                await postgres.DisposeAsync();
                throw;
            }

            return new LocalSystem(postgres, rabbitMq, rabbitMqReady);
        }
        catch
        {
            await rabbitMq.DisposeAsync();
            await rabbitMqReady.ContinueWith(_ => { }, TaskScheduler.Default); // Observed: the failure to report is PostgreSQL's.
            throw;
        }
    }

    /// <summary>Waits until RabbitMQ accepts connections (throws if it did not start).</summary>
    public Task WaitForRabbitMqAsync() => _rabbitMqReady;

    public void Describe(IAnsiConsole console)
    {
        var table = new Table().AddColumns("Part", "Address");
        table.AddRow("PostgreSQL", Markup.Escape(Postgres.ConnectionString()));
        table.AddRow("RabbitMQ (AMQP)", Markup.Escape(RabbitMq.AmqpUri().ToString()));
        table.AddRow("RabbitMQ management", Markup.Escape($"http://127.0.0.1:{RabbitMq.ManagementPort}/ (user {RabbitMq.UserName})"));
        table.AddRow("Data", Markup.Escape(Postgres.DataDirectory));
        console.Write(table);
    }

    public async ValueTask DisposeAsync()
    {
        await RabbitMq.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}
