using System.Globalization;
using System.Text.RegularExpressions;
using Transformation.Baselines.V1;

namespace Transformation.Csv;

/// <summary>
/// The survey responses file of `transform baselines import` and the portal's HR upload, for SubmitResponses:
/// respondent_token, org_unit_id, tenure_band, role_level, location, then one column per item id of the assessment
/// (answers 1 to 5, empty = not answered), in any order, and optionally a `comment` column (free text, empty = none; files
/// without it stay valid). Answers are sent in the assessment's item order.
/// </summary>
public sealed partial class ResponsesCsv : CsvFormat<ResponseRow, SubmitResponsesRequest>
{
    public static readonly IReadOnlyList<string> AttributeColumns = ["respondent_token", "org_unit_id", "tenure_band", "role_level", "location"];

    /// <summary>The optional free-text column.</summary>
    public const string CommentColumn = "comment";

    private readonly string _assessmentId;
    private readonly string[] _items;
    private readonly int _batchSize;

    // The org unit, tenure band, role level and location repeat: their strings are shared, not made per row.
    private readonly CsvValueCache[] _attributeValues = [new(), new(), new(), new(), new()];
    private int[] _attributeColumns = [];
    private int[] _answerColumns = [];
    private int _commentColumn = -1;

    /// <param name="assessmentId">The open assessment the responses answer.</param>
    /// <param name="itemIds">Its items, in the assessment's order.</param>
    /// <param name="batchSize">Rows per message.</param>
    public ResponsesCsv(string assessmentId, IEnumerable<string> itemIds, int batchSize = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        (_assessmentId, _items, _batchSize) = (assessmentId, [.. itemIds], batchSize);
    }

    public override int BatchSize => _batchSize;

    public override SubmitResponsesRequest Opening => new() { Header = new SubmitResponsesHeader { AssessmentId = _assessmentId } };

    public override void CheckHeader(IReadOnlyList<string> headers, CsvProblems problems)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(problems);
        foreach (var column in AttributeColumns.Where(c => !headers.Contains(c, StringComparer.Ordinal)))
        {
            problems.Add(1, column, $"The header has no '{column}' column.");
        }

        foreach (var item in _items.Where(i => !headers.Contains(i, StringComparer.Ordinal)))
        {
            problems.Add(1, item, $"The header has no column for the assessment's item '{item}'.");
        }

        foreach (var group in headers.GroupBy(h => h, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            problems.Add(1, group.Key, $"The column '{group.Key}' appears {group.Count()} times.");
        }

        foreach (var extra in headers.Where(h => !AttributeColumns.Contains(h, StringComparer.Ordinal) && !_items.Contains(h, StringComparer.Ordinal)
            && !string.Equals(h, CommentColumn, StringComparison.Ordinal)))
        {
            problems.Add(1, extra, extra.Contains('\uFFFD', StringComparison.Ordinal)
                ? "The header is not valid UTF-8."
                : $"'{extra}' is neither a respondent attribute nor an item of the assessment ({string.Join(", ", _items)}).");
        }

        _attributeColumns = [.. AttributeColumns.Select(c => IndexOf(headers, c))];
        _answerColumns = [.. _items.Select(i => IndexOf(headers, i))];
        _commentColumn = IndexOf(headers, CommentColumn);
    }

    public override ResponseRow? ReadRow(CsvRecord record, CsvProblems problems)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(problems);
        if (!record.HasEveryColumn(problems))
        {
            return null;
        }

        var line = record.Line;
        var before = problems.Count;
        var row = new ResponseRow
        {
            Line = line,
            RespondentToken = record.Text(_attributeColumns[0], problems),
            OrgUnitId = record.Text(_attributeColumns[1], problems, _attributeValues[1]),
            TenureBand = record.Text(_attributeColumns[2], problems, _attributeValues[2]),
            RoleLevel = record.Text(_attributeColumns[3], problems, _attributeValues[3]),
            Location = record.Text(_attributeColumns[4], problems, _attributeValues[4]),
            Comment = _commentColumn < 0 ? "" : record.Text(_commentColumn, problems).Trim(),
        };
        if (row.RespondentToken.Length == 0 && problems.Count == before)
        {
            problems.Add(line, "respondent_token", "A respondent token is required.");
        }

        if (row.OrgUnitId.Length == 0 && problems.Count == before)
        {
            problems.Add(line, "org_unit_id", "An org unit is required.");
        }

        var answered = 0;
        row.Answers.Capacity = _answerColumns.Length;
        foreach (var column in _answerColumns)
        {
            if (record.Span(column).IsEmpty)
            {
                row.Answers.Add(0);
                continue;
            }

            if (!record.TryInt(column, out var answer))
            {
                var quoted = record.Quote(column);
                problems.Add(line, record.Headers[column], quoted.StartsWith('\'')
                    ? $"{quoted} is not a number: an answer is 1 to 5, or empty."
                    : CsvRecord.NotUtf8);
                continue;
            }

            if (answer is < 1 or > 5)
            {
                problems.Add(line, record.Headers[column], $"{answer.ToString(CultureInfo.InvariantCulture)} is out of range: an answer is 1 to 5, or empty.");
                continue;
            }

            row.Answers.Add(answer);
            answered++;
        }

        if (answered == 0 && problems.Count == before)
        {
            problems.Add(line, "", "The response answers no item.");
        }

        return problems.Count == before ? row : null;
    }

    public override SubmitResponsesRequest Pack(IReadOnlyList<ResponseRow> rows) => new() { Rows = { rows } };

    /// <summary>The service names rows[line N].field or rows[line N].answers[i] (i: the assessment's item i).</summary>
    protected override CsvProblem ServiceProblem(string field, string description)
    {
        var match = RowField().Match(field);
        if (!match.Success)
        {
            return new CsvProblem(0, field, description);
        }

        var column = match.Groups["field"].Value;
        if (match.Groups["answer"].Success && int.TryParse(match.Groups["answer"].Value, CultureInfo.InvariantCulture, out var index) && index < _items.Length)
        {
            column = _items[index];
        }

        return new CsvProblem(long.Parse(match.Groups["line"].Value, CultureInfo.InvariantCulture), column, description);
    }

    private static int IndexOf(IReadOnlyList<string> headers, string column)
    {
        for (var i = 0; i < headers.Count; i++)
        {
            if (string.Equals(headers[i], column, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    [GeneratedRegex(@"^rows\[line (?<line>\d+)\]\.(?<field>[a-z_]+)(\[(?<answer>\d+)\])?$", RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 100)]
    private static partial Regex RowField();
}
