using System.Diagnostics;
using Google.Protobuf;
using Transformation.Testing.V1;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>What the test service saw, for assertions on the server side.</summary>
public sealed class ServerObservations
{
    private int _cancelledHandlers;
    private long _countdownWritten;

    public int CancelledHandlers => Volatile.Read(ref _cancelledHandlers);

    public long CountdownWritten => Interlocked.Read(ref _countdownWritten);

    public System.Collections.Concurrent.ConcurrentBag<string> ConnectionIds { get; } = [];

    internal void HandlerCancelled() => Interlocked.Increment(ref _cancelledHandlers);

    internal void Written() => Interlocked.Increment(ref _countdownWritten);

    internal void ResetCountdown() => Interlocked.Exchange(ref _countdownWritten, 0);

    /// <summary>Something a handler did, by key ("&lt;marker&gt;/finished"): completes <see cref="WhenReported"/>.</summary>
    internal void Report(string key, string outcome) => Event(key).TrySetResult(outcome);

    public Task<string> WhenReported(string key) => Event(key).Task;

    public bool WasReported(string key) => Event(key).Task.IsCompleted;

    private TaskCompletionSource<string> Event(string key) =>
        _events.GetOrAdd(key, _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource<string>> _events = new(StringComparer.Ordinal);
}

public sealed class TestService(ServerObservations observations) : Transformation.Testing.V1.TestService.TestServiceBase
{
    public override async Task<EchoResponse> Echo(EchoRequest request, ServerCallContext context)
    {
        var http = context.GetHttpContext();
        observations.ConnectionIds.Add(http.Connection.Id);
        await EchoMetadataAsync(context);
        if (request.Validate && request.Text.Length == 0)
        {
            throw RpcErrors.InvalidArgument("The request is invalid.", ("text", "must not be empty"));
        }

        if (request.FailCode != 0)
        {
            throw new RpcException(new Status((StatusCode)request.FailCode, request.FailMessage));
        }

        if (request.Crash)
        {
            throw new InvalidOperationException("secret internal detail");
        }

        if (request.DependencyTimeout)
        {
            throw new TimeoutException("secret dependency detail");
        }

        if (request.IgnoreCancellationMs > 0)
        {
            await Task.Delay(request.IgnoreCancellationMs, CancellationToken.None);
            observations.Report($"{request.Marker}/finished", "");
        }

        if (request.DelayMs > 0)
        {
            try
            {
                await Task.Delay(request.DelayMs, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                observations.HandlerCancelled();
                throw;
            }
        }

        return new EchoResponse
        {
            Text = request.Text,
            PayloadSize = request.Payload.Length,
            Payload = request.ResponseSize > 0 ? ByteString.CopyFrom(new byte[request.ResponseSize]) : ByteString.Empty,
            RequestEncoding = http.Request.Headers["grpc-encoding"].ToString(),
            TraceId = Activity.Current?.TraceId.ToString() ?? "",
            ParentSpanId = Activity.Current?.ParentSpanId.ToString() ?? "",
        };
    }

    public override async Task Countdown(CountdownRequest request, IServerStreamWriter<CountdownResponse> responseStream, ServerCallContext context)
    {
        if (request.Marker.Length > 0)
        {
            ObserveCancellation(context, () => request.Marker);
        }

        var payload = ByteString.CopyFrom(new byte[request.PayloadSize]);
        for (var i = request.Count; i > 0; i--)
        {
            await responseStream.WriteAsync(new CountdownResponse { Index = i, Payload = payload });
            observations.Written();
            if (request.IntervalMs > 0)
            {
                await Task.Delay(request.IntervalMs, context.CancellationToken);
            }
        }

        if (request.IgnoreCancellationMs > 0)
        {
            await Task.Delay(request.IgnoreCancellationMs, CancellationToken.None);
            try
            {
                await responseStream.WriteAsync(new CountdownResponse { Index = 0 });
                observations.Report($"{request.Marker}/late-write", "written");
            }
            catch (Exception e)
            {
                observations.Report($"{request.Marker}/late-write", e is RpcException rpc ? $"RpcException {rpc.StatusCode}" : e.GetType().Name);
                throw;
            }
        }
    }

    public override async Task<SumResponse> Sum(IAsyncStreamReader<SumRequest> requestStream, ServerCallContext context)
    {
        var response = new SumResponse();
        var marker = "";
        ObserveCancellation(context, () => marker);
        await foreach (var request in requestStream.ReadAllAsync())
        {
            if (request.Marker.Length > 0)
            {
                marker = request.Marker;
                observations.Report($"{marker}/started", "");
            }

            response.Total += request.Value;
            response.Count++;
        }

        return response;
    }

    public override async Task Chat(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoResponse> responseStream, ServerCallContext context)
    {
        await foreach (var request in requestStream.ReadAllAsync())
        {
            await responseStream.WriteAsync(new EchoResponse { Text = request.Text.ToUpperInvariant() });
        }
    }

    /// <summary>
    /// Reports "&lt;marker&gt;/cancelled" when the call's token fires. The registration is deliberately kept past the
    /// handler's end: a handler woken by the same cancellation may return before this callback's turn comes.
    /// </summary>
    private void ObserveCancellation(ServerCallContext context, Func<string> marker) =>
        _ = context.CancellationToken.Register(() =>
        {
            if (marker() is { Length: > 0 } name)
            {
                observations.Report($"{name}/cancelled", "");
            }
        });

    /// <summary>Every x-* header comes back as a response header and as a trailer.</summary>
    private static Task EchoMetadataAsync(ServerCallContext context)
    {
        var echoed = context.RequestHeaders.Where(e => e.Key.StartsWith("x-", StringComparison.Ordinal)).ToList();
        if (echoed.Count == 0)
        {
            return Task.CompletedTask;
        }

        var headers = new Metadata();
        foreach (var entry in echoed)
        {
            headers.Add(entry);
            context.ResponseTrailers.Add(entry);
        }

        return context.WriteResponseHeadersAsync(headers);
    }
}
