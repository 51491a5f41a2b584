using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Transformation.Baselines.Api.Model;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;
using Grpc.Core;

namespace Transformation.Baselines.Api.Infrastructure;

/// <summary>An assessment's items in answer order, as ingestion and scoring need them.</summary>
public sealed record AssessmentItems(string[] DimensionIds, bool[] ReverseScored);

/// <summary>
/// Bulk ingestion in one transaction: rows are validated as they stream in and written with binary COPY into a
/// temporary table (PostgreSQL holds them, on disk beyond its buffers: the service's memory does not grow with the
/// rows); their per-cell aggregates are summed in memory (bounded by the number of cells, not rows). At the end, rows
/// whose token was submitted before are removed (and their aggregates subtracted), the rest are inserted in key order,
/// and a token twice in the batch (a key violation) is refused naming both lines; then the aggregates are added. Any
/// error rolls it all back. Free-text comments go to their own table with the four attributes only (no token, no id
/// shared with the response), inserted in the order of their text's hash (not the file's), in the same transaction.
/// </summary>
public sealed class ResponseIngestion : IAsyncDisposable
{
    private const int MaxAttributeLength = 64;
    private const int MaxCommentLength = 4000;
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private readonly string _assessmentId;
    private readonly AssessmentItems _items;
    private readonly HashSet<string> _units;
    private readonly Dictionary<(string Unit, string Tenure, string Role, string Location), Aggregate?[]> _groups = [];
    private readonly string[] _dimensions;
    private readonly int[] _dimensionOfItem;
    private readonly byte[] _assessmentPrefix;
    private NpgsqlBinaryImporter? _copy;
    private long _rows;

    private ResponseIngestion(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId, AssessmentItems items, HashSet<string> units)
    {
        (_connection, _transaction, _assessmentId, _items, _units) = (connection, transaction, assessmentId, items, units);
        _dimensions = [.. items.DimensionIds.Distinct(StringComparer.Ordinal)];
        _dimensionOfItem = [.. items.DimensionIds.Select(d => Array.IndexOf(_dimensions, d))];
        _assessmentPrefix = Encoding.UTF8.GetBytes(assessmentId + "\n");
    }

    public static async Task<ResponseIngestion> StartAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string assessmentId,
        AssessmentItems items, HashSet<string> units, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(transaction, """
            CREATE TEMP TABLE staging (line bigint NOT NULL, token_hash bytea NOT NULL, org_unit_id text NOT NULL, tenure_band text NOT NULL,
                role_level text NOT NULL, location text NOT NULL, answers smallint[] NOT NULL, comment text NOT NULL) ON COMMIT DROP
            """, cancellationToken);
        var ingestion = new ResponseIngestion(connection, transaction, assessmentId, items, units);
        ingestion._copy = await connection.BeginBinaryImportAsync(
            "COPY staging (line, token_hash, org_unit_id, tenure_band, role_level, location, answers, comment) FROM STDIN (FORMAT BINARY)", cancellationToken);
        return ingestion;
    }

    /// <summary>Validates and writes one row; INVALID_ARGUMENT naming the line and field on the first problem.</summary>
    public async Task AddAsync(ResponseRow row, CancellationToken cancellationToken)
    {
        // No allocation per row beyond what COPY needs (the token's hash and the answers): messages are built only on a problem.
        if (row.RespondentToken.Length is 0 or > 200)
        {
            throw Invalid(row, "respondent_token", "A respondent token of 1 to 200 characters is required.");
        }

        if (!_units.Contains(row.OrgUnitId))
        {
            throw Invalid(row, "org_unit_id", $"'{row.OrgUnitId}' is not an org unit of the assessment's population.");
        }

        CheckLength(row, "tenure_band", row.TenureBand);
        CheckLength(row, "role_level", row.RoleLevel);
        CheckLength(row, "location", row.Location);
        var comment = row.Comment.Length == 0 ? "" : row.Comment.Trim();
        if (comment.Length > MaxCommentLength)
        {
            throw Invalid(row, "comment", $"A comment has at most {MaxCommentLength} characters.");
        }
        if (row.Answers.Count != _items.DimensionIds.Length)
        {
            throw Invalid(row, "answers", $"{row.Answers.Count} answers for {_items.DimensionIds.Length} items.");
        }

        var answers = new short[row.Answers.Count];
        var answered = 0;
        for (var i = 0; i < answers.Length; i++)
        {
            var answer = row.Answers[i];
            if (answer is < 0 or > 5)
            {
                throw Invalid(row, $"answers[{i}]", $"{answer} is not an answer: 1 to 5, or 0 for no answer.");
            }

            answers[i] = (short)answer;
            answered += answer > 0 ? 1 : 0;
        }

        if (answered == 0)
        {
            throw Invalid(row, "answers", "The response answers no item.");
        }

        await _copy!.StartRowAsync(cancellationToken);
        await _copy.WriteAsync(row.Line, NpgsqlDbType.Bigint, cancellationToken);
        await _copy.WriteAsync(TokenHash(_assessmentPrefix, row.RespondentToken), NpgsqlDbType.Bytea, cancellationToken);
        await _copy.WriteAsync(row.OrgUnitId, NpgsqlDbType.Text, cancellationToken);
        await _copy.WriteAsync(row.TenureBand, NpgsqlDbType.Text, cancellationToken);
        await _copy.WriteAsync(row.RoleLevel, NpgsqlDbType.Text, cancellationToken);
        await _copy.WriteAsync(row.Location, NpgsqlDbType.Text, cancellationToken);
        await _copy.WriteAsync(answers, NpgsqlDbType.Array | NpgsqlDbType.Smallint, cancellationToken);
        await _copy.WriteAsync(comment, NpgsqlDbType.Text, cancellationToken);
        Accumulate(row.OrgUnitId, row.TenureBand, row.RoleLevel, row.Location, answers, add: true);
        _rows++;
    }

    /// <summary>Commits nothing itself: checks duplicates, drops earlier submissions, inserts, adds the aggregates.</summary>
    public async Task<SubmitResponsesResponse> CompleteAsync(CancellationToken cancellationToken)
    {
        await _copy!.CompleteAsync(cancellationToken);
        await _copy.DisposeAsync();
        _copy = null;

        // Sorts and hashes of every staged row stay in PostgreSQL's memory up to this, then spill to disk (bounded either way).
        await _connection.ExecuteAsync(_transaction, "SET LOCAL work_mem = '256MB'", cancellationToken);

        // Rows whose token was submitted before are left as they were (their aggregates were added: subtract them). A token
        // twice in this file and submitted before is still a duplicate.
        long already = 0;
        await using (var earlier = _connection.Command(_transaction, """
            WITH earlier AS (DELETE FROM staging s USING responses r WHERE r.assessment_id = $1 AND r.token_hash = s.token_hash
                RETURNING s.line, s.token_hash, s.org_unit_id, s.tenure_band, s.role_level, s.location, s.answers)
            SELECT line, org_unit_id, tenure_band, role_level, location, answers, min(line) OVER same_token FROM earlier
            WINDOW same_token AS (PARTITION BY token_hash)
            """, _assessmentId))
        await using (var reader = await earlier.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                if (reader.GetInt64(6) != reader.GetInt64(0))
                {
                    throw Duplicate(reader.GetInt64(6), reader.GetInt64(0));
                }

                Accumulate(reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetFieldValue<short[]>(5), add: false);
                already++;
            }
        }

        // Inserted in the primary key's order (the index is appended to, not written at random places); a token twice in
        // this file violates the key: only then are the staged rows searched for the two lines. No separate pass otherwise.
        int inserted;
        await _transaction.SaveAsync("insert_responses", cancellationToken);
        try
        {
            inserted = await _connection.ExecuteAsync(_transaction, """
                INSERT INTO responses (assessment_id, token_hash, org_unit_id, tenure_band, role_level, location, answers)
                SELECT $1, token_hash, org_unit_id, tenure_band, role_level, location, answers FROM staging ORDER BY token_hash
                """, cancellationToken, _assessmentId);
        }
        catch (PostgresException e) when (string.Equals(e.SqlState, PostgresErrorCodes.UniqueViolation, StringComparison.Ordinal))
        {
            await _transaction.RollbackAsync("insert_responses", cancellationToken);
            await using var duplicates = _connection.Command(_transaction,
                "SELECT min(line), max(line) FROM staging GROUP BY token_hash HAVING count(*) > 1 ORDER BY 2 LIMIT 1");
            await using var reader = await duplicates.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                throw Duplicate(reader.GetInt64(0), reader.GetInt64(1));
            }

            throw new RpcException(new Status(StatusCode.Aborted, "A concurrent submission changed the assessment's responses; retry."));
        }

        if (inserted != _rows - already)
        {
            throw new RpcException(new Status(StatusCode.Aborted, "A concurrent submission changed the assessment's responses; retry."));
        }

        // The comments of the rows inserted (not of those submitted before), apart from the responses: by the hash of their
        // text, so neither the file's order nor the respondent token can be recovered from the table.
        await _connection.ExecuteAsync(_transaction, """
            INSERT INTO comments (assessment_id, org_unit_id, tenure_band, role_level, location, text)
            SELECT $1, org_unit_id, tenure_band, role_level, location, comment FROM staging WHERE comment <> ''
            ORDER BY sha256(convert_to(comment, 'UTF8')), comment
            """, cancellationToken, _assessmentId);
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
    public static byte[] TokenHash(string assessmentId, string token) => TokenHash(Encoding.UTF8.GetBytes(assessmentId + "\n"), token);

    /// <summary><see cref="TokenHash(string, string)"/> with the assessment's part already encoded: one array per row (the hash).</summary>
    private static byte[] TokenHash(byte[] assessmentPrefix, string token)
    {
        var length = assessmentPrefix.Length + Encoding.UTF8.GetMaxByteCount(token.Length);
        var rented = length <= 1024 ? null : System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        var buffer = rented ?? stackalloc byte[length];
        try
        {
            assessmentPrefix.CopyTo(buffer);
            var written = assessmentPrefix.Length + Encoding.UTF8.GetBytes(token, buffer[assessmentPrefix.Length..]);
            var hash = new byte[SHA256.HashSizeInBytes];
            SHA256.HashData(buffer[..written], hash);
            return hash;
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static RpcException Duplicate(long first, long second) =>
        RpcErrors.InvalidArgument($"Line {second}: the respondent token of line {first} appears again.",
            ($"rows[line {second}].respondent_token", $"Duplicate of line {first}."));

    private static void CheckLength(ResponseRow row, string field, string value)
    {
        if (value.Length > MaxAttributeLength)
        {
            throw Invalid(row, field, $"At most {MaxAttributeLength} characters.");
        }
    }

    private static RpcException Invalid(ResponseRow row, string field, string description) =>
        RpcErrors.InvalidArgument($"Line {row.Line}: {description} Nothing was stored.", ($"rows[line {row.Line}].{field}", description));

    private void Accumulate(string unit, string tenure, string role, string location, short[] answers, bool add)
    {
        // One dictionary lookup per row: the group's aggregates, one per dimension (by index).
        var key = (unit, tenure, role, location);
        if (!_groups.TryGetValue(key, out var group))
        {
            _groups[key] = group = new Aggregate[_dimensions.Length];
        }

        Span<int> flipped = stackalloc int[answers.Length];
        for (var d = 0; d < _dimensions.Length; d++)
        {
            var count = 0;
            for (var i = 0; i < answers.Length; i++)
            {
                if (answers[i] > 0 && _dimensionOfItem[i] == d)
                {
                    flipped[count++] = Scoring.Flip(answers[i], _items.ReverseScored[i]);
                }
            }

            if (count == 0)
            {
                continue;
            }

            var aggregate = group[d] ??= new Aggregate();
            if (add)
            {
                aggregate.AddRespondent(flipped[..count]);
            }
            else
            {
                var one = new Aggregate();
                one.AddRespondent(flipped[..count]);
                aggregate.Subtract(one);
            }
        }
    }

    private async Task WriteAggregatesAsync(CancellationToken cancellationToken)
    {
        var nonEmpty = _groups
            .SelectMany(g => g.Value.Select((aggregate, d) => (Key: (Dimension: _dimensions[d], g.Key.Unit, g.Key.Tenure, g.Key.Role, g.Key.Location), Value: aggregate)))
            .Where(a => a.Value is { N: not 0 })
            .Select(a => (a.Key, Value: a.Value!))
            .ToList();
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
