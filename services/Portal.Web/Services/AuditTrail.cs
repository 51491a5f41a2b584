using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using Transformation.Audit.V1;
using Transformation.ServiceDefaults.Identity;
using EndStateAudit = Transformation.EndState.V1;

namespace Transformation.Portal.Web.Services;

/// <summary>One change as the audit trail page shows it, whichever service recorded it.</summary>
public sealed record AuditRow(string Service, string Entity, string EntityId, string ChangedBy, DateTimeOffset ChangedAt, string Before, string After, string Change);

/// <summary>One field that a change set, altered or removed ("" on the side where it was absent).</summary>
public sealed record FieldChange(string Field, string Before, string After);

/// <summary>
/// The audit trails of Baselines, Initiatives, Incentives and EndState (hr and executives), read side by side: the latest
/// changes first, filtered by service, kind of entity and entity id.
/// </summary>
public sealed class AuditTrail(BaselinesClient baselines, InitiativesClient initiatives, IncentivesClient incentives, EndStateClient endState)
{
    /// <summary>How many of the latest entries each service contributes.</summary>
    public const int Shown = 100;

    private const int PageSize = 500;
    private const int MaxPages = 20;

    /// <summary>The services with an audit trail, and the kinds of entity each one records.</summary>
    public static readonly IReadOnlyList<(string Service, string[] Entities)> Services =
    [
        (BaselinesClient.Name, ["dimension", "item", "assessment", "baseline"]),
        (InitiativesClient.Name, ["initiative", "success_story"]),
        (IncentivesClient.Name, ["behaviour", "incentive_rules", "budget", "reward"]),
        (EndStateClient.Name, ["end_state"]),
    ];

    /// <summary>The services whose trail <paramref name="person"/> may read: every one, for hr and executives.</summary>
    public static IEnumerable<(string Service, string[] Entities)> ReadableBy(Person person)
    {
        ArgumentNullException.ThrowIfNull(person);
        return person.IsIn(Roles.Hr) || person.IsIn(Roles.Executive) ? Services : [];
    }

    /// <summary>The latest entries of the services chosen (all readable when <paramref name="service"/> is empty), newest first; a problem per service that failed.</summary>
    public async Task<(List<AuditRow> Rows, List<Problem> Problems)> ReadAsync(Person person, string service, string entity, string entityId, CancellationToken ct = default)
    {
        var chosen = ReadableBy(person).Where(s => service.Length == 0 || string.Equals(s.Service, service, StringComparison.Ordinal)).ToList();
        var reads = chosen.Select(async s =>
        {
            // An entity kind the service does not record: nothing to ask it.
            if (entity.Length > 0 && !s.Entities.Contains(entity, StringComparer.Ordinal))
            {
                return (Rows: new List<AuditRow>(), Problem: (Problem?)null);
            }

            try
            {
                return (Rows: await ReadOneAsync(s.Service, entity, entityId, ct), Problem: (Problem?)null);
            }
            catch (RpcException e)
            {
                return (Rows: new List<AuditRow>(), Problem: Problem.From(e, s.Service, "its changes will show when it is back"));
            }
        });
        var results = await Task.WhenAll(reads);
        var rows = results.SelectMany(r => r.Rows).OrderByDescending(r => r.ChangedAt).ThenBy(r => r.Service, StringComparer.Ordinal).ToList();
        return (rows, [.. results.Select(r => r.Problem).OfType<Problem>()]);
    }

    private Task<List<AuditRow>> ReadOneAsync(string service, string entity, string entityId, CancellationToken ct)
    {
        // Baselines, Initiatives and Incentives share the transformation.audit.v1 contract; EndState keeps its versioned one.
        Func<ListAuditEntriesRequest, AsyncUnaryCall<ListAuditEntriesResponse>>? list = service switch
        {
            BaselinesClient.Name => request => baselines.ListAuditEntriesAsync(request, cancellationToken: ct),
            InitiativesClient.Name => request => initiatives.ListAuditEntriesAsync(request, cancellationToken: ct),
            IncentivesClient.Name => request => incentives.ListAuditEntriesAsync(request, cancellationToken: ct),
            _ => null,
        };
        if (list is null)
        {
            return LatestPagesAsync(async _ =>
            {
                var page = await endState.ListAuditEntriesAsync(new EndStateAudit.ListAuditEntriesRequest { ScopeOrgUnitId = entityId }, cancellationToken: ct);
                return (page.Entries.Select(e => Row(service, "end_state", e.ScopeOrgUnitId, e.Actor, e.At, e.BeforeJson, e.AfterJson,
                    $"version {e.Version.ToString(CultureInfo.InvariantCulture)}: {Words.Of(e.Change.ToString())}")), "");
            });
        }

        return LatestPagesAsync(async token =>
        {
            var page = await list(new ListAuditEntriesRequest { Entity = entity, EntityId = entityId, Limit = PageSize, PageToken = token });
            return (page.Entries.Select(e => Row(service, e.Entity, e.EntityId, e.ChangedBy, e.ChangedAt, e.Before, e.After)), page.NextPageToken);
        });
    }

    /// <summary>Reads pages oldest first until the end (or <see cref="MaxPages"/>), keeping the latest <see cref="Shown"/>.</summary>
    private static async Task<List<AuditRow>> LatestPagesAsync(Func<string, Task<(IEnumerable<AuditRow> Rows, string Next)>> page)
    {
        var latest = new Queue<AuditRow>();
        var token = "";
        for (var pages = 0; pages < MaxPages; pages++)
        {
            var (rows, next) = await page(token);
            foreach (var row in rows)
            {
                latest.Enqueue(row);
                if (latest.Count > Shown)
                {
                    latest.Dequeue();
                }
            }

            if (next.Length == 0)
            {
                break;
            }

            token = next;
        }

        return [.. latest];
    }

    private static AuditRow Row(string service, string entity, string entityId, string changedBy, Google.Protobuf.WellKnownTypes.Timestamp? at, string before,
        string after, string? change = null) =>
        new(service, entity, entityId, changedBy, at?.ToDateTimeOffset() ?? DateTimeOffset.MinValue, before, after,
            change ?? (before.Length == 0 ? "created" : after.Length == 0 ? "removed" : "changed"));

    /// <summary>
    /// The fields a change set, altered or removed, in words ("source points 1 › source"), in document order; enum values
    /// in words, ids by the name <paramref name="name"/> knows (an id with no name known is left out when no person could
    /// read it: a uuid or a hash), times as dates; at most <paramref name="max"/>, values shortened for reading.
    /// </summary>
    public static List<FieldChange> Changes(string before, string after, Func<string, string?>? name = null, int max = 12)
    {
        var (old, @new) = (Flatten(before), Flatten(after));
        var changes = new List<FieldChange>();
        foreach (var (path, value) in @new.Concat(old.Where(o => !@new.ContainsKey(o.Key)).Select(o => KeyValuePair.Create(o.Key, ""))))
        {
            var earlier = old.GetValueOrDefault(path, "");
            if (!string.Equals(earlier, value, StringComparison.Ordinal))
            {
                var (was, now) = (Readable(earlier, name), Readable(value, name));
                if (was is not null && now is not null)
                {
                    changes.Add(new FieldChange(Words.OfPath(path), Short(was), Short(now)));
                }
            }
        }

        return changes.Count > max ? [.. changes.Take(max), new FieldChange($"… and {changes.Count - max} more", "", "")] : changes;
    }

    /// <summary>Who made a change, in words: a person's name, or the service that made it on its own.</summary>
    public static string ChangedBy(string changedBy, Func<string, string?> name) =>
        changedBy.StartsWith("service:", StringComparison.Ordinal)
            ? $"{CultureInfo.InvariantCulture.TextInfo.ToTitleCase(changedBy["service:".Length..])} service (automatic)"
        : name(changedBy) ?? changedBy;

    /// <summary>The changed thing's id as a person reads it: its name when known; an id no person reads is left out.</summary>
    public static string Entity(string entityId, Func<string, string?> name) =>
        name(entityId) ?? (Words.IsOpaqueId(entityId) ? "" : entityId);

    // A value as people read it; null for an id nobody reads and no name is known for.
    private static string? Readable(string value, Func<string, string?>? name)
    {
        if (value.Length == 0)
        {
            return value;
        }

        if (Words.OfConstant(value) is { } words)
        {
            return words;
        }

        if (name?.Invoke(value) is { } named)
        {
            return named;
        }

        if (Words.IsOpaqueId(value))
        {
            return null;
        }

        return value.Length > 18 && value[4] == '-' && value[10] == 'T'
            && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at.ToString("d MMM yyyy HH:mm", CultureInfo.InvariantCulture)
            : value;
    }

    private static Dictionary<string, string> Flatten(string json)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(json))
        {
            return fields;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            Add(document.RootElement, "");
        }
        catch (JsonException)
        {
            fields["(document)"] = json;
        }

        return fields;

        void Add(JsonElement element, string path)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        Add(property.Value, path.Length == 0 ? property.Name : $"{path}.{property.Name}");
                    }

                    break;
                case JsonValueKind.Array:
                    var index = 0;
                    foreach (var item in element.EnumerateArray())
                    {
                        Add(item, $"{path}[{index++}]");
                    }

                    break;
                case JsonValueKind.String:
                    fields[path] = element.GetString() ?? "";
                    break;
                default:
                    fields[path] = element.GetRawText();
                    break;
            }
        }
    }

    private static string Short(string value) => value.Length > 80 ? value[..77] + "…" : value;
}
