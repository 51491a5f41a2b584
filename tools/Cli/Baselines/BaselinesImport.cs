using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using CsvHelper;
using Google.Rpc;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;

namespace Transformation.Cli.Baselines;

/// <summary>A problem in the file: its line and column.</summary>
public sealed record ImportProblem(long Line, string Column, string Problem);

/// <summary>What an import did: the service's counts, or the problems (then nothing was stored).</summary>
public sealed record ImportResult(long Accepted, long AlreadySubmitted, IReadOnlyList<ImportProblem> Problems)
{
    public bool Succeeded => Problems.Count == 0;
}

/// <summary>
/// Streams a responses CSV (respondent_token, org_unit_id, tenure_band, role_level, location, then one column per item
/// id of the assessment; answers 1 to 5, empty = not answered) to SubmitResponses in ONE client-streaming call: the
/// service validates and stages every row in one transaction and commits only when the stream ends, so a file of any size
/// is all or nothing. The file is read record by record (never whole); at most one message of rows is held at a time.
/// </summary>
public static partial class BaselinesImport
{
    public static readonly string[] AttributeColumns = ["respondent_token", "org_unit_id", "tenure_band", "role_level", "location"];

    private const int MaxProblems = 20;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Imports <paramref name="file"/> into the assessment. <paramref name="progress"/> gets the bytes read so far.
    /// Bad rows (found here or by the service) come back as problems; other failures throw <see cref="RpcException"/>.
    /// </summary>
    public static async Task<ImportResult> ImportAsync(FileInfo file, string assessmentId, GrpcClient client, string token, int batchSize,
        Action<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var options = new CallOptions { Headers = new Metadata { { "authorization", "Bearer " + token } }, CancellationToken = cancellationToken };
        var service = BaselinesReflection.Descriptor.Services[0];
        var assessment = (await client.UnaryAsync<GetAssessmentRequest, GetAssessmentResponse>(service.FindMethodByName("GetAssessment"),
            new GetAssessmentRequest { AssessmentId = assessmentId }, options)).Assessment;
        var items = assessment.ItemIds.ToList();

        await using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        var readerOptions = new CsvReaderOptions
        {
            Separator = ',',
            TrackLineNumbers = true,
            SkipEmptyLines = true,
            TrimWhitespace = true,
            MalformedData = CsvMalformedDataHandling.Throw,
            BufferSize = 256 * 1024,
        };
        using var csv = CsvReader.Create(stream, readerOptions, leaveOpen: true);
        var problems = new List<ImportProblem>();
        List<string> headers;
        try
        {
            headers = [.. csv.Headers.Select(h => h.Trim())];
        }
        catch (CsvFormatException e)
        {
            return new ImportResult(0, 0, [new ImportProblem(Math.Max(e.LineNumber, 1), "", $"The header is not valid CSV: {FirstLine(e.Message)}")]);
        }

        // Answers are sent in the assessment's item order; columnOfAnswer[i] is the CSV column of item i.
        var columnOfAnswer = CheckHeader(headers, items, problems);
        if (problems.Count > 0)
        {
            return new ImportResult(0, 0, problems);
        }

        var attributeColumn = AttributeColumns.Select(c => headers.IndexOf(c)).ToArray();
        var call = client.Streaming<SubmitResponsesRequest, SubmitResponsesResponse>(service.FindMethodByName("SubmitResponses"), options);
        try
        {
            await call.WriteAsync(new SubmitResponsesRequest { Header = new SubmitResponsesHeader { AssessmentId = assessment.AssessmentId } });
            var batch = new SubmitResponsesRequest();
            var sending = true;
            try
            {
                while (await csv.ReadAsync(cancellationToken))
                {
                    var row = ReadRow(csv, headers, attributeColumn, columnOfAnswer, problems);
                    if (row is null)
                    {
                        // Nothing more is sent: the call is cancelled below and the service commits nothing. The rest of the
                        // file is still checked, up to a few problems, so that one run shows more than the first.
                        sending = false;
                        if (problems.Count >= MaxProblems)
                        {
                            break;
                        }

                        continue;
                    }

                    if (!sending)
                    {
                        continue;
                    }

                    batch.Rows.Add(row);
                    if (batch.Rows.Count >= batchSize)
                    {
                        await call.WriteAsync(batch);
                        batch = new SubmitResponsesRequest();
                        progress?.Invoke(csv.ByteOffset);
                    }
                }
            }
            catch (CsvFormatException e)
            {
                var column = e.FieldIndex >= 0 && e.FieldIndex < headers.Count ? headers[(int)e.FieldIndex] : "";
                problems.Add(new ImportProblem(e.LineNumber, column, $"Not valid CSV: {FirstLine(e.Message)}"));
            }

            if (problems.Count > 0)
            {
                return new ImportResult(0, 0, problems);
            }

            if (batch.Rows.Count > 0)
            {
                await call.WriteAsync(batch);
            }

            progress?.Invoke(file.Length);
            call.CompleteRequest();
            var response = await call.ReadSingleAsync();
            return new ImportResult(response.Accepted, response.AlreadySubmitted, []);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            return new ImportResult(0, 0, ServiceProblems(e, items));
        }
        catch (RpcException) when (call.Status is null)
        {
            // A write failed because the service ended the call (it refused a row while the file was still streaming):
            // its status says why.
            try
            {
                await call.ReadSingleAsync();
            }
            catch (RpcException refused) when (refused.StatusCode == StatusCode.InvalidArgument)
            {
                return new ImportResult(0, 0, ServiceProblems(refused, items));
            }

            throw;
        }
        finally
        {
            // Disposing an unfinished call cancels it: the service rolls its transaction back.
            await call.DisposeAsync();
        }
    }

    /// <summary>Checks the header; returns, per assessment item, the index of its column.</summary>
    private static int[] CheckHeader(List<string> headers, List<string> items, List<ImportProblem> problems)
    {
        foreach (var column in AttributeColumns.Where(c => !headers.Contains(c, StringComparer.Ordinal)))
        {
            problems.Add(new ImportProblem(1, column, $"The header has no '{column}' column."));
        }

        foreach (var item in items.Where(i => !headers.Contains(i, StringComparer.Ordinal)))
        {
            problems.Add(new ImportProblem(1, item, $"The header has no column for the assessment's item '{item}'."));
        }

        foreach (var group in headers.GroupBy(h => h, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            problems.Add(new ImportProblem(1, group.Key, $"The column '{group.Key}' appears {group.Count()} times."));
        }

        foreach (var extra in headers.Where(h => !AttributeColumns.Contains(h, StringComparer.Ordinal) && !items.Contains(h, StringComparer.Ordinal)))
        {
            problems.Add(new ImportProblem(1, extra, extra.Contains('\uFFFD', StringComparison.Ordinal)
                ? "The header is not valid UTF-8."
                : $"'{extra}' is neither a respondent attribute nor an item of the assessment ({string.Join(", ", items)})."));
        }

        return [.. items.Select(i => headers.IndexOf(i))];
    }

    /// <summary>One row, or null after adding its problems.</summary>
    private static ResponseRow? ReadRow(CsvReader csv, List<string> headers, int[] attributeColumn, int[] columnOfAnswer, List<ImportProblem> problems)
    {
        var line = csv.LineNumber;
        if (csv.FieldCount != headers.Count)
        {
            problems.Add(new ImportProblem(line, csv.FieldCount > headers.Count ? "" : headers[csv.FieldCount],
                $"{csv.FieldCount} fields where the header has {headers.Count}."));
            return null;
        }

        var before = problems.Count;
        var attributes = new string[AttributeColumns.Length];
        for (var a = 0; a < attributes.Length; a++)
        {
            var span = csv.GetSpan(attributeColumn[a]);
            try
            {
                attributes[a] = StrictUtf8.GetString(span);
            }
            catch (DecoderFallbackException)
            {
                problems.Add(new ImportProblem(line, AttributeColumns[a], "Not valid UTF-8: save the file as UTF-8."));
                attributes[a] = "";
            }
        }

        var row = new ResponseRow
        {
            Line = line, RespondentToken = attributes[0], OrgUnitId = attributes[1], TenureBand = attributes[2], RoleLevel = attributes[3], Location = attributes[4],
        };
        if (row.RespondentToken.Length == 0 && problems.Count == before)
        {
            problems.Add(new ImportProblem(line, "respondent_token", "A respondent token is required."));
        }

        if (row.OrgUnitId.Length == 0 && problems.Count == before)
        {
            problems.Add(new ImportProblem(line, "org_unit_id", "An org unit is required."));
        }

        var answered = 0;
        for (var i = 0; i < columnOfAnswer.Length; i++)
        {
            var span = csv.GetSpan(columnOfAnswer[i]);
            var column = headers[columnOfAnswer[i]];
            if (span.Length == 0)
            {
                row.Answers.Add(0);
                continue;
            }

            if (!Utf8Parser.TryParse(span, out int answer, out var consumed) || consumed != span.Length)
            {
                problems.Add(new ImportProblem(line, column, System.Text.Unicode.Utf8.IsValid(span)
                    ? $"'{Encoding.UTF8.GetString(span)}' is not a number: an answer is 1 to 5, or empty."
                    : "Not valid UTF-8: save the file as UTF-8."));
                continue;
            }

            if (answer is < 1 or > 5)
            {
                problems.Add(new ImportProblem(line, column, $"{answer.ToString(CultureInfo.InvariantCulture)} is out of range: an answer is 1 to 5, or empty."));
                continue;
            }

            row.Answers.Add(answer);
            answered++;
        }

        if (answered == 0 && problems.Count == before)
        {
            problems.Add(new ImportProblem(line, "", "The response answers no item."));
        }

        return problems.Count == before ? row : null;
    }

    /// <summary>The service's field violations (rows[line N].field, rows[line N].answers[i]) as lines and columns.</summary>
    private static List<ImportProblem> ServiceProblems(RpcException e, List<string> items)
    {
        var problems = new List<ImportProblem>();
        foreach (var violation in e.GetDetail<BadRequest>()?.FieldViolations ?? [])
        {
            var match = RowField().Match(violation.Field);
            if (!match.Success)
            {
                problems.Add(new ImportProblem(0, violation.Field, violation.Description));
                continue;
            }

            var line = long.Parse(match.Groups["line"].Value, CultureInfo.InvariantCulture);
            var column = match.Groups["field"].Value;
            if (match.Groups["answer"].Success && int.TryParse(match.Groups["answer"].Value, CultureInfo.InvariantCulture, out var index) && index < items.Count)
            {
                column = items[index];
            }

            problems.Add(new ImportProblem(line, column, violation.Description));
        }

        return problems.Count > 0 ? problems : [new ImportProblem(0, "", e.Message)];
    }

    private static string FirstLine(string message) => message.Split('\n')[0];

    [GeneratedRegex(@"^rows\[line (?<line>\d+)\]\.(?<field>[a-z_]+)(\[(?<answer>\d+)\])?$", RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 100)]
    private static partial Regex RowField();
}
