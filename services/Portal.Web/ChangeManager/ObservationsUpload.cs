using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using CsvHelper;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Transformation.GrpcHosting;
using Transformation.Initiatives.V1;
using Transformation.Portal.Web.Services;

namespace Transformation.Portal.Web.ChangeManager;

/// <summary>What a batch did: the service's counts, or the problems (then nothing was stored).</summary>
public sealed record BatchResult(int Created, int Duplicates, IReadOnlyList<LineProblem> Problems)
{
    public bool Succeeded => Problems.Count == 0;
}

/// <summary>
/// Streams an observations CSV to RecordObservations in one client-streaming call (all or nothing). Columns:
/// employee_id, behaviour_id (required), evidence, observed_at (ISO 8601; empty = now), source (manager, peer, system,
/// customer, partner; empty = manager), observer_id (empty = the signed-in person for manager and peer observations),
/// initiative_id (empty = the initiative chosen on the page). Each row's idempotency key is derived from its content, so
/// uploading the same file again records nothing twice.
/// </summary>
public static partial class ObservationsUpload
{
    public static readonly string[] Columns = ["employee_id", "behaviour_id", "evidence", "observed_at", "source", "observer_id", "initiative_id"];
    private static readonly string[] Required = ["employee_id", "behaviour_id"];

    public static async Task<BatchResult> UploadAsync(Stream file, string initiativeId, Person recorder, InitiativesClient initiatives,
        TimeProvider time, Action<long> progress, CancellationToken cancellationToken)
    {
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
            return new BatchResult(0, 0, [new(Math.Max(e.LineNumber, 1), "", $"The header is not valid CSV: {e.Message.Split('\n')[0]}")]);
        }

        problems.AddRange(Required.Where(c => !headers.Contains(c, StringComparer.Ordinal)).Select(c => new LineProblem(1, c, $"The header has no '{c}' column.")));
        problems.AddRange(headers.Where(h => !Columns.Contains(h, StringComparer.Ordinal))
            .Select(h => new LineProblem(1, h, $"'{h}' is not a column of an observations file ({string.Join(", ", Columns)}).")));
        if (problems.Count > 0)
        {
            return new BatchResult(0, 0, problems);
        }

        var lines = new List<long>();
        await using var call = await initiatives.RecordObservationsAsync(cancellationToken);
        try
        {
            try
            {
                while (problems.Count < 20 && await csv.ReadAsync(cancellationToken))
                {
                    var input = ReadRow(csv, headers, initiativeId, recorder, time.GetUtcNow(), problems);
                    if (input is null || problems.Count > 0)
                    {
                        continue;
                    }

                    lines.Add(csv.LineNumber);
                    await call.WriteAsync(new RecordObservationsRequest { Observation = input });
                    progress(csv.ByteOffset);
                }
            }
            catch (CsvFormatException e)
            {
                problems.Add(new(e.LineNumber, "", $"Not valid CSV: {e.Message.Split('\n')[0]}"));
            }

            if (problems.Count > 0)
            {
                return new BatchResult(0, 0, problems);
            }

            if (lines.Count == 0)
            {
                return new BatchResult(0, 0, [new(1, "", "The file has no observations.")]);
            }

            call.CompleteRequest();
            var response = await call.ReadSingleAsync();
            return new BatchResult(response.Created, response.Duplicates, []);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            return new BatchResult(0, 0, ServiceProblems(e, lines));
        }
        catch (RpcException) when (call.Status is null)
        {
            try
            {
                await call.ReadSingleAsync();
            }
            catch (RpcException refused) when (refused.StatusCode == StatusCode.InvalidArgument)
            {
                return new BatchResult(0, 0, ServiceProblems(refused, lines));
            }

            throw;
        }
    }

    private static ObservationInput? ReadRow(CsvReader csv, List<string> headers, string initiativeId, Person recorder, DateTimeOffset now,
        List<LineProblem> problems)
    {
        var line = csv.LineNumber;
        if (csv.FieldCount != headers.Count)
        {
            problems.Add(new(line, "", $"{csv.FieldCount} fields where the header has {headers.Count}."));
            return null;
        }

        string Field(string column) => headers.IndexOf(column) is >= 0 and var i ? csv.GetString(i) : "";
        var before = problems.Count;
        var source = Field("source").ToLowerInvariant() switch
        {
            "" or "manager" => ObservationSource.Manager,
            "peer" => ObservationSource.Peer,
            "system" => ObservationSource.SystemIntegration,
            "customer" => ObservationSource.CustomerFeedback,
            "partner" => ObservationSource.PartnerFeedback,
            var other => Invalid(line, "source", $"'{other}' is not a source: manager, peer, system, customer or partner.", problems),
        };
        var observedAt = now;
        if (Field("observed_at") is { Length: > 0 } text && !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out observedAt))
        {
            problems.Add(new(line, "observed_at", $"'{text}' is not a date and time such as 2026-11-02T09:30:00Z."));
        }

        foreach (var column in Required.Where(c => Field(c).Length == 0))
        {
            problems.Add(new(line, column, $"The {column.Replace('_', ' ')} is required."));
        }

        if (problems.Count > before)
        {
            return null;
        }

        var observer = Field("observer_id") is { Length: > 0 } named ? named
            : source is ObservationSource.Manager or ObservationSource.Peer ? recorder.Subject : "";
        var input = new ObservationInput
        {
            EmployeeId = Field("employee_id"),
            BehaviourId = Field("behaviour_id"),
            Evidence = Field("evidence"),
            Source = source,
            ObserverId = observer,
            ObservedAt = Timestamp.FromDateTimeOffset(observedAt),
            InitiativeId = Field("initiative_id") is { Length: > 0 } initiative ? initiative : initiativeId,
        };

        // The same row again (or the same file again) is the same observation: its key comes from what it says.
        var content = string.Join('\u001f', input.EmployeeId, input.BehaviourId, input.Evidence, Field("observed_at"), input.Source, input.ObserverId, input.InitiativeId);
        input.IdempotencyKey = "csv-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)))[..40];
        return input;
    }

    private static ObservationSource Invalid(long line, string column, string problem, List<LineProblem> problems)
    {
        problems.Add(new(line, column, problem));
        return ObservationSource.Unspecified;
    }

    /// <summary>The service names "observations[i].field": i is the i-th row sent.</summary>
    private static List<LineProblem> ServiceProblems(RpcException e, List<long> lines)
    {
        var problems = new List<LineProblem>();
        foreach (var violation in e.GetDetail<BadRequest>()?.FieldViolations ?? [])
        {
            var match = ItemField().Match(violation.Field);
            problems.Add(match.Success && int.TryParse(match.Groups["index"].Value, CultureInfo.InvariantCulture, out var index) && index < lines.Count
                ? new(lines[index], match.Groups["field"].Value, violation.Description)
                : new(0, violation.Field, violation.Description));
        }

        return problems.Count > 0 ? problems : [new(0, "", e.Message)];
    }

    [GeneratedRegex(@"^observations\[(?<index>\d+)\]\.(?<field>[a-z_]+)$", RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 100)]
    private static partial Regex ItemField();
}
