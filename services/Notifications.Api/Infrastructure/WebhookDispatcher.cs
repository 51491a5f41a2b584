using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Options;
using StandardWebhooks;
using Transformation.EventBus;
using Transformation.Notifications.Api.Model;
using Transformation.Notifications.V1;

namespace Transformation.Notifications.Api.Infrastructure;

/// <summary>
/// POSTs the due deliveries, signed as Standard Webhooks signs: <c>webhook-id</c> (the event's CloudEvent id, the same on
/// every attempt and replay), <c>webhook-timestamp</c> (Unix seconds of this attempt) and <c>webhook-signature</c>
/// ("v1," and the base64 HMAC-SHA256 over "{id}.{timestamp}.{body}" with the endpoint's secret). A 2xx answer delivers;
/// anything else is retried with exponential backoff until the attempts run out, which makes a dead letter.
/// </summary>
/// <remarks>
/// Each delivery is claimed with a row lock held through its POST: two workers or replicas never send it at once, and
/// if the process dies meanwhile the lock goes with its connection and the delivery stays due, so nothing is lost (the
/// receiver may then see the same webhook-id again, which is how it recognises a repeat).
/// </remarks>
public sealed partial class WebhookDispatcher(
    NotificationsDatabase database,
    IHttpClientFactory httpClients,
    IOptions<NotificationsOptions> options,
    TimeProvider time,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    public const string HttpClientName = "webhooks";

    private const string ClaimDue = """
        SELECT d.delivery_id, d.event_id, d.event_type, d.body, d.attempts, d.attempt_base, e.url, e.secret, e.format
        FROM webhook_deliveries d JOIN webhook_endpoints e USING (endpoint_id)
        WHERE d.status = $1 AND d.next_attempt_at <= $2
        ORDER BY d.next_attempt_at LIMIT 1 FOR UPDATE OF d SKIP LOCKED
        """;

    private readonly NotificationsOptions _options = options.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, _options.WebhookConcurrency).Select(_ => WorkAsync(stoppingToken)));

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!await DispatchOneAsync(stoppingToken))
                {
                    await Task.Delay(_options.WebhookPollInterval, time, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                // The database is unreachable, say: the deliveries wait in it, so the worker tries again rather than stop the host.
                LogDispatchFailed(exception);
                await Task.Delay(_options.WebhookPollInterval, time, stoppingToken);
            }
        }
    }

    /// <summary>Sends one due delivery and records the attempt; false when none was due.</summary>
    internal async Task<bool> DispatchOneAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        Due due;
        await using (var claim = connection.Command(transaction, ClaimDue, (int)WebhookDeliveryStatus.Pending, time.GetUtcNow()))
        await using (var reader = await claim.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return false;
            }

            due = new Due(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4), reader.GetInt32(5),
                new Uri(reader.GetString(6)), reader.GetString(7), (WebhookFormat)reader.GetInt32(8));
        }

        if (WebhookEventTypes.Withheld.Contains(due.EventType))
        {
            // Registration refuses these topics; this keeps a call-out in even if such a row ever were written.
            await connection.ExecuteAsync(transaction, "UPDATE webhook_deliveries SET status = $2 WHERE delivery_id = $1", cancellationToken,
                due.DeliveryId, (int)WebhookDeliveryStatus.Withheld);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }

        var (statusCode, error) = await PostAsync(due, cancellationToken);
        var attempt = due.Attempts + 1;
        var now = time.GetUtcNow();
        var retry = _options.WebhookRetry;
        var (status, next) = error is null
            ? (WebhookDeliveryStatus.Delivered, now)
            : retry.ShouldRetry(attempt - due.AttemptBase)
                ? (WebhookDeliveryStatus.Pending, now + retry.DelayAfter(attempt - due.AttemptBase, Random.Shared.NextDouble()))
                : (WebhookDeliveryStatus.Dead, now);
        await connection.ExecuteAsync(transaction, "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error) VALUES ($1, $2, $3, $4, $5)",
            cancellationToken, due.DeliveryId, attempt, now, statusCode, error ?? "");
        await connection.ExecuteAsync(transaction, "UPDATE webhook_deliveries SET attempts = $2, status = $3, next_attempt_at = $4 WHERE delivery_id = $1",
            cancellationToken, due.DeliveryId, attempt, (int)status, next);
        await transaction.CommitAsync(cancellationToken);
        if (status == WebhookDeliveryStatus.Dead)
        {
            LogDeadLetter(due.DeliveryId, due.EventId, due.Endpoint.GetLeftPart(UriPartial.Authority), attempt - due.AttemptBase);
        }

        return true;
    }

    private async Task<(int StatusCode, string? Error)> PostAsync(Due due, CancellationToken cancellationToken)
    {
        var timestamp = time.GetUtcNow();
        using var request = new HttpRequestMessage(HttpMethod.Post, due.Endpoint)
        {
            Content = new StringContent(due.Body, Encoding.UTF8),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(due.Format == WebhookFormat.ChatText ? "application/json" : CloudEvent.MediaType, "utf-8");
        request.Headers.Add("webhook-id", due.EventId);
        request.Headers.Add("webhook-timestamp", timestamp.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", new StandardWebhook(due.Secret).Sign(due.EventId, timestamp, due.Body));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.WebhookTimeout);
        try
        {
            using var response = await httpClients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var code = (int)response.StatusCode;
            return response.IsSuccessStatusCode ? (code, null) : (code, $"The endpoint answered {code} {response.ReasonPhrase}.");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (0, $"The endpoint did not answer within {_options.WebhookTimeout.TotalSeconds:0.###} s.");
        }
        catch (HttpRequestException exception)
        {
            return (0, exception.HttpRequestError == HttpRequestError.Unknown ? "The request failed." : $"The request failed: {exception.HttpRequestError}.");
        }
    }

    private sealed record Due(Guid DeliveryId, string EventId, string EventType, string Body, int Attempts, int AttemptBase, Uri Endpoint, string Secret,
        WebhookFormat Format);

    [LoggerMessage(LogLevel.Warning, "The webhook dispatcher failed (its database unreachable?); trying again.")]
    private partial void LogDispatchFailed(Exception exception);

    [LoggerMessage(LogLevel.Warning, "Webhook delivery {DeliveryId} of event {EventId} to {Endpoint} failed {Attempts} times: it is a dead letter.")]
    private partial void LogDeadLetter(Guid deliveryId, string eventId, string endpoint, int attempts);
}
