using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Npgsql;
using NpgsqlTypes;
using Transformation.Initiatives.Api.Model;
using Transformation.Initiatives.V1;

namespace Transformation.Initiatives.Api.Infrastructure;

/// <summary>Reads of recorded observations. Every one is filtered by <see cref="ObservationAccess"/> in SQL, so no read path can return more.</summary>
public static class ObservationQueries
{
    // $1: reads everything (hr); $2: the caller. Others: desired behaviour (polarity 1) in initiatives they run or sponsor.
    private const string Visible = """
        ($1 OR (o.polarity = 1 AND o.initiative_id IN (
            SELECT actor_id FROM actor_state WHERE actor_type = 'initiative' AND (state->>'changeManagerId' = $2 OR state->>'sponsorId' = $2))))
        """;

    /// <summary>A page of observations, newest first; the page token is the last row's sequence number.</summary>
    public static async Task<ListObservationsResponse> ListAsync(NpgsqlConnection connection, ObservationAccess access, ListObservationsRequest request,
        long before, int pageSize, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, $"""
            SELECT seq, observation_id, idempotency_key, employee_id, behaviour_id, behaviour_version, polarity, source, observer_id, observed_at,
                   initiative_id, evidence, org_unit_id, recorded_by, recorded_at
            FROM observations o
            WHERE {Visible} AND ($3 = 0 OR seq < $3) AND ($4 = '' OR employee_id = $4) AND ($5 = '' OR behaviour_id = $5) AND ($6 = '' OR initiative_id = $6)
              AND ($7::timestamptz IS NULL OR observed_at >= $7) AND ($8::timestamptz IS NULL OR observed_at < $8)
              AND ($9 = '' OR strpos(lower(employee_id || ' ' || behaviour_id || ' ' || evidence), lower($9)) > 0)
            ORDER BY seq DESC LIMIT $10
            """, access.Everything, Sql.Text(access.Subject), before, Sql.Text(request.EmployeeId), Sql.Text(request.BehaviourId),
            Sql.Text(request.InitiativeId), Time(request.Since), Time(request.Until), Sql.Text(request.Search), pageSize);
        var response = new ListObservationsResponse();
        long last = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            last = reader.GetInt64(0);
            response.Observations.Add(new Observation
            {
                ObservationId = reader.GetGuid(1).ToString(),
                Input = new ObservationInput
                {
                    IdempotencyKey = reader.GetString(2),
                    EmployeeId = reader.GetString(3),
                    BehaviourId = reader.GetString(4),
                    Polarity = (Polarity)reader.GetInt32(6),
                    Source = (ObservationSource)reader.GetInt32(7),
                    ObserverId = reader.GetString(8),
                    ObservedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(9)),
                    InitiativeId = reader.GetString(10),
                    Evidence = reader.GetString(11),
                },
                BehaviourVersion = reader.GetInt32(5),
                OrgUnitId = reader.GetString(12),
                RecordedBy = reader.GetString(13),
                RecordedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(14)),
            });
        }

        response.NextPageToken = response.Observations.Count == pageSize ? last.ToString(CultureInfo.InvariantCulture) : "";
        return response;
    }

    /// <summary>Which of <paramref name="ids"/> are observations of the initiative that the caller may read (what a story may cite).</summary>
    public static async Task<HashSet<string>> CitableAsync(NpgsqlConnection connection, ObservationAccess access, string initiativeId, IEnumerable<string> ids,
        CancellationToken cancellationToken)
    {
        var guids = ids.Select(id => Guid.TryParse(id, out var g) ? g : Guid.Empty).Where(g => g != Guid.Empty).ToArray();
        await using var command = connection.Command(null,
            $"SELECT observation_id::text FROM observations o WHERE {Visible} AND observation_id = ANY($3) AND initiative_id = $4",
            access.Everything, Sql.Text(access.Subject), guids, Sql.Text(initiativeId));
        var known = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            known.Add(reader.GetString(0));
        }

        return known;
    }

    private static NpgsqlParameter Time(Timestamp? time) =>
        new() { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = (object?)time?.ToDateTimeOffset() ?? DBNull.Value };
}
