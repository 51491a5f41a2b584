using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Transformation.Notifications.V1;

namespace Transformation.Notifications.Api.Infrastructure;

/// <summary>
/// The endpoints, their deliveries and each delivery's attempts. The secret is stored as issued, in this service's own
/// database: the dispatcher needs it back to sign every attempt, so it can only be encrypted reversibly, and a Data
/// Protection key ring would be one more store every replica must share, back up and rotate, guarding a value that sits
/// in a database only this service reaches. No RPC reads it after the registration answered it.
/// </summary>
public static class WebhookStore
{
    private const string DeliveryColumns = "d.delivery_id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, d.created_at, d.next_attempt_at";

    public static async Task InsertEndpointAsync(NpgsqlConnection connection, WebhookEndpoint endpoint, string secret, CancellationToken cancellationToken) =>
        await connection.ExecuteAsync(null,
            "INSERT INTO webhook_endpoints (endpoint_id, url, event_types, format, description, secret, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            cancellationToken, Guid.Parse(endpoint.EndpointId), endpoint.Url, Sql.TextArray(endpoint.EventTypes), (int)endpoint.Format, endpoint.Description, secret,
            endpoint.CreatedBy, endpoint.CreatedAt.ToDateTimeOffset());

    public static async Task<List<WebhookEndpoint>> ListEndpointsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null,
            "SELECT endpoint_id, url, event_types, format, description, created_by, created_at FROM webhook_endpoints ORDER BY created_at, endpoint_id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var endpoints = new List<WebhookEndpoint>();
        while (await reader.ReadAsync(cancellationToken))
        {
            endpoints.Add(new WebhookEndpoint
            {
                EndpointId = reader.GetGuid(0).ToString(),
                Url = reader.GetString(1),
                EventTypes = { reader.GetFieldValue<string[]>(2) },
                Format = (WebhookFormat)reader.GetInt32(3),
                Description = reader.GetString(4),
                CreatedBy = reader.GetString(5),
                CreatedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(6)),
            });
        }

        return endpoints;
    }

    public static async Task<bool> EndpointExistsAsync(NpgsqlConnection connection, Guid endpointId, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, "SELECT 1 FROM webhook_endpoints WHERE endpoint_id = $1", endpointId);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    /// <summary>A pending delivery of the event to every endpoint registered for its topic; none twice for one (event, endpoint).</summary>
    public static async Task AddDeliveriesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string eventId, string topic, string cloudEventBody,
        string? chatBody, DateTimeOffset now, CancellationToken cancellationToken) =>
        await connection.ExecuteAsync(transaction, """
            INSERT INTO webhook_deliveries (delivery_id, endpoint_id, event_id, event_type, body, status, created_at, next_attempt_at)
            SELECT gen_random_uuid(), endpoint_id, $1, $2, CASE WHEN format = $5 THEN coalesce($4, $3) ELSE $3 END, $6, $7, $7
            FROM webhook_endpoints WHERE $2 = ANY (event_types)
            ON CONFLICT (event_id, endpoint_id) DO NOTHING
            """, cancellationToken, eventId, topic, cloudEventBody, new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, Value = (object?)chatBody ?? DBNull.Value }, (int)WebhookFormat.ChatText,
            (int)WebhookDeliveryStatus.Pending, now);

    /// <summary>One endpoint's deliveries (newest first) or every dead letter, each with its attempts.</summary>
    public static async Task<List<WebhookDelivery>> ListDeliveriesAsync(NpgsqlConnection connection, Guid? endpointId, int limit, CancellationToken cancellationToken)
    {
        var filter = endpointId is null ? $"d.status = {(int)WebhookDeliveryStatus.Dead}" : "d.endpoint_id = $2";
        object?[] parameters = endpointId is null ? [limit] : [limit, endpointId.Value];
        await using var command = connection.Command(null,
            $"SELECT {DeliveryColumns} FROM webhook_deliveries d WHERE {filter} ORDER BY d.created_at DESC, d.delivery_id LIMIT $1", parameters);
        var deliveries = await ReadDeliveriesAsync(command, cancellationToken);
        await AddLogsAsync(connection, null, deliveries, cancellationToken);
        return deliveries;
    }

    /// <summary>
    /// Makes a dead letter pending again, due now, with a fresh count of attempts; null when there is no such dead letter
    /// (the caller tells an unknown id from a delivery that is not dead).
    /// </summary>
    public static async Task<WebhookDelivery?> ReplayAsync(NpgsqlConnection connection, Guid deliveryId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, $"""
            UPDATE webhook_deliveries d SET status = $2, attempt_base = attempts, next_attempt_at = $3
            WHERE delivery_id = $1 AND status = $4 RETURNING {DeliveryColumns}
            """, deliveryId, (int)WebhookDeliveryStatus.Pending, now, (int)WebhookDeliveryStatus.Dead);
        var deliveries = await ReadDeliveriesAsync(command, cancellationToken);
        await AddLogsAsync(connection, null, deliveries, cancellationToken);
        return deliveries.SingleOrDefault();
    }

    public static async Task<bool> DeliveryExistsAsync(NpgsqlConnection connection, Guid deliveryId, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, "SELECT 1 FROM webhook_deliveries WHERE delivery_id = $1", deliveryId);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    private static async Task<List<WebhookDelivery>> ReadDeliveriesAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var deliveries = new List<WebhookDelivery>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var status = (WebhookDeliveryStatus)reader.GetInt32(4);
            deliveries.Add(new WebhookDelivery
            {
                DeliveryId = reader.GetGuid(0).ToString(),
                EndpointId = reader.GetGuid(1).ToString(),
                EventId = reader.GetString(2),
                EventType = reader.GetString(3),
                Status = status,
                Attempts = reader.GetInt32(5),
                CreatedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(6)),
                NextAttemptAt = status == WebhookDeliveryStatus.Pending ? Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(7)) : null,
            });
        }

        return deliveries;
    }

    private static async Task AddLogsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, List<WebhookDelivery> deliveries, CancellationToken cancellationToken)
    {
        if (deliveries.Count == 0)
        {
            return;
        }

        var byId = deliveries.ToDictionary(d => Guid.Parse(d.DeliveryId));
        await using var command = connection.Command(transaction,
            "SELECT delivery_id, attempt, at, status_code, error FROM webhook_attempts WHERE delivery_id = ANY ($1) ORDER BY delivery_id, attempt", byId.Keys.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            byId[reader.GetGuid(0)].Log.Add(new WebhookAttempt
            {
                Attempt = reader.GetInt32(1),
                At = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(2)),
                StatusCode = reader.GetInt32(3),
                Error = reader.GetString(4),
            });
        }
    }
}
