using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Serialization;

namespace Transformation.ServerProcesses;

/// <summary>
/// A RabbitMQ broker listening on loopback with its management plugin (its HTTP API creates vhosts and lets tests inspect
/// queues), whatever runs it: a process (<see cref="RabbitMqServer"/>) or a container (the test fixtures).
/// </summary>
public abstract class RabbitMqBroker : IAsyncDisposable
{
    private readonly HttpClient _management;

    protected RabbitMqBroker(int amqpPort, int managementPort, string userName, string password)
    {
        (AmqpPort, ManagementPort, UserName, Password) = (amqpPort, managementPort, userName, password);
        _management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ManagementPort}/api/"), Timeout = TimeSpan.FromSeconds(30) };
        _management.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{UserName}:{Password}")));
    }

    public string Host { get; } = "127.0.0.1";

    public int AmqpPort { get; }

    public int ManagementPort { get; }

    public string UserName { get; }

    public string Password { get; }

    /// <summary>False after <see cref="StopAsync"/> (or a kill) until <see cref="RestartAsync"/>.</summary>
    public abstract bool IsRunning { get; }

    /// <summary>Stops the broker gracefully; its data and ports stay for <see cref="RestartAsync"/>.</summary>
    public abstract Task StopAsync();

    /// <summary>Starts the broker again on the same ports with the same data, and waits until it is ready.</summary>
    public abstract Task RestartAsync(CancellationToken cancellationToken = default);

    /// <summary>An amqp:// address for a virtual host, with this broker's credentials.</summary>
    public Uri AmqpUri(string virtualHost = "/") =>
        new($"amqp://{Uri.EscapeDataString(UserName)}:{Uri.EscapeDataString(Password)}@{Host}:{AmqpPort}/{Uri.EscapeDataString(virtualHost)}");

    public async Task CreateVirtualHostAsync(string name, CancellationToken cancellationToken = default)
    {
        var vhost = Uri.EscapeDataString(name);
        (await _management.PutAsync($"vhosts/{vhost}", null, cancellationToken)).EnsureSuccessStatusCode();
        var permissions = JsonContent.Create(new { configure = ".*", write = ".*", read = ".*" });
        (await _management.PutAsync($"permissions/{vhost}/{Uri.EscapeDataString(UserName)}", permissions, cancellationToken)).EnsureSuccessStatusCode();
    }

    public async Task DeleteVirtualHostAsync(string name, CancellationToken cancellationToken = default)
    {
        var response = await _management.DeleteAsync($"vhosts/{Uri.EscapeDataString(name)}", cancellationToken);
        if (response.StatusCode != System.Net.HttpStatusCode.NotFound)
        {
            response.EnsureSuccessStatusCode();
        }
    }

    public async Task<IReadOnlyList<string>> VirtualHostsAsync(CancellationToken cancellationToken = default) =>
        (await _management.GetFromJsonAsync<List<NamedResource>>("vhosts", cancellationToken))!.Select(v => v.Name).ToList();

    /// <summary>The queues of a virtual host as the broker reports them (name, messages ready, arguments).</summary>
    public async Task<IReadOnlyList<QueueInfo>> QueuesAsync(string virtualHost, CancellationToken cancellationToken = default) =>
        (await _management.GetFromJsonAsync<List<QueueInfo>>($"queues/{Uri.EscapeDataString(virtualHost)}", cancellationToken))!;

    /// <summary>True once the broker accepts AMQP connections and its management API answers (a readiness probe: one attempt).</summary>
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken = default)
    {
        if (!FreePorts.IsListening(AmqpPort))
        {
            return false;
        }

        try
        {
            using var response = await _management.GetAsync("overview", cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DisposeBrokerAsync();
        _management.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Removes the broker (its process or container) and what it kept.</summary>
    protected abstract ValueTask DisposeBrokerAsync();

    private sealed record NamedResource([property: JsonPropertyName("name")] string Name);
}

public sealed record QueueInfo(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("durable")] bool Durable,
    [property: JsonPropertyName("auto_delete")] bool AutoDelete,
    [property: JsonPropertyName("messages")] long? Messages,
    [property: JsonPropertyName("arguments")] Dictionary<string, object> Arguments);
