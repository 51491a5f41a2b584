using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Grpc.Core;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>
/// Live employee feeds across instances. Every transaction that stores or reviews a reward sends a PostgreSQL
/// <c>NOTIFY</c> on <see cref="RewardPipeline.FeedChannel"/> ("&lt;reward id&gt; &lt;employee id&gt;"), which PostgreSQL
/// delivers only once it commits, to every instance. Each instance keeps one listening connection (reconnecting after
/// failures) and hands each notification to the watches of that employee in this instance. A watch buffers at most
/// <see cref="IncentivesOptions.FeedBufferSize"/> reward ids: the listener never waits for a watcher, and a watcher
/// that falls further behind is ended with RESOURCE_EXHAUSTED (it reads the feed again and watches again). When the
/// listening connection is lost, notifications may be missed, so every watch is ended with UNAVAILABLE rather than
/// left silently incomplete; new watches wait for the listener to reconnect.
/// </summary>
public sealed partial class FeedHub(IncentivesDatabase database, IOptions<IncentivesOptions> options, ILogger<FeedHub> logger) : BackgroundService
{
    private static readonly TimeSpan Ping = TimeSpan.FromSeconds(30);
    private readonly IncentivesOptions _options = options.Value;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<FeedWatch>> _watches = new(StringComparer.Ordinal);
    private TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How many watches this instance serves now.</summary>
    public int Watching
    {
        get
        {
            lock (_lock)
            {
                return _watches.Values.Sum(w => w.Count);
            }
        }
    }

    /// <summary>
    /// Registers a watch of <paramref name="employeeId"/>'s feed: every reward notified after this returns reaches it.
    /// UNAVAILABLE when the listener is not connected within <see cref="IncentivesOptions.FeedConnectTimeout"/>;
    /// RESOURCE_EXHAUSTED when the employee has too many watches on this instance.
    /// </summary>
    public async Task<FeedWatch> WatchAsync(string employeeId, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.FeedConnectTimeout);
        while (true)
        {
            Task listening;
            lock (_lock)
            {
                listening = _listening.Task;
                if (listening.IsCompletedSuccessfully)
                {
                    if (!_watches.TryGetValue(employeeId, out var watches))
                    {
                        _watches[employeeId] = watches = [];
                    }

                    if (watches.Count >= _options.FeedWatchersPerEmployee)
                    {
                        throw new RpcException(new Status(StatusCode.ResourceExhausted,
                            $"{employeeId}'s feed is watched {watches.Count} times on this instance already; end a watch first."));
                    }

                    var watch = new FeedWatch(this, employeeId, _options.FeedBufferSize);
                    watches.Add(watch);
                    return watch;
                }
            }

            try
            {
                await listening.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "Live feeds are not available right now (no database listener); try again shortly."));
            }
        }
    }

    internal void Remove(FeedWatch watch)
    {
        lock (_lock)
        {
            if (_watches.TryGetValue(watch.EmployeeId, out var watches) && watches.Remove(watch) && watches.Count == 0)
            {
                _watches.Remove(watch.EmployeeId);
            }
        }
    }

    /// <summary>Hands one notification to the employee's watches on this instance; never waits.</summary>
    internal void Dispatch(string payload)
    {
        if (!TryParse(payload, out var rewardId, out var employeeId))
        {
            LogUnreadable(payload);
            return;
        }

        FeedWatch[] watches;
        lock (_lock)
        {
            if (!_watches.TryGetValue(employeeId, out var list))
            {
                return;
            }

            watches = [.. list];
        }

        foreach (var watch in watches)
        {
            watch.Offer(rewardId);
        }
    }

    /// <summary>The payload of a feed notification.</summary>
    public static string Payload(string rewardId, string employeeId) => $"{rewardId} {employeeId}";

    /// <summary>Reads a payload: the reward id (which holds no space) up to the first space, the employee id after it.</summary>
    public static bool TryParse(string payload, out string rewardId, out string employeeId)
    {
        var space = payload.IndexOf(' ', StringComparison.Ordinal);
        (rewardId, employeeId) = space > 0 && space < payload.Length - 1 ? (payload[..space], payload[(space + 1)..]) : ("", "");
        return rewardId.Length > 0;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await database.OpenListenerAsync(stoppingToken);
                connection.Notification += (_, notification) => Dispatch(notification.Payload);
                await connection.ExecuteAsync(null, $"LISTEN {RewardPipeline.FeedChannel}", stoppingToken);
                lock (_lock)
                {
                    _listening.TrySetResult();
                }

                if (failures > 0)
                {
                    LogReconnected(failures);
                }

                failures = 0;
                while (true)
                {
                    if (!await connection.WaitAsync(Ping, stoppingToken))
                    {
                        // Quiet for a while: make sure the connection still answers.
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
                EndAll(stoppingToken.IsCancellationRequested
                    ? new RpcException(new Status(StatusCode.Unavailable, "The service is shutting down; read the feed again and watch again."))
                    : new RpcException(new Status(StatusCode.Unavailable, "The live feed lost its database listener and may have missed rewards; read the feed again and watch again.")));
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * Math.Pow(2, Math.Min(failures, 10)))), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Ends every watch (the listener is gone: they may miss rewards); new watches wait for it to come back.</summary>
    private void EndAll(RpcException status)
    {
        List<FeedWatch> all;
        lock (_lock)
        {
            if (_listening.Task.IsCompleted)
            {
                _listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            all = [.. _watches.Values.SelectMany(w => w)];
            _watches.Clear();
        }

        foreach (var watch in all)
        {
            watch.End(status);
        }
    }

    [LoggerMessage(LogLevel.Warning, "The live-feed listener failed ({Failures} in a row); every watch ended, reconnecting.")]
    private partial void LogListenerFailed(Exception exception, int failures);

    [LoggerMessage(LogLevel.Information, "The live-feed listener is connected again after {Failures} failure(s).")]
    private partial void LogReconnected(int failures);

    [LoggerMessage(LogLevel.Warning, "Ignored an unreadable live-feed notification '{Payload}'.")]
    private partial void LogUnreadable(string payload);
}

/// <summary>One watch of an employee's feed: the reward ids notified for them, until it is disposed or ended.</summary>
public sealed class FeedWatch : IDisposable
{
    private readonly FeedHub _hub;
    private readonly Channel<string> _rewards;
    private readonly CancellationTokenSource _ended = new();
    private readonly Lock _lock = new();
    private readonly int _capacity;
    private RpcException? _endedWith;
    private bool _disposed;

    internal FeedWatch(FeedHub hub, string employeeId, int capacity)
    {
        (_hub, EmployeeId, _capacity) = (hub, employeeId, capacity);
        _rewards = Channel.CreateBounded<string>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    public string EmployeeId { get; }

    /// <summary>Reward ids in the order notified; completes when the watch is ended.</summary>
    public ChannelReader<string> Rewards => _rewards.Reader;

    /// <summary>Why the watch was ended (the stream's status), or null while it runs.</summary>
    public RpcException? EndedWith
    {
        get
        {
            lock (_lock)
            {
                return _endedWith;
            }
        }
    }

    /// <summary>Fires when the watch is ended: a write to a client that stopped reading is abandoned.</summary>
    public CancellationToken Ended => _ended.Token;

    internal void Offer(string rewardId)
    {
        if (!_rewards.Writer.TryWrite(rewardId))
        {
            _hub.Remove(this);
            End(new RpcException(new Status(StatusCode.ResourceExhausted,
                $"This live feed fell more than {_capacity} rewards behind; read the feed again and watch again.")));
        }
    }

    internal void End(RpcException status)
    {
        lock (_lock)
        {
            if (_disposed || _endedWith is not null)
            {
                return;
            }

            _endedWith = status;
            _rewards.Writer.TryComplete();
            _ended.Cancel();
        }
    }

    public void Dispose()
    {
        _hub.Remove(this);
        lock (_lock)
        {
            if (!_disposed)
            {
                _disposed = true;
                _rewards.Writer.TryComplete();
                _ended.Dispose();
            }
        }
    }
}
