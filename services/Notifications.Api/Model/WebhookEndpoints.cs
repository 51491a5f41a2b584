using System.Net;
using System.Security.Cryptography;
using Transformation.Notifications.V1;

namespace Transformation.Notifications.Api.Model;

/// <summary>The rules of a webhook endpoint's registration.</summary>
public static class WebhookEndpoints
{
    public const int MaxUrlLength = 2000;

    /// <summary>What is wrong with the request, field by field; empty when it may be registered.</summary>
    public static IReadOnlyList<(string Field, string Description)> Violations(RegisterWebhookEndpointRequest request)
    {
        var violations = new List<(string Field, string Description)>();
        if (UrlProblem(request.Url) is { } problem)
        {
            violations.Add(("url", problem));
        }

        if (request.Format is not (WebhookFormat.CloudEvents or WebhookFormat.ChatText))
        {
            violations.Add(("format", "Choose WEBHOOK_FORMAT_CLOUD_EVENTS or WEBHOOK_FORMAT_CHAT_TEXT."));
        }

        if (request.EventTypes.Count == 0)
        {
            violations.Add(("event_types", "Name at least one event type (ListWebhookEventTypes lists them)."));
        }

        for (var i = 0; i < request.EventTypes.Count; i++)
        {
            var topic = request.EventTypes[i];
            if (WebhookEventTypes.Withheld.Contains(topic))
            {
                violations.Add(($"event_types[{i}]", $"'{topic}' carries call-outs, which never leave the system."));
            }
            else if (!WebhookEventTypes.IsOffered(topic))
            {
                violations.Add(($"event_types[{i}]", $"'{topic}' is not an event type (ListWebhookEventTypes lists them)."));
            }
            else if (request.Format == WebhookFormat.ChatText && !WebhookEventTypes.AllowsChat(topic))
            {
                violations.Add(($"event_types[{i}]", $"'{topic}' has no chat text: only recognition-published and success-story-published do."));
            }
            else if (request.EventTypes.Take(i).Contains(topic, StringComparer.Ordinal))
            {
                violations.Add(($"event_types[{i}]", $"'{topic}' is named twice."));
            }
        }

        return violations;
    }

    /// <summary>https to any host, or http to loopback only (localhost, 127.0.0.0/8): the secret and the events never cross a network in clear.</summary>
    public static string? UrlProblem(string url)
    {
        if (url.Length == 0)
        {
            return "The endpoint's URL is required.";
        }

        if (url.Length > MaxUrlLength)
        {
            return $"The URL is longer than {MaxUrlLength} characters.";
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (!IsHttp(uri) && !string.Equals(uri.Scheme, Uri.UriSchemeHttps, StringComparison.Ordinal)))
        {
            return "The URL must be an absolute https:// URL (or http:// on loopback).";
        }

        if (uri.UserInfo.Length > 0)
        {
            return "The URL may not carry a user name or password.";
        }

        if (IsHttp(uri) && !IsLoopback(uri))
        {
            return "http:// is allowed only on loopback (localhost or 127.0.0.0/8); use https:// for any other host.";
        }

        return null;
    }

    /// <summary>A new signing secret as Standard Webhooks writes it: "whsec_" and 32 random bytes in base64.</summary>
    public static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static bool IsHttp(Uri uri) => string.Equals(uri.Scheme, Uri.UriSchemeHttp, StringComparison.Ordinal);

    private static bool IsLoopback(Uri uri) =>
        string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(uri.Host, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && address.GetAddressBytes()[0] == 127);
}
