using System.ComponentModel.DataAnnotations;
using Npgsql;

namespace Transformation.Actors;

public enum ActorStorage
{
    PostgreSql,
    InMemory,
}

/// <summary>The "Actors" section.</summary>
public sealed class ActorOptions : IValidatableObject
{
    public const string Section = "Actors";

    public ActorStorage Storage { get; set; } = ActorStorage.PostgreSql;

    /// <summary>The service's PostgreSQL connection string (state, reminders); the same database as its outbox.</summary>
    public string? Database { get; set; }

    /// <summary>An activation unused for this long is deactivated (Orleans' CollectionAge).</summary>
    public TimeSpan CollectionAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often idle activations are looked for (Orleans' CollectionQuantum).</summary>
    public TimeSpan CollectionQuantum { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often due reminders are looked for.</summary>
    public TimeSpan ReminderScanInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The shortest reminder period allowed (Orleans: one minute).</summary>
    public TimeSpan MinimumReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Storage == ActorStorage.PostgreSql && string.IsNullOrWhiteSpace(Database))
        {
            yield return new ValidationResult("Actors:Database is required with PostgreSQL storage.", [nameof(Database)]);
        }

        foreach (var (name, value) in new[] { (nameof(CollectionAge), CollectionAge), (nameof(CollectionQuantum), CollectionQuantum), (nameof(ReminderScanInterval), ReminderScanInterval) })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return new ValidationResult($"Actors:{name} must be positive.", [name]);
            }
        }
    }
}

/// <summary>The connection pool of the actor storage.</summary>
public sealed class ActorDatabase(NpgsqlDataSource dataSource) : IAsyncDisposable
{
    public NpgsqlDataSource DataSource { get; } = dataSource;

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
