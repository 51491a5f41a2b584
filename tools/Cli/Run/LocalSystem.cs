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

    private LocalSystem(PostgresServer postgres, RabbitMqServer rabbitMq, SmtpServer smtp)
    {
        Postgres = postgres;
        RabbitMq = rabbitMq;
        Smtp = smtp;
    }

    public PostgresServer Postgres { get; }

    public RabbitMqServer RabbitMq { get; }

    /// <summary>Receives the surveys' invitations and reminders; each message is a file of its Maildir.</summary>
    public SmtpServer Smtp { get; }

    /// <summary>Outside the repository, where PostgreSQL's own user can reach it when we run as root.</summary>
    public static string DefaultDataDirectory => string.Equals(Environment.UserName, "root", StringComparison.Ordinal)
        ? "/var/lib/transformation"
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "transformation");

    /// <summary>
    /// Starts both servers side by side. The <paramref name="databases"/> are created (when missing) as soon as PostgreSQL
    /// answers, while RabbitMQ is still booting (that boot leaves a core idle). Starting the services then too was tried: they
    /// slowed the broker's boot more than they gained (docs/benchmarks.md, "Run it all").
    /// </summary>
    public static async Task<LocalSystem> StartAsync(LocalSystemSettings settings, IReadOnlyList<string> databases, CancellationToken cancellationToken)
    {
        var kept = settings.DataDirectory is not null;
        var postgresTask = StartPostgresAsync();
        async Task<PostgresServer> StartPostgresAsync()
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

                return postgres;
            }
            catch
            {
                await postgres.DisposeAsync();
                throw;
            }
        }

        var rabbitMqTask = RabbitMqServer.StartAsync(new RabbitMqServerOptions
        {
            DataDirectory = kept ? Path.Combine(settings.DataDirectory!, "rabbitmq") : null,
            AmqpPort = kept ? settings.AmqpPort : 0,
            ManagementPort = kept && settings.AmqpPort != 0 ? settings.AmqpPort + 1 : 0,
        }, cancellationToken);
        var smtpTask = SmtpServer.StartAsync(kept ? Path.Combine(settings.DataDirectory!, "mail") : null, cancellationToken: cancellationToken);
        try
        {
            await Task.WhenAll(postgresTask, rabbitMqTask, smtpTask);
        }
        catch
        {
            // Both starts have finished here: stop whichever succeeded.
            if (postgresTask.IsCompletedSuccessfully)
            {
                await postgresTask.Result.DisposeAsync();
            }

            if (rabbitMqTask.IsCompletedSuccessfully)
            {
                await rabbitMqTask.Result.DisposeAsync();
            }

            if (smtpTask.IsCompletedSuccessfully)
            {
                await smtpTask.Result.DisposeAsync();
            }

            throw;
        }

        return new LocalSystem(postgresTask.Result, rabbitMqTask.Result, smtpTask.Result);
    }

    public void Describe(IAnsiConsole console)
    {
        var table = new Table().AddColumns("Part", "Address");
        table.AddRow("PostgreSQL", Markup.Escape(Postgres.ConnectionString()));
        table.AddRow("RabbitMQ (AMQP)", Markup.Escape(RabbitMq.AmqpUri().ToString()));
        table.AddRow("RabbitMQ management", Markup.Escape($"http://127.0.0.1:{RabbitMq.ManagementPort}/ (user {RabbitMq.UserName})"));
        table.AddRow("SMTP (survey mail)", Markup.Escape($"127.0.0.1:{Smtp.Port}; each message received is a file in {Smtp.ReceivedDirectory}"));
        table.AddRow("Data", Markup.Escape(Postgres.DataDirectory));
        console.Write(table);
    }

    public async ValueTask DisposeAsync()
    {
        await Smtp.DisposeAsync();
        await RabbitMq.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}
