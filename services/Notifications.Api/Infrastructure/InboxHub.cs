using System.Threading.Channels;
using Grpc.Core;

namespace Transformation.Notifications.Api.Infrastructure;

/// <summary>
/// Tells the live watches of an inbox, across instances, that it may have changed: every write to an inbox sends a NOTIFY on
/// <see cref="InboxStore.Channel"/> with the recipient's id (delivered on commit, to every instance); one listening connection per
/// instance wakes that recipient's watches here. A wake-up carries nothing (the watch reads the count again), so a watch keeps
/// at most one pending and never falls behind. When the listener is lost, wake-ups may be missed: every watch is ended with
/// UNAVAILABLE (the client watches again), and new watches wait for it to reconnect.
/// </summary>
public sealed partial class InboxHub(NotificationsDatabase database, ILogger<InboxHub> logger) : BackgroundService
{
    private static readonly TimeSpan Ping = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<Channel<bool>>> _watches = new(StringComparer.Ordinal);
    private TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A watch of <paramref name="recipientId"/>'s inbox: readable once per change notified after this returns.</summary>
    public async Task<InboxWatch> WatchAsync(string recipientId, CancellationToken cancellationToken)
    {
        Task listening;
        lock (_lock)
        {
            listening = _listening.Task;
        }

        try
        {
            await listening.WaitAsync(ConnectTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "Live updates are not available right now; try again shortly."));
        }

        var changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        lock (_lock)
        {
            if (!_watches.TryGetValue(recipientId, out var list))
            {
                _watches[recipientId] = list = [];
            }

            list.Add(changes);
        }

        return new InboxWatch(changes.Reader, () => Remove(recipientId, changes));
    }

    private void Remove(string recipientId, Channel<bool> changes)
    {
        lock (_lock)
        {
            if (_watches.TryGetValue(recipientId, out var list) && list.Remove(changes) && list.Count == 0)
            {
                _watches.Remove(recipientId);
            }
        }
    }

    private void Wake(string recipientId)
    {
        lock (_lock)
        {
            foreach (var changes in _watches.GetValueOrDefault(recipientId) ?? [])
            {
                changes.Writer.TryWrite(true);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await database.OpenListenerAsync(stoppingToken);
                connection.Notification += (_, notification) => Wake(notification.Payload);
                await connection.ExecuteAsync(null, $"LISTEN {InboxStore.Channel}", stoppingToken);
                lock (_lock)
                {
                    _listening.TrySetResult();
                }

                failures = 0;
                while (true)
                {
                    if (!await connection.WaitAsync(Ping, stoppingToken))
                    {
                        await connection.ExecuteAsync(null, "SELECT 1", stoppingToken);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception)
            {
                failures++;
                LogListenerFailed(exception, failures);
            }
            finally
            {
                EndAll();
            }

            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * Math.Pow(2, Math.Min(failures, 10)))), stoppingToken)
                .ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private void EndAll()
    {
        lock (_lock)
        {
            if (_listening.Task.IsCompleted)
            {
                _listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            foreach (var changes in _watches.Values.SelectMany(l => l))
            {
                changes.Writer.TryComplete(new RpcException(new Status(StatusCode.Unavailable, "Live updates were interrupted; watch again.")));
            }

            _watches.Clear();
        }
    }

    [LoggerMessage(LogLevel.Warning, "The inbox listener failed ({Failures} in a row); every watch ended, reconnecting.")]
    private partial void LogListenerFailed(Exception exception, int failures);
}

/// <summary>One live watch of an inbox: <see cref="Changes"/> yields once per change; disposing ends it.</summary>
public sealed class InboxWatch(ChannelReader<bool> changes, Action remove) : IDisposable
{
    public ChannelReader<bool> Changes => changes;

    public void Dispose() => remove();
}
