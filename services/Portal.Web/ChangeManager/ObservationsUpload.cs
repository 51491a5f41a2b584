using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Google.Protobuf.WellKnownTypes;
using Transformation.Csv;
using Transformation.Initiatives.V1;
using Transformation.Portal.Web.Services;

namespace Transformation.Portal.Web.ChangeManager;

/// <summary>What a batch did: the service's counts, or the problems (then nothing was stored).</summary>
public sealed record BatchResult(int Created, int Duplicates, IReadOnlyList<LineProblem> Problems)
{
    public bool Succeeded => Problems.Count == 0;
}

/// <summary>
/// Streams an observations CSV to RecordObservations in one client-streaming call (all or nothing), with the upload loop
/// the responses upload and the CLI share (<see cref="CsvUpload"/>). Columns:
/// employee_id, behaviour_id (required), evidence, observed_at (ISO 8601 only: <see cref="CsvDates"/>; empty = now), source (manager, peer, system,
/// customer, partner; empty = manager), observer_id (empty = the signed-in person for manager and peer observations),
/// initiative_id (empty = the initiative chosen on the page). Each row's idempotency key is derived from its content, so
/// uploading the same file again records nothing twice.
/// </summary>
public static partial class ObservationsUpload
{
    public static IReadOnlyList<string> Columns => ObservationsCsv.Columns;

    public static async Task<BatchResult> UploadAsync(Stream file, string initiativeId, Person recorder, InitiativesClient initiatives,
        TimeProvider time, Action<long> progress, CancellationToken cancellationToken)
    {
        var result = await CsvUpload.SendAsync(file, new ObservationsCsv(initiativeId, recorder, time), ct => initiatives.RecordObservations(cancellationToken: ct), progress,
            cancellationToken);
        return result.Succeeded
            ? new BatchResult(result.Response!.Created, result.Response.Duplicates, [])
            : new BatchResult(0, 0, [.. result.Problems.Select(p => new LineProblem(p.Line, p.Column, p.Problem))]);
    }

    /// <summary>An observation and the line it was read from.</summary>
    private sealed record Row(long Line, ObservationInput Input);

    /// <summary>The observations file: one observation per message; the service names "observations[i].field" (the i-th sent).</summary>
    private sealed partial class ObservationsCsv(string initiativeId, Person recorder, TimeProvider time) : CsvFormat<Row, RecordObservationsRequest>
    {
        public static readonly IReadOnlyList<string> Columns = ["employee_id", "behaviour_id", "evidence", "observed_at", "source", "observer_id", "initiative_id"];
        private static readonly string[] Required = ["employee_id", "behaviour_id"];

        /// <summary>The line of each observation sent, in order (a browser upload is small: bounded by the page's size limit).</summary>
        private readonly List<long> _lines = [];
        private IReadOnlyList<string> _headers = [];

        public override int BatchSize => 1;

        public override string EmptyFileProblem => "The file has no observations.";

        public override void CheckHeader(IReadOnlyList<string> headers, CsvProblems problems)
        {
            _headers = headers;
            foreach (var column in Required.Where(c => !headers.Contains(c, StringComparer.Ordinal)))
            {
                problems.Add(1, column, $"The header has no '{column}' column.");
            }

            foreach (var extra in headers.Where(h => !Columns.Contains(h, StringComparer.Ordinal)))
            {
                problems.Add(1, extra, $"'{extra}' is not a column of an observations file ({string.Join(", ", Columns)}).");
            }
        }

        public override Row? ReadRow(CsvRecord record, CsvProblems problems)
        {
            if (!record.HasEveryColumn(problems))
            {
                return null;
            }

            var line = record.Line;
            string Field(string column) => IndexOf(column) is >= 0 and var i ? record.Text(i, problems) : "";
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
            var observedAt = time.GetUtcNow();
            if (Field("observed_at") is { Length: > 0 } text
                && !CsvDates.TryParse(text, out observedAt))
            {
                problems.Add(line, "observed_at", $"'{text}' is not {CsvDates.Expected}.");
            }

            foreach (var column in Required.Where(c => Field(c).Length == 0))
            {
                problems.Add(line, column, $"The {column.Replace('_', ' ')} is required.");
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
            var content = string.Join('\u001f', input.EmployeeId, input.BehaviourId, input.Evidence, Field("observed_at"), input.Source, input.ObserverId,
                input.InitiativeId);
            input.IdempotencyKey = "csv-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)))[..40];
            return new Row(line, input);
        }

        public override RecordObservationsRequest Pack(IReadOnlyList<Row> rows)
        {
            _lines.Add(rows[0].Line);
            return new RecordObservationsRequest { Observation = rows[0].Input };
        }

        protected override CsvProblem ServiceProblem(string field, string description)
        {
            var match = ItemField().Match(field);
            return match.Success && int.TryParse(match.Groups["index"].Value, CultureInfo.InvariantCulture, out var index) && index < _lines.Count
                ? new CsvProblem(_lines[index], match.Groups["field"].Value, description)
                : new CsvProblem(0, field, description);
        }

        private int IndexOf(string column)
        {
            for (var i = 0; i < _headers.Count; i++)
            {
                if (string.Equals(_headers[i], column, StringComparison.Ordinal))
                {
                    return i;
                }
            }

            return -1;
        }

        private static ObservationSource Invalid(long line, string column, string problem, CsvProblems problems)
        {
            problems.Add(line, column, problem);
            return ObservationSource.Unspecified;
        }

        [GeneratedRegex(@"^observations\[(?<index>\d+)\]\.(?<field>[a-z_]+)$", RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 100)]
        private static partial Regex ItemField();
    }
}
