using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using CsvHelper;
using Google.Rpc;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;
using Transformation.Portal.Web.Services;

namespace Transformation.Portal.Web.Hr;

/// <summary>What an upload did: the service's counts, or the problems (then nothing was stored).</summary>
public sealed record UploadResult(long Accepted, long AlreadySubmitted, IReadOnlyList<LineProblem> Problems)
{
    public bool Succeeded => Problems.Count == 0;
}

/// <summary>
/// Streams a responses CSV to SubmitResponses in one client-streaming call, in the format of `transform baselines import`:
/// respondent_token, org_unit_id, tenure_band, role_level, location, then one column per item id of the assessment
/// (answers 1 to 5, empty = not answered). Rows are checked as they are read; at the first bad row nothing more is sent
/// and the call is cancelled, so the service stores nothing, and the rest of the file is still checked (up to 20 problems).
/// </summary>
public static partial class ResponsesUpload
{
    public static readonly string[] AttributeColumns = ["respondent_token", "org_unit_id", "tenure_band", "role_level", "location"];

    private const int BatchSize = 200;
    private const int MaxProblems = 20;

    /// <param name="file">The file as the browser sends it.</param>
    /// <param name="assessment">The open assessment the responses answer.</param>
    /// <param name="baselines">The Baselines client of the signed-in person.</param>
    /// <param name="progress">Gets the bytes read so far.</param>
    /// <param name="cancellationToken">Cancels the upload (nothing is stored).</param>
    public static async Task<UploadResult> UploadAsync(Stream file, Assessment assessment, BaselinesClient baselines, Action<long> progress,
        CancellationToken cancellationToken)
    {
        var items = assessment.ItemIds.ToList();
        var options = new CsvReaderOptions { TrackLineNumbers = true, SkipEmptyLines = true, TrimWhitespace = true, MalformedData = CsvMalformedDataHandling.Throw };
        await using var csv = CsvReader.Create(file, options, leaveOpen: true);
        var problems = new List<LineProblem>();
        List<string> headers;
        try
        {
            await csv.ReadHeaderAsync(cancellationToken);
            headers = [.. csv.Headers.Select(h => h.Trim())];
        }
        catch (CsvFormatException e)
        {
            return Failed(new LineProblem(Math.Max(e.LineNumber, 1), "", $"The header is not valid CSV: {FirstLine(e.Message)}"));
        }

        var answerColumns = CheckHeader(headers, items, problems);
        if (problems.Count > 0)
        {
            return new UploadResult(0, 0, problems);
        }

        var attributeColumns = AttributeColumns.Select(c => headers.IndexOf(c)).ToArray();
        await using var call = await baselines.SubmitResponsesAsync(cancellationToken);
        try
        {
            await call.WriteAsync(new SubmitResponsesRequest { Header = new SubmitResponsesHeader { AssessmentId = assessment.AssessmentId } });
            var batch = new SubmitResponsesRequest();
            try
            {
                while (problems.Count < MaxProblems && await csv.ReadAsync(cancellationToken))
                {
                    var row = ReadRow(csv, headers, attributeColumns, answerColumns, problems);
                    if (row is null || problems.Count > 0)
                    {
                        continue;
                    }

                    batch.Rows.Add(row);
                    if (batch.Rows.Count >= BatchSize)
                    {
                        await call.WriteAsync(batch);
                        batch = new SubmitResponsesRequest();
                        progress(csv.ByteOffset);
                    }
                }
            }
            catch (CsvFormatException e)
            {
                var column = e.FieldIndex >= 0 && e.FieldIndex < headers.Count ? headers[(int)e.FieldIndex] : "";
                problems.Add(new LineProblem(e.LineNumber, column, $"Not valid CSV: {FirstLine(e.Message)}"));
            }

            if (problems.Count > 0)
            {
                // Disposing the unfinished call cancels it: the service rolls back what it staged.
                return new UploadResult(0, 0, problems);
            }

            if (batch.Rows.Count > 0)
            {
                await call.WriteAsync(batch);
            }

            call.CompleteRequest();
            var response = await call.ReadSingleAsync();
            return new UploadResult(response.Accepted, response.AlreadySubmitted, []);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            return new UploadResult(0, 0, ServiceProblems(e, items));
        }
        catch (RpcException) when (call.Status is null)
        {
            // A write failed because the service ended the call (it refused a row while the file was still streaming): its status says why.
            try
            {
                await call.ReadSingleAsync();
            }
            catch (RpcException refused) when (refused.StatusCode == StatusCode.InvalidArgument)
            {
                return new UploadResult(0, 0, ServiceProblems(refused, items));
            }

            throw;
        }
    }

    private static UploadResult Failed(LineProblem problem) => new(0, 0, [problem]);

    /// <summary>Checks the header; returns, per assessment item, the index of its column.</summary>
    private static int[] CheckHeader(List<string> headers, List<string> items, List<LineProblem> problems)
    {
        foreach (var column in AttributeColumns.Where(c => !headers.Contains(c, StringComparer.Ordinal)))
        {
            problems.Add(new LineProblem(1, column, $"The header has no '{column}' column."));
        }

        foreach (var item in items.Where(i => !headers.Contains(i, StringComparer.Ordinal)))
        {
            problems.Add(new LineProblem(1, item, $"The header has no column for the assessment's item '{item}'."));
        }

        foreach (var extra in headers.Where(h => !AttributeColumns.Contains(h, StringComparer.Ordinal) && !items.Contains(h, StringComparer.Ordinal)))
        {
            problems.Add(new LineProblem(1, extra, $"'{extra}' is neither a respondent attribute nor an item of the assessment ({string.Join(", ", items)})."));
        }

        return [.. items.Select(i => headers.IndexOf(i))];
    }

    /// <summary>One row, or null after adding its problems.</summary>
    private static ResponseRow? ReadRow(CsvReader csv, List<string> headers, int[] attributeColumns, int[] answerColumns, List<LineProblem> problems)
    {
        var line = csv.LineNumber;
        if (csv.FieldCount != headers.Count)
        {
            problems.Add(new LineProblem(line, "", $"{csv.FieldCount} fields where the header has {headers.Count}."));
            return null;
        }

        var before = problems.Count;
        var attributes = attributeColumns.Select(csv.GetString).ToArray();
        var row = new ResponseRow
        {
            Line = line, RespondentToken = attributes[0], OrgUnitId = attributes[1], TenureBand = attributes[2], RoleLevel = attributes[3], Location = attributes[4],
        };
        if (row.RespondentToken.Length == 0)
        {
            problems.Add(new LineProblem(line, "respondent_token", "A respondent token is required."));
        }

        if (row.OrgUnitId.Length == 0)
        {
            problems.Add(new LineProblem(line, "org_unit_id", "An org unit is required."));
        }

        var answered = 0;
        foreach (var index in answerColumns)
        {
            var span = csv.GetSpan(index);
            if (span.Length == 0)
            {
                row.Answers.Add(0);
                continue;
            }

            if (!Utf8Parser.TryParse(span, out int answer, out var consumed) || consumed != span.Length)
            {
                problems.Add(new LineProblem(line, headers[index], $"'{Encoding.UTF8.GetString(span)}' is not a number: an answer is 1 to 5, or empty."));
                continue;
            }

            if (answer is < 1 or > 5)
            {
                problems.Add(new LineProblem(line, headers[index], $"{answer.ToString(CultureInfo.InvariantCulture)} is out of range: an answer is 1 to 5, or empty."));
                continue;
            }

            row.Answers.Add(answer);
            answered++;
        }

        if (answered == 0 && problems.Count == before)
        {
            problems.Add(new LineProblem(line, "", "The response answers no item."));
        }

        return problems.Count == before ? row : null;
    }

    /// <summary>The service's field violations (rows[line N].field, rows[line N].answers[i]) as lines and columns.</summary>
    private static List<LineProblem> ServiceProblems(RpcException e, List<string> items)
    {
        var problems = new List<LineProblem>();
        foreach (var violation in e.GetDetail<BadRequest>()?.FieldViolations ?? [])
        {
            var match = RowField().Match(violation.Field);
            if (!match.Success)
            {
                problems.Add(new LineProblem(0, violation.Field, violation.Description));
                continue;
            }

            var column = match.Groups["field"].Value;
            if (match.Groups["answer"].Success && int.TryParse(match.Groups["answer"].Value, CultureInfo.InvariantCulture, out var index) && index < items.Count)
            {
                column = items[index];
            }

            problems.Add(new LineProblem(long.Parse(match.Groups["line"].Value, CultureInfo.InvariantCulture), column, violation.Description));
        }

        return problems.Count > 0 ? problems : [new LineProblem(0, "", e.Message)];
    }

    private static string FirstLine(string message) => message.Split('\n')[0];

    [GeneratedRegex(@"^rows\[line (?<line>\d+)\]\.(?<field>[a-z_]+)(\[(?<answer>\d+)\])?$", RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 100)]
    private static partial Regex RowField();
}
