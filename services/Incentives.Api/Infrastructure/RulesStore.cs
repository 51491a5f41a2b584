using Google.Protobuf;
using Npgsql;
using Transformation.Incentives.Api.Model;
using Transformation.Incentives.V1;

namespace Transformation.Incentives.Api.Infrastructure;

public sealed record StoredRules(int Version, IncentiveRules Rules, string ChangedBy, DateTimeOffset ChangedAt);

/// <summary>Versioned incentive rules, and the current version cached for evaluation (refreshed on change and every second).</summary>
public sealed class RulesStore(IncentivesDatabase database, TimeProvider time) : IDisposable
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private (RuleSet Rules, DateTimeOffset Until) _current = (RuleSet.Empty, DateTimeOffset.MinValue);

    public async ValueTask<RuleSet> CurrentAsync(CancellationToken cancellationToken)
    {
        var cached = _current;
        if (cached.Until > time.GetUtcNow())
        {
            return cached.Rules;
        }

        await _refresh.WaitAsync(cancellationToken);
        try
        {
            if (_current.Until > time.GetUtcNow())
            {
                return _current.Rules;
            }

            await using var connection = await database.OpenAsync(cancellationToken);
            var stored = await GetAsync(connection, null, 0, cancellationToken);
            var rules = stored is null ? RuleSet.Empty : RuleSet.FromProto(stored.Version, stored.Rules);
            _current = (rules, time.GetUtcNow() + CacheFor);
            return rules;
        }
        finally
        {
            _refresh.Release();
        }
    }

    public void Invalidate() => _current = (_current.Rules, DateTimeOffset.MinValue);

    public static async Task<StoredRules?> GetAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, int version, CancellationToken cancellationToken)
    {
        await using var command = version > 0
            ? connection.Command(transaction, "SELECT version, document::text, changed_by, changed_at FROM incentive_rules WHERE version = $1", version)
            : connection.Command(transaction, "SELECT version, document::text, changed_by, changed_at FROM incentive_rules ORDER BY version DESC LIMIT 1");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new StoredRules(reader.GetInt32(0), JsonParser.Default.Parse<IncentiveRules>(reader.GetString(1)), reader.GetString(2),
            reader.GetFieldValue<DateTimeOffset>(3));
    }

    public static async Task<bool> InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int version, IncentiveRules rules, string changedBy,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction,
            "INSERT INTO incentive_rules (version, document, changed_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            version, Sql.Jsonb(JsonFormatter.Default.Format(rules)), changedBy);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public void Dispose() => _refresh.Dispose();
}
