using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;
using Transformation.Baselines.Api.Model;

namespace Transformation.Baselines.Api.Infrastructure;

/// <summary>The suppression tables of a closed assessment, one per dimension: built once from the cells (their size
/// does not grow with the number of responses) and kept until the org tree changes.</summary>
public sealed class ScoreCache(BaselinesDatabase database, IOptions<BaselinesOptions> options)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyDictionary<string, SuppressionTable>>>> _tables = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<SuppressionTable>>> _respondents = new(StringComparer.Ordinal);

    public int MinimumGroupSize => options.Value.MinimumGroupSize;

    public void Clear()
    {
        _tables.Clear();
        _respondents.Clear();
    }

    public Task<IReadOnlyDictionary<string, SuppressionTable>> GetAsync(string assessmentId, CancellationToken cancellationToken) =>
        CachedAsync(_tables, assessmentId, LoadAsync, cancellationToken);

    /// <summary>
    /// The suppression table of a closed assessment's respondents (whatever they answered): the same rule as the scores'
    /// (<see cref="SuppressionTable.Build"/>), over the number of respondents per cell. For their free-text comments.
    /// </summary>
    public Task<SuppressionTable> RespondentsAsync(string assessmentId, CancellationToken cancellationToken) =>
        CachedAsync(_respondents, assessmentId, LoadRespondentsAsync, cancellationToken);

    private static async Task<T> CachedAsync<T>(ConcurrentDictionary<string, Lazy<Task<T>>> cache, string assessmentId, Func<string, Task<T>> load,
        CancellationToken cancellationToken)
    {
        var lazy = cache.GetOrAdd(assessmentId, id => new Lazy<Task<T>>(() => load(id)));
        try
        {
            return await lazy.Value.WaitAsync(cancellationToken);
        }
        catch (Exception) when (lazy.Value.IsFaulted)
        {
            cache.TryRemove(new KeyValuePair<string, Lazy<Task<T>>>(assessmentId, lazy));
            throw;
        }
    }

    private async Task<SuppressionTable> LoadRespondentsAsync(string assessmentId)
    {
        await using var connection = await database.OpenAsync(CancellationToken.None);
        var tree = await TreeAsync(connection, CancellationToken.None);
        var cells = new List<Cell>();
        await using (var command = connection.Command(null, """
            SELECT org_unit_id, tenure_band, role_level, location, count(*) FROM responses WHERE assessment_id = $1
            GROUP BY org_unit_id, tenure_band, role_level, location
            """, assessmentId))
        await using (var reader = await command.ExecuteReaderAsync(CancellationToken.None))
        {
            while (await reader.ReadAsync(CancellationToken.None))
            {
                cells.Add(new Cell(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), new Aggregate { N = reader.GetInt64(4) }));
            }
        }

        return SuppressionTable.Build(cells, tree, MinimumGroupSize);
    }

    public async Task<OrgTree> TreeAsync(NpgsqlConnection connection, CancellationToken cancellationToken, NpgsqlTransaction? transaction = null)
    {
        var parents = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var command = connection.Command(transaction, "SELECT org_unit_id, parent_id FROM org_units");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            parents[reader.GetString(0)] = reader.GetString(1);
        }

        return new OrgTree(parents);
    }

    private async Task<IReadOnlyDictionary<string, SuppressionTable>> LoadAsync(string assessmentId)
    {
        await using var connection = await database.OpenAsync(CancellationToken.None);
        var tree = await TreeAsync(connection, CancellationToken.None);
        var cells = new Dictionary<string, List<Cell>>(StringComparer.Ordinal);
        await using (var command = connection.Command(null, """
            SELECT dimension_id, org_unit_id, tenure_band, role_level, location, n, sum, sum_squares, d1, d2, d3, d4, d5
            FROM cells WHERE assessment_id = $1
            """, assessmentId))
        await using (var reader = await command.ExecuteReaderAsync(CancellationToken.None))
        {
            while (await reader.ReadAsync(CancellationToken.None))
            {
                var aggregate = new Aggregate { N = reader.GetInt64(5), Sum = reader.GetDouble(6), SumOfSquares = reader.GetDouble(7) };
                for (var i = 0; i < 5; i++)
                {
                    aggregate.Distribution[i] = reader.GetInt64(8 + i);
                }

                var dimension = reader.GetString(0);
                if (!cells.TryGetValue(dimension, out var list))
                {
                    cells[dimension] = list = [];
                }

                list.Add(new Cell(reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), aggregate));
            }
        }

        return cells.ToDictionary(c => c.Key, c => SuppressionTable.Build(c.Value, tree, MinimumGroupSize), StringComparer.Ordinal);
    }
}
