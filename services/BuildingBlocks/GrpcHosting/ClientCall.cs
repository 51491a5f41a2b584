using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Transformation.GrpcHosting;

/// <summary>
/// One client call of any kind. Failures surface as <see cref="RpcException"/> with the status, message,
/// details and trailers. Disposing a call that has not finished, cancelling the caller's token or passing the
/// deadline resets its HTTP/2 stream (RST_STREAM CANCEL), so the server's handler sees its cancellation.
/// </summary>
public sealed class ClientCall<TRequest, TResponse> : IAsyncDisposable
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse>
{
    private readonly GrpcClient _client;
    private readonly MessageParser<TResponse> _parser;
    private readonly CallOptions _options;
    private readonly CancellationTokenSource _cancellation;
    private readonly RequestStreamContent? _requestStream;
    private readonly Task<HttpResponseMessage> _responseTask;
    private readonly Activity? _activity;
    private HttpResponseMessage? _response;
    private PipeReader? _reader;
    private string? _responseEncoding;

    internal ClientCall(GrpcClient client, MethodDescriptor method, CallOptions options, TRequest? request)
    {
        if (method.InputType.ClrType != typeof(TRequest) || method.OutputType.ClrType != typeof(TResponse))
        {
            throw new ArgumentException($"'{method.FullName}' takes {method.InputType.ClrType.Name} and returns {method.OutputType.ClrType.Name}.", nameof(method));
        }

        _client = client;
        _options = options;
        _parser = (MessageParser<TResponse>)method.OutputType.Parser;
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken);
        _cancellation.Token.UnsafeRegister(static state => ((ClientCall<TRequest, TResponse>)state!).Abort(), this);
        var path = $"/{method.Service.FullName}/{method.Name}";
        _activity = GrpcTelemetry.StartClient(path);

        var message = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var headers = message.Headers;
        headers.TryAddWithoutValidation("te", "trailers");
        headers.TryAddWithoutValidation("user-agent", "grpc-dotnet-transformation/1.0");
        headers.TryAddWithoutValidation(GrpcProtocol.AcceptEncodingHeader, GrpcProtocol.SupportedEncodings);
        if (options.Gzip)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.EncodingHeader, GrpcProtocol.Gzip);
        }

        if (options.Timeout is { } timeout)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcProtocol.FormatTimeout(timeout));
            _cancellation.CancelAfter(timeout);
        }

        if ((_activity ?? Activity.Current) is { IdFormat: ActivityIdFormat.W3C } current)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.TraceParentHeader, current.Id);
            if (current.TraceStateString is { } state)
            {
                headers.TryAddWithoutValidation(GrpcProtocol.TraceStateHeader, state);
            }
        }

        foreach (var entry in options.Headers ?? [])
        {
            headers.TryAddWithoutValidation(entry.Key, entry.WireValue);
        }

        HttpContent content = request is null
            ? _requestStream = new RequestStreamContent(_cancellation.Token)
            : new FrameContent(MessageFraming.ToFrame(request, options.Gzip));
        content.Headers.ContentType = new MediaTypeHeaderValue(GrpcProtocol.ContentType);
        message.Content = content;
        _responseTask = client.Http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, _cancellation.Token);
    }

    /// <summary>The status once the call has ended.</summary>
    public StatusCode? Status { get; private set; }

    /// <summary>The trailers once the call has ended.</summary>
    public Metadata? Trailers { get; private set; }

    /// <summary>Sends one request message of a streaming call; waits for HTTP/2 flow control.</summary>
    public async Task WriteAsync(TRequest message)
    {
        var requestStream = _requestStream ?? throw new InvalidOperationException("This call's single request was sent when it started.");
        try
        {
            var stream = await requestStream.Stream.WaitAsync(_cancellation.Token);
            await stream.WriteAsync(MessageFraming.ToFrame(message, _options.Gzip), _cancellation.Token);
            await stream.FlushAsync(_cancellation.Token);
        }
        catch (Exception e) when (e is not RpcException)
        {
            throw await EndedByServerAsync() ?? Translate(e);
        }
    }

    /// <summary>
    /// Why a write failed when the server had already answered with a status and closed the stream (a call refused
    /// before its handler read anything, say): that status, not the broken write, is what the caller must see.
    /// </summary>
    private async Task<RpcException?> EndedByServerAsync()
    {
        if (_options.CancellationToken.IsCancellationRequested)
        {
            return null;
        }

        try
        {
            await _responseTask.WaitAsync(TimeSpan.FromSeconds(5));
            await GetResponseAsync();
            return null;
        }
        catch (RpcException status) when (Status is not null)
        {
            return status;
        }
        catch (Exception e) when (e is TimeoutException or RpcException or OperationCanceledException or HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>Ends the request stream (END_STREAM).</summary>
    public void CompleteRequest() => _requestStream?.Complete();

    /// <summary>The response headers (custom metadata), once the server sends them.</summary>
    public async Task<Metadata> ResponseHeadersAsync() => ReadMetadata((await GetResponseAsync()).Headers);

    /// <summary>Reads the response messages; throws <see cref="RpcException"/> if the call ends with a non-OK status.</summary>
    public async IAsyncEnumerable<TResponse> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await ReadNextAsync() is { } message)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return message;
        }
    }

    /// <summary>Reads the one response of a unary or client-streaming call.</summary>
    public async Task<TResponse> ReadSingleAsync()
    {
        var message = await ReadNextAsync() ?? throw new RpcException(StatusCode.Internal, "The server sent no response message.");
        return await ReadNextAsync() is null ? message : throw new RpcException(StatusCode.Internal, "The server sent more than one response message.");
    }

    public async ValueTask DisposeAsync()
    {
        if (Status is null)
        {
            await _cancellation.CancelAsync();
        }

        _requestStream?.Complete();
        _response?.Dispose();
        _cancellation.Dispose();
        _activity?.Dispose();
    }

    private async Task<TResponse?> ReadNextAsync()
    {
        try
        {
            await GetResponseAsync();
            if (_reader is null)
            {
                return null;
            }

            var message = await MessageFraming.ReadAsync(_reader, _parser, _responseEncoding, _client.MaxReceiveMessageSize, _cancellation.Token);
            if (message is null)
            {
                _reader = null;
                End(_response!.TrailingHeaders, fallback: StatusCode.Unknown);
            }

            return message;
        }
        catch (Exception e) when (e is not RpcException || Status is null)
        {
            var failure = e as RpcException ?? Translate(e);
            Status ??= failure.StatusCode;
            GrpcTelemetry.SetStatus(_activity, failure.StatusCode);
            await _cancellation.CancelAsync();
            throw failure;
        }
    }

    private async Task<HttpResponseMessage> GetResponseAsync()
    {
        if (_response is not null)
        {
            return _response;
        }

        try
        {
            // A full fence, so either Abort sees the response or this sees the cancellation.
            Interlocked.Exchange(ref _response, await _responseTask);
            _cancellation.Token.ThrowIfCancellationRequested();
        }
        catch (Exception e)
        {
            _response?.Dispose();
            _response = null;
            throw Translate(e);
        }

        var headers = _response.Headers;
        if (headers.Contains(GrpcProtocol.StatusHeader))
        {
            // Trailers-Only: the status came with the headers and there is no body.
            End(headers, fallback: StatusCode.Unknown);
            return _response;
        }

        if (_response.StatusCode != HttpStatusCode.OK)
        {
            throw new RpcException(GrpcProtocol.FromHttpStatus(_response.StatusCode), $"Bad gRPC response. HTTP status code: {(int)_response.StatusCode}");
        }

        if (!GrpcProtocol.IsGrpcContentType(_response.Content.Headers.ContentType?.MediaType))
        {
            throw new RpcException(StatusCode.Cancelled, $"Bad gRPC response. Invalid content-type value: {_response.Content.Headers.ContentType}");
        }

        _responseEncoding = headers.TryGetValues(GrpcProtocol.EncodingHeader, out var encodings) ? encodings.FirstOrDefault() : null;
        _reader = PipeReader.Create(await _response.Content.ReadAsStreamAsync(_cancellation.Token));
        return _response;
    }

    /// <summary>
    /// On cancellation or the deadline: before the response headers, SendAsync's token resets the stream; after them,
    /// disposing the response does, even when no read is pending.
    /// </summary>
    private void Abort() => Volatile.Read(ref _response)?.Dispose();

    /// <summary>Records the status in <paramref name="headers"/>; throws unless it is OK.</summary>
    private void End(HttpHeaders headers, StatusCode fallback)
    {
        var trailers = ReadMetadata(headers);
        var code = headers.TryGetValues(GrpcProtocol.StatusHeader, out var codes)
            && int.TryParse(codes.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed)
                ? (StatusCode)parsed
                : fallback;
        var message = headers.TryGetValues(GrpcProtocol.MessageHeader, out var messages) ? GrpcProtocol.DecodeMessage(messages.First()) : "";
        if (!headers.Contains(GrpcProtocol.StatusHeader))
        {
            message = "No grpc-status found on response.";
        }

        Status = code;
        Trailers = trailers;
        GrpcTelemetry.SetStatus(_activity, code);
        if (code != StatusCode.OK)
        {
            Google.Rpc.Status? details = null;
            if (trailers.GetBytes(GrpcProtocol.StatusDetailsHeader) is { } bytes)
            {
                try
                {
                    details = Google.Rpc.Status.Parser.ParseFrom(bytes);
                }
                catch (InvalidProtocolBufferException)
                {
                    // Unreadable details do not hide the status itself.
                }
            }

            throw new RpcException(code, message, details, trailers);
        }
    }

    private static Metadata ReadMetadata(HttpHeaders headers)
    {
        var metadata = new Metadata();
        foreach (var (name, values) in headers.NonValidated)
        {
            if (GrpcProtocol.IsMetadataHeader(name))
            {
                foreach (var value in values)
                {
                    metadata.AddWire(name, value);
                }
            }
        }

        return metadata;
    }

    private RpcException Translate(Exception e)
    {
        if (e is RpcException rpc)
        {
            return rpc;
        }

        // Once the call is cancelled, whatever broke (a reset stream, a disposed response) broke because of that.
        if (e is OperationCanceledException || (_cancellation.IsCancellationRequested && Status is null))
        {
            return _options.CancellationToken.IsCancellationRequested
                ? new RpcException(StatusCode.Cancelled, "Call cancelled.")
                : new RpcException(StatusCode.DeadlineExceeded, "Deadline Exceeded");
        }

        var protocol = e as HttpProtocolException ?? e.InnerException as HttpProtocolException;
        var code = protocol?.ErrorCode switch
        {
            null => StatusCode.Unavailable,
            0x7 => StatusCode.Unavailable, // REFUSED_STREAM
            0x8 => StatusCode.Cancelled, // CANCEL
            0xb => StatusCode.ResourceExhausted, // ENHANCE_YOUR_CALM
            0xc => StatusCode.PermissionDenied, // INADEQUATE_SECURITY
            _ => StatusCode.Internal,
        };
        return new RpcException(code, $"Error starting gRPC call: {e.Message}", e);
    }

    /// <summary>One already framed request message, sent without a content-length.</summary>
    private sealed class FrameContent(byte[] frame) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(frame).AsTask();

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            stream.WriteAsync(frame, cancellationToken).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>A request body written message by message while the call runs (the HTTP/2 stream stays open until Complete).</summary>
    private sealed class RequestStreamContent : HttpContent
    {
        private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public RequestStreamContent(CancellationToken cancellationToken) =>
            cancellationToken.Register(() => _completed.TrySetCanceled(cancellationToken));

        public Task<Stream> Stream => _stream.Task;

        public void Complete() => _completed.TrySetResult();

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            _stream.TrySetResult(stream);
            return _completed.Task;
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
