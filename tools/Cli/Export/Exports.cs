using System.Globalization;
using System.Runtime.CompilerServices;
using CsvHelper;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Transformation.Cli.Services;
using Transformation.Csv;
using Transformation.Directory.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Cli.Export;

public enum ExportFormat
{
    Csv,
    Json,
}

/// <summary>
/// The exports: each reads a service's data through its gRPC API, page by page (or as a stream), and writes it as CSV (a header
/// and one record per item, formulas neutralised: <see cref="CsvExport"/>) or JSON (an array of the items in protobuf's JSON form, proto field names, defaults included).
/// </summary>
public static class Exports
{
    private const int Page = 500;

    private static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithFormatDefaultValues(true));

    /// <summary>Org units (parents first), then employees, as now. The CSV is the format `transform directory import` reads.</summary>
    public static Task<int> DirectoryAsync(DirectoryService.DirectoryServiceClient directory, string token, TextWriter output, ExportFormat format, Action<int>? progress,
        CancellationToken cancellationToken) =>
        WriteAsync(DirectorySnapshot(directory, token, cancellationToken), [.. DirectoryCsv.Columns], item => item.ItemCase == StreamDirectorySnapshotResponse.ItemOneofCase.OrgUnit
            ? [
                "org_unit", item.OrgUnit.OrgUnitId, item.OrgUnit.Name, "", item.OrgUnit.ParentId, Kind(item.OrgUnit.Kind), "", "", "",
            ]
            : [
                "employee", item.Employee.EmployeeId, item.Employee.DisplayName, item.Employee.Email, "", "", item.Employee.OrgUnitId, item.Employee.ManagerId,
                string.Join(';', item.Employee.Roles.Select(RoleName)),
            ], output, format, progress, cancellationToken);

    public static readonly string[] RecognitionColumns =
        ["reward_id", "occurred_at", "employee_id", "org_unit_id", "behaviour_id", "behaviour_name", "source", "giver_id", "points", "message"];

    /// <summary>The public recognition feed (granted, public rewards), newest first; optionally of one org unit.</summary>
    public static Task<int> RecognitionsAsync(IncentivesService.IncentivesServiceClient incentives, string token, string orgUnitId, TextWriter output, ExportFormat format, Action<int>? progress,
        CancellationToken cancellationToken) =>
        WriteAsync(PublicFeed(incentives, token, orgUnitId, cancellationToken), RecognitionColumns, r =>
            [
                r.RewardId, Time(r.OccurredAt), r.EmployeeId, r.OrgUnitId, r.BehaviourId, r.BehaviourName, Source(r.Source), r.GiverId,
                r.Points.ToString(CultureInfo.InvariantCulture), r.Message,
            ], output, format, progress, cancellationToken);

    public static readonly string[] ObservationColumns =
    [
        "observation_id", "observed_at", "employee_id", "org_unit_id", "behaviour_id", "behaviour_version", "polarity", "source", "observer_id", "initiative_id",
        "evidence", "recorded_by", "recorded_at",
    ];

    /// <summary>Recorded observations in the order they were recorded, filtered as <paramref name="filter"/> says.</summary>
    public static Task<int> ObservationsAsync(InitiativeService.InitiativeServiceClient initiatives, string token, ListObservationsRequest filter, TextWriter output, ExportFormat format,
        Action<int>? progress, CancellationToken cancellationToken) =>
        WriteAsync(Observations(initiatives, token, filter, cancellationToken), ObservationColumns, o =>
            [
                o.ObservationId, Time(o.Input.ObservedAt), o.Input.EmployeeId, o.OrgUnitId, o.Input.BehaviourId, o.BehaviourVersion.ToString(CultureInfo.InvariantCulture),
                o.Input.Polarity == Polarity.Unacceptable ? "unacceptable" : "desired", Source(o.Input.Source), o.Input.ObserverId, o.Input.InitiativeId,
                o.Input.Evidence, o.RecordedBy, Time(o.RecordedAt),
            ], output, format, progress, cancellationToken);

    private static async IAsyncEnumerable<StreamDirectorySnapshotResponse> DirectorySnapshot(DirectoryService.DirectoryServiceClient directory, string token,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var call = directory.StreamDirectorySnapshot(new StreamDirectorySnapshotRequest(), ServiceClients.Headers(token), cancellationToken: cancellationToken);
        await foreach (var item in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            yield return item;
        }
    }

    /// <summary>Pages back through the feed: each page asks for what occurred before the last item seen (items at that same instant are deduplicated).</summary>
    private static async IAsyncEnumerable<Reward> PublicFeed(IncentivesService.IncentivesServiceClient incentives, string token, string orgUnitId,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Timestamp? before = null;
        while (true)
        {
            var page = await incentives.GetPublicFeedAsync(new GetPublicFeedRequest { Limit = Page, Before = before, OrgUnitId = orgUnitId },
                ServiceClients.Headers(token), cancellationToken: cancellationToken);
            var fresh = page.Rewards.Where(r => seen.Add(r.RewardId)).ToList();
            foreach (var reward in fresh)
            {
                yield return reward;
            }

            if (page.Rewards.Count < Page || fresh.Count == 0)
            {
                yield break;
            }

            // The feed's times have microseconds: "before the last one + 1 µs" includes the last instant again, so nothing at it is skipped.
            var last = page.Rewards[^1].OccurredAt.ToDateTimeOffset();
            before = Timestamp.FromDateTimeOffset(last.AddTicks(10));
        }
    }

    private static async IAsyncEnumerable<Observation> Observations(InitiativeService.InitiativeServiceClient initiatives, string token, ListObservationsRequest filter,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = filter.Clone();
        request.PageSize = Page;
        request.PageToken = "";
        while (true)
        {
            var page = await initiatives.ListObservationsAsync(request, ServiceClients.Headers(token), cancellationToken: cancellationToken);
            foreach (var observation in page.Observations)
            {
                yield return observation;
            }

            if (page.NextPageToken.Length == 0)
            {
                yield break;
            }

            request.PageToken = page.NextPageToken;
        }
    }

    private static async Task<int> WriteAsync<T>(IAsyncEnumerable<T> items, string[] columns, Func<T, string[]> record, TextWriter output, ExportFormat format,
        Action<int>? progress, CancellationToken cancellationToken)
        where T : IMessage
    {
        var count = 0;
        if (format == ExportFormat.Csv)
        {
            await using var csv = CsvWriter.Create(output, CsvExport.WriterOptions(), leaveOpen: true);
            csv.WriteHeader(columns);
            await foreach (var item in items.WithCancellation(cancellationToken))
            {
                csv.WriteRecord(record(item));
                count++;
                progress?.Invoke(count);
            }

            await csv.FlushAsync(cancellationToken);
            return count;
        }

        await output.WriteAsync("[");
        await foreach (var item in items.WithCancellation(cancellationToken))
        {
            await output.WriteAsync(count == 0 ? "\n  " : ",\n  ");
            await output.WriteAsync(Json.Format(item));
            count++;
            progress?.Invoke(count);
        }

        await output.WriteAsync(count == 0 ? "]\n" : "\n]\n");
        await output.FlushAsync(cancellationToken);
        return count;
    }

    private static string Time(Timestamp? time) => time?.ToDateTimeOffset().ToString("O", CultureInfo.InvariantCulture) ?? "";

    private static string Kind(OrgUnitKind kind) => kind switch
    {
        OrgUnitKind.Organisation => "organisation",
        OrgUnitKind.Division => "division",
        OrgUnitKind.Department => "department",
        OrgUnitKind.Team => "team",
        OrgUnitKind.Location => "location",
        _ => "",
    };

    private static string RoleName(Role role) => role switch
    {
        Role.Hr => "hr",
        Role.Executive => "executive",
        Role.ChangeManager => "change_manager",
        Role.Operator => "operator",
        _ => "employee",
    };

    private static string Source(ObservationSource source) => source switch
    {
        ObservationSource.Manager => "manager",
        ObservationSource.Peer => "peer",
        ObservationSource.SystemIntegration => "system_integration",
        ObservationSource.CustomerFeedback => "customer_feedback",
        ObservationSource.PartnerFeedback => "partner_feedback",
        _ => "",
    };
}
