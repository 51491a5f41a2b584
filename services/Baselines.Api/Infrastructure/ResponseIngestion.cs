using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Transformation.Baselines.Api.Model;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;

namespace Transformation.Baselines.Api.Infrastructure;

/// <summary>An assessment's items in answer order, as ingestion and scoring need them.</summary>
public sealed record AssessmentItems(string[] DimensionIds, bool[] ReverseScored);

/// <summary>
/// Bulk ingestion in one transaction: rows are validated as they stream in and written with binary COPY into a
/// temporary table; their per-cell aggregates are summed in memory (bounded by the number of cells, not rows). At the
/// end, duplicate tokens within the batch are refused (naming both lines), rows whose token was submitted before are
/// removed (and their aggregates subtracted), the rest are inserted and the aggregates added. Any error rolls it all back.
/// </summary>
public sealed class ResponseIngestion : IAsyncDisposable
{
    private const int MaxAttributeLength = 64;
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private readonly string _assessmentId;
    private readonly AssessmentItems _items;
    private readonly HashSet<string> _units;
    private readonly Dictionary<(string Dimension, string Unit, string Tenure, string Role, string Location), Aggregate> _aggregates = [];
    private readonly string[] _dimensions;
    private NpgsqlBinaryImporter? _copy;
    private long _rows;

    private ResponseIngestion(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId, AssessmentItems items, HashSet<string> units)
    {
        (_connection, _transaction, _assessmentId, _items, _units) = (connection, transaction, assessmentId, items, units);
        _dimensions = [.. items.DimensionIds.Distinct(StringComparer.Ordinal)];
    }

    public static async Task<ResponseIngestion> StartAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId,
        AssessmentItems items, HashSet<string> units, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(transaction, """
            CREATE TEMP TABLE staging (line bigint NOT NULL, token_hash bytea NOT NULL, org_unit_id text NOT NULL, tenure_band text NOT NULL,
                role_level text NOT NULL, location text NOT NULL, answers smallint[] NOT NULL) ON COMMIT DROP
            """, cancellationToken);
        var ingestion = new ResponseIngestion(connection, transaction, assessmentId, items, units);
        ingestion._copy = await connection.BeginBinaryImportAsync(
            "COPY staging (line, token_hash, org_unit_id, tenure_band, role_level, location, answers) FROM STDIN (FORMAT BINARY)", cancellationToken);
        return ingestion;
    }

    /// <summary>Validates and writes one row; INVALID_ARGUMENT naming the line and field on the first problem.</summary>
    public async Task AddAsync(ResponseRow row, CancellationToken cancellationToken)
    {
        var prefix = $"rows[line {row.Line}]";
        if (row.RespondentToken.Length is 0 or > 200)
        {
            throw Invalid(row, $"{prefix}.respondent_token", "A respondent token of 1 to 200 characters is required.");
        }

        if (!_units.Contains(row.OrgUnitId))
        {
            throw Invalid(row, $"{prefix}.org_unit_id", $"'{row.OrgUnitId}' is not an org unit of the assessment's population.");
        }

        foreach (var (field, value) in new[] { ("tenure_band", row.TenureBand), ("role_level", row.RoleLevel), ("location", row.Location) })
        {
            if (value.Length > MaxAttributeLength)
            {
                throw Invalid(row, $"{prefix}.{field}", $"At most {MaxAttributeLength} characters.");
            }
        }

        if (row.Answers.Count != _items.DimensionIds.Length)
        {
            throw Invalid(row, $"{prefix}.answers", $"{row.Answers.Count} answers for {_items.DimensionIds.Length} items.");
        }

        var answers = new short[row.Answers.Count];
        var answered = 0;
        for (var i = 0; i < answers.Length; i++)
        {
            var answer = row.Answers[i];
            if (answer is < 0 or > 5)
            {
                throw Invalid(row, $"{prefix}.answers[{i}]", $"{answer} is not an answer: 1 to 5, or 0 for no answer.");
            }

            answers[i] = (short)answer;
            answered += answer > 0 ? 1 : 0;
        }

        if (answered == 0)
        {
            throw Invalid(row, $"{prefix}.answers", "The response answers no item.");
        }

        await _copy!.StartRowAsync(cancellationToken);
        await _copy.WriteAsync(row.Line, NpgsqlDbType.Bigint, cancellationToken);
        await _copy.WriteAsync(TokenHash(_assessmentId, row.RespondentToken), NpgsqlDbType.Bytea, cancellationToken);
        await _copy.WriteAsync(row.OrgUnitId, NpgsqlDbType.Text, cancellationToken);
        await _copy.WriteAsync(row.TenureBand, NpgsqlDbType.Text, cancellationToken);
        await _copy.WriteAsync(row.RoleLevel, NpgsqlDbType.Text, cancellationToken);
        await _copy.WriteAsync(row.Location, NpgsqlDbType.Text, cancellationToken);
        await _copy.WriteAsync(answers, NpgsqlDbType.Array | NpgsqlDbType.Smallint, cancellationToken);
        Accumulate(row.OrgUnitId, row.TenureBand, row.RoleLevel, row.Location, answers, add: true);
        _rows++;
    }

    /// <summary>Commits nothing itself: checks duplicates, drops earlier submissions, inserts, adds the aggregates.</summary>
    public async Task<SubmitResponsesResponse> CompleteAsync(CancellationToken cancellationToken)
    {
        await _copy!.CompleteAsync(cancellationToken);
        await _copy.DisposeAsync();
        _copy = null;

        await using (var duplicates = _connection.Command(_transaction,
            "SELECT min(line), max(line) FROM staging GROUP BY token_hash HAVING count(*) > 1 ORDER BY 2 LIMIT 1"))
        await using (var reader = await duplicates.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                var (first, second) = (reader.GetInt64(0), reader.GetInt64(1));
                throw RpcException.InvalidArgument($"Line {second}: the respondent token of line {first} appears again.",
                    ($"rows[line {second}].respondent_token", $"Duplicate of line {first}."));
            }
        }

        long already = 0;
        await using (var earlier = _connection.Command(_transaction, """
            DELETE FROM staging s USING responses r WHERE r.assessment_id = $1 AND r.token_hash = s.token_hash
            RETURNING s.org_unit_id, s.tenure_band, s.role_level, s.location, s.answers
            """, _assessmentId))
        await using (var reader = await earlier.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                Accumulate(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetFieldValue<short[]>(4), add: false);
                already++;
            }
        }

        var inserted = await _connection.ExecuteAsync(_transaction, """
            INSERT INTO responses (assessment_id, token_hash, org_unit_id, tenure_band, role_level, location, answers)
            SELECT $1, token_hash, org_unit_id, tenure_band, role_level, location, answers FROM staging
            """, cancellationToken, _assessmentId);
        if (inserted != _rows - already)
        {
            throw new RpcException(StatusCode.Aborted, "A concurrent submission changed the assessment's responses; retry.");
        }

        await WriteAggregatesAsync(cancellationToken);
        await _connection.ExecuteAsync(_transaction, "UPDATE assessments SET respondents = respondents + $2 WHERE assessment_id = $1", cancellationToken,
            _assessmentId, (long)inserted);
        return new SubmitResponsesResponse { Accepted = inserted, AlreadySubmitted = already };
    }

    public async ValueTask DisposeAsync()
    {
        if (_copy is not null)
        {
            await _copy.DisposeAsync();
        }
    }

    /// <summary>The stored form of a token: SHA-256 of the assessment and the token, so it cannot be joined across assessments.</summary>
    public static byte[] TokenHash(string assessmentId, string token) => SHA256.HashData(Encoding.UTF8.GetBytes(assessmentId + "\n" + token));

    private static RpcException Invalid(ResponseRow row, string field, string description) =>
        RpcException.InvalidArgument($"Line {row.Line}: {description} Nothing was stored.", (field, description));

    private void Accumulate(string unit, string tenure, string role, string location, short[] answers, bool add)
    {
        Span<int> flipped = stackalloc int[answers.Length];
        foreach (var dimension in _dimensions)
        {
            var count = 0;
            for (var i = 0; i < answers.Length; i++)
            {
                if (answers[i] > 0 && string.Equals(_items.DimensionIds[i], dimension, StringComparison.Ordinal))
                {
                    flipped[count++] = Scoring.Flip(answers[i], _items.ReverseScored[i]);
                }
            }

            if (count == 0)
            {
                continue;
            }

            var key = (dimension, unit, tenure, role, location);
            if (!_aggregates.TryGetValue(key, out var aggregate))
            {
                _aggregates[key] = aggregate = new Aggregate();
            }

            var one = new Aggregate();
            one.AddRespondent(flipped[..count]);
            if (add)
            {
                aggregate.Add(one);
            }
            else
            {
                aggregate.Subtract(one);
            }
        }
    }

    private async Task WriteAggregatesAsync(CancellationToken cancellationToken)
    {
        var nonEmpty = _aggregates.Where(a => a.Value.N != 0).ToList();
        if (nonEmpty.Count == 0)
        {
            return;
        }

        await using var command = _connection.Command(_transaction, """
            INSERT INTO cells AS c (assessment_id, dimension_id, org_unit_id, tenure_band, role_level, location, n, sum, sum_squares, d1, d2, d3, d4, d5)
            SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::float8[], $9::float8[],
                $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[])
            ON CONFLICT (assessment_id, dimension_id, org_unit_id, tenure_band, role_level, location) DO UPDATE SET
                n = c.n + excluded.n, sum = c.sum + excluded.sum, sum_squares = c.sum_squares + excluded.sum_squares,
                d1 = c.d1 + excluded.d1, d2 = c.d2 + excluded.d2, d3 = c.d3 + excluded.d3, d4 = c.d4 + excluded.d4, d5 = c.d5 + excluded.d5
            """, _assessmentId,
            nonEmpty.Select(a => a.Key.Dimension).ToArray(), nonEmpty.Select(a => a.Key.Unit).ToArray(), nonEmpty.Select(a => a.Key.Tenure).ToArray(),
            nonEmpty.Select(a => a.Key.Role).ToArray(), nonEmpty.Select(a => a.Key.Location).ToArray(), nonEmpty.Select(a => a.Value.N).ToArray(),
            nonEmpty.Select(a => a.Value.Sum).ToArray(), nonEmpty.Select(a => a.Value.SumOfSquares).ToArray(),
            nonEmpty.Select(a => a.Value.Distribution[0]).ToArray(), nonEmpty.Select(a => a.Value.Distribution[1]).ToArray(),
            nonEmpty.Select(a => a.Value.Distribution[2]).ToArray(), nonEmpty.Select(a => a.Value.Distribution[3]).ToArray(),
            nonEmpty.Select(a => a.Value.Distribution[4]).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
