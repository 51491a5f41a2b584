using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Transformation.Notifications.FunctionalTests;

/// <summary>A real HTTP endpoint on loopback (Kestrel) that records every POST it receives and answers 500 while <see cref="Failing"/>.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Received> _received = new();

    private WebhookReceiver(WebApplication app) => _app = app;

    public volatile bool Failing;

    public Uri Url { get; private set; } = null!;

    public IReadOnlyList<Received> Received => [.. _received];

    public IEnumerable<Received> Accepted => _received.Where(r => r.Status == StatusCodes.Status200OK);

    public static async Task<WebhookReceiver> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", async context =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            var status = receiver.Failing ? StatusCodes.Status500InternalServerError : StatusCodes.Status200OK;
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            receiver._received.Enqueue(new Received(headers, body, status));
            context.Response.StatusCode = status;
        });
        await app.StartAsync(cancellationToken);
        var address = app.Urls.Single();
        receiver.Url = new Uri(new Uri(address.Replace("[::1]", "127.0.0.1", StringComparison.Ordinal)), "/hook");
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}

public sealed record Received(IReadOnlyDictionary<string, string> Headers, string Body, int Status)
{
    public string WebhookId => Headers["webhook-id"];

    public long Timestamp => long.Parse(Headers["webhook-timestamp"], CultureInfo.InvariantCulture);
}
