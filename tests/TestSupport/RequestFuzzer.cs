using System.Collections.Concurrent;
using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Health.V1;
using Transformation.ServiceDefaults.Identity;
using Xunit;

namespace Transformation.TestSupport;

/// <summary>What a fuzz run did: the seed, the calls per RPC and outcome, and every call that answered what no call may.</summary>
public sealed record FuzzReport(int Seed, int Calls, IReadOnlyDictionary<string, int> Outcomes, IReadOnlyList<string> Failures)
{
    /// <summary>One line per RPC: its calls by status.</summary>
    public string Summary => string.Join(Environment.NewLine, Outcomes.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}: {o.Value}"));

    public IEnumerable<string> MethodsCalled => Outcomes.Keys.Select(key => key[..key.IndexOf(' ', StringComparison.Ordinal)]).Distinct();
}

/// <summary>
/// Calls every RPC of a service, over the wire, with generated requests (<see cref="RequestGenerator"/>): unary calls, a
/// few messages on client streams, and server streams read for a moment. It uses Grpc.Net.Client with raw bytes and the
/// method paths of the service's descriptor, so it needs no client code of the service. No call may answer UNKNOWN or
/// INTERNAL (INTERNAL only for undecodable bytes), nor fail as a crashed, hung or missing method would.
/// </summary>
public sealed class RequestFuzzer : IDisposable
{
    /// <summary>Set to repeat a run (the seed of every run is printed).</summary>
    public const string SeedVariable = "FUZZ_SEED";

    private const int Concurrency = 4;
    private const int MaxFailuresListed = 25;

    // How long a server stream that has started answering is read before the fuzzer cancels it (some, like a live
    // feed, never end by themselves). A bound on the loop, not a timing assertion.
    private static readonly TimeSpan StreamReadTime = TimeSpan.FromMilliseconds(150);

    // A call still running after this hangs: it fails as DEADLINE_EXCEEDED.
    private static readonly TimeSpan CallDeadline = TimeSpan.FromSeconds(30);

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(bytes => bytes, bytes => bytes);

    private static readonly HashSet<StatusCode> NeverAcceptable =
    [
        StatusCode.Unknown, StatusCode.Internal, StatusCode.DataLoss, StatusCode.DeadlineExceeded, StatusCode.Unimplemented,
        StatusCode.Unavailable, StatusCode.Unauthenticated, StatusCode.Cancelled,
    ];

    /// <summary>What a fuzzed service is started with: no write rate limit, so that every call reaches its handler.</summary>
    public static IReadOnlyDictionary<string, string?> HostSettings { get; } =
        new Dictionary<string, string?>(StringComparer.Ordinal) { ["GrpcHosting:WriteCallsPerSecond"] = "0" };

    /// <summary>The roles of the fuzzer's token: all of them, so that calls pass the role checks and reach the handlers.</summary>
    public static string[] EveryRole => [.. Roles.People, Roles.Service];

    private static readonly GrpcChannelOptions ChannelOptions = new() { MaxReceiveMessageSize = 64 * 1024 * 1024 };

    private readonly Uri _address;
    private readonly GrpcChannel _channel;
    private readonly CallInvoker _invoker;
    private readonly ServiceDescriptor _service;

    public RequestFuzzer(Uri address, ServiceDescriptor service)
    {
        _address = address;
        _channel = GrpcChannel.ForAddress(address, ChannelOptions);
        _invoker = _channel.CreateCallInvoker();
        _service = service;
    }

    /// <summary>The seed of <see cref="SeedVariable"/> if set, else a new one.</summary>
    public static int NewSeed() =>
        int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : Random.Shared.Next();

    /// <summary>
    /// <paramref name="count"/> calls, the RPCs in turn (each gets count / RPCs or more), a few at once, with <paramref name="token"/>.
    /// Call number i is generated from (seed, i) alone, so a failure names what to repeat.
    /// </summary>
    public async Task<FuzzReport> RunAsync(int seed, int count, string token, CancellationToken cancellationToken)
    {
        var methods = _service.Methods;
        var outcomes = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var failures = new ConcurrentQueue<string>();
        var next = -1;
        var headers = new Metadata { { "authorization", "Bearer " + token } };
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < count)
            {
                var method = methods[index % methods.Count];
                var random = new Random(unchecked(seed + (index * 1_000_003)));
                var requests = Enumerable.Range(0, method.IsClientStreaming ? random.Next(1, 5) : 1)
                    .Select(_ => RequestGenerator.NextStyle(random))
                    .Select(style => (Style: style, Bytes: RequestGenerator.Generate(method.InputType, style, random)))
                    .ToList();
                var (status, weCancelled) = await CallAsync(method, requests.Select(r => r.Bytes).ToList(), headers, cancellationToken);
                outcomes.AddOrUpdate($"{method.Name} {status.StatusCode}", 1, (_, n) => n + 1);
                var undecodable = requests.Any(r => r.Style == RequestStyle.Undecodable) && !status.Detail.StartsWith("HTTP: ", StringComparison.Ordinal);
                if (NeverAcceptable.Contains(status.StatusCode)
                    && !(status.StatusCode == StatusCode.Internal && undecodable)
                    && !(status.StatusCode == StatusCode.Cancelled && weCancelled))
                {
                    failures.Enqueue($"call {index} (seed {seed}) {method.Name}: {status.StatusCode} \"{status.Detail}\" for "
                        + string.Join(" then ", requests.Select(r => $"{r.Style} {RequestGenerator.Describe(method.InputType, r.Bytes)}")));
                }
            }
        }, cancellationToken)));

        var listed = failures.Take(MaxFailuresListed).ToList();
        if (failures.Count > MaxFailuresListed)
        {
            listed.Add($"… and {failures.Count - MaxFailuresListed} more");
        }

        return new FuzzReport(seed, count, outcomes, listed);
    }

    /// <summary>
    /// The suite's run over this service: 10,000 calls under a printed seed, then fails the test naming every call that
    /// answered what no call may, any RPC never called, or a service no longer SERVING.
    /// </summary>
    public async Task CheckAsync(string token, CancellationToken cancellationToken)
    {
        var seed = NewSeed();
        TestContext.Current.TestOutputHelper?.WriteLine($"{SeedVariable}={seed}");
        var report = await RunAsync(seed, 10_000, token, cancellationToken);
        TestContext.Current.TestOutputHelper?.WriteLine(report.Summary);
        var problems = report.Failures.ToList();
        problems.AddRange(_service.Methods.Select(m => m.Name).Except(report.MethodsCalled, StringComparer.Ordinal).Select(name => $"{name} was never called"));
        if (!await IsServingAsync(cancellationToken))
        {
            problems.Add("the service no longer answers SERVING");
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException($"{SeedVariable}={seed} repeats this run:{Environment.NewLine}{string.Join(Environment.NewLine, problems)}");
        }
    }

    /// <summary>grpc.health.v1.Health/Check for the whole server: SERVING?</summary>
    public async Task<bool> IsServingAsync(CancellationToken cancellationToken)
    {
        var check = new Method<byte[], byte[]>(MethodType.Unary, "grpc.health.v1.Health", "Check", Bytes, Bytes);
        var answer = await _invoker.AsyncUnaryCall(check, null, new CallOptions(deadline: DateTime.UtcNow.Add(CallDeadline), cancellationToken: cancellationToken),
            new HealthCheckRequest().ToByteArray());
        return HealthCheckResponse.Parser.ParseFrom(answer).Status == HealthCheckResponse.Types.ServingStatus.Serving;
    }

    /// <summary>A unary call of the service with a typed request, its answer parsed with the method's output type.</summary>
    public async Task<TResponse> CallAsync<TResponse>(string methodName, IMessage request, string token, CancellationToken cancellationToken)
        where TResponse : IMessage
    {
        ArgumentNullException.ThrowIfNull(request);
        var method = _service.FindMethodByName(methodName) ?? throw new ArgumentException($"{_service.FullName} has no {methodName}.", nameof(methodName));
        var answer = await _invoker.AsyncUnaryCall(Unary(method, MethodType.Unary), null, Options(new Metadata { { "authorization", "Bearer " + token } }, cancellationToken),
            request.ToByteArray());
        return (TResponse)method.OutputType.Parser.ParseFrom(answer);
    }

    public void Dispose() => _channel.Dispose();

    private static Method<byte[], byte[]> Unary(MethodDescriptor method, MethodType type) => new(type, method.Service.FullName, method.Name, Bytes, Bytes);

    private static CallOptions Options(Metadata headers, CancellationToken cancellationToken) =>
        new(headers, DateTime.UtcNow.Add(CallDeadline), cancellationToken);

    /// <summary>One call with <paramref name="requests"/> (one unless the client streams): its status, and whether the fuzzer cancelled it.</summary>
    private async Task<(Status Status, bool WeCancelled)> CallAsync(MethodDescriptor method, List<byte[]> requests, Metadata headers, CancellationToken cancellationToken)
    {
        var type = (method.IsClientStreaming, method.IsServerStreaming) switch
        {
            (false, false) => MethodType.Unary,
            (true, false) => MethodType.ClientStreaming,
            (false, true) => MethodType.ServerStreaming,
            (true, true) => MethodType.DuplexStreaming,
        };
        var rpc = Unary(method, type);

        // A streaming call gets a connection of its own: the fuzzer resets streams and writes on after the server has
        // answered, and Kestrel may close the whole connection for a frame on a stream it has forgotten (STREAM_CLOSED),
        // which would fail every other call sharing it.
        using var streamingChannel = type == MethodType.Unary ? null : GrpcChannel.ForAddress(_address, ChannelOptions);
        var invoker = streamingChannel?.CreateCallInvoker() ?? _invoker;
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var options = Options(headers, cancel.Token);
        try
        {
            switch (type)
            {
                case MethodType.Unary:
                    await invoker.AsyncUnaryCall(rpc, null, options, requests[0]);
                    break;
                case MethodType.ClientStreaming:
                    using (var call = invoker.AsyncClientStreamingCall(rpc, null, options))
                    {
                        await WriteAllAsync(call.RequestStream, requests);
                        await call.ResponseAsync;
                    }

                    break;
                case MethodType.ServerStreaming:
                    using (var call = invoker.AsyncServerStreamingCall(rpc, null, options, requests[0]))
                    {
                        await ReadForAMomentAsync(call.ResponseHeadersAsync, call.ResponseStream, cancel);
                    }

                    break;
                default:
                    using (var call = invoker.AsyncDuplexStreamingCall(rpc, null, options))
                    {
                        await WriteAllAsync(call.RequestStream, requests);
                        await ReadForAMomentAsync(call.ResponseHeadersAsync, call.ResponseStream, cancel);
                    }

                    break;
            }

            return (Status.DefaultSuccess, false);
        }
        catch (RpcException e)
        {
            return (e.Status, cancel.IsCancellationRequested && !cancellationToken.IsCancellationRequested);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            // The answer broke HTTP/2 itself (headers over the client's 64 KiB, say): no status reached the caller.
            return (new Status(StatusCode.Internal, "HTTP: " + e.Message), false);
        }
    }

    /// <summary>Writes the messages until the server ends the call (its status is the call's answer), then completes the request.</summary>
    private static async Task WriteAllAsync(IClientStreamWriter<byte[]> stream, List<byte[]> requests)
    {
        try
        {
            foreach (var request in requests)
            {
                await stream.WriteAsync(request);
            }

            await stream.CompleteAsync();
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or IOException or HttpRequestException)
        {
            // The server answered before reading everything: the response carries its status (or the reason there is none).
        }
    }

    private static async Task ReadForAMomentAsync(Task<Metadata> responseHeaders, IAsyncStreamReader<byte[]> responses, CancellationTokenSource cancel)
    {
        await responseHeaders;
        cancel.CancelAfter(StreamReadTime);
        while (await responses.MoveNext(cancel.Token))
        {
        }
    }
}
