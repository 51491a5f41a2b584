using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.GrpcHosting;

/// <summary>One gRPC call on the server: checks the request, runs the handler, ends with a status.</summary>
internal sealed partial class ServerCall : IDisposable
{
    // The per-call path allocates no status for a success and no string for a status code (measured: docs/benchmarks.md).
    private static readonly RpcException Ok = new(StatusCode.OK, "");
    private static readonly string[] StatusCodeValues = [.. Enumerable.Range(0, 17).Select(code => code.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    private readonly HttpContext _http;
    private readonly GrpcHostingOptions _options;
    private readonly string? _requestEncoding;
    private readonly bool _compressResponses;
    private bool _responseStarted;

    // Only with a deadline: its timer may end the call while the handler still writes, so both take this lock.
    private SemaphoreSlim? _writeLock;
    private bool _ended;
    private Task? _deadlineExceeded;

    private ServerCall(HttpContext http, GrpcHostingOptions options, ServerCallContext context, string? requestEncoding, bool compressResponses)
    {
        _http = http;
        _options = options;
        Context = context;
        _requestEncoding = requestEncoding;
        _compressResponses = compressResponses;
    }

    public ServerCallContext Context { get; }

    /// <summary>Handles a request routed to <paramref name="method"/>; every outcome ends in a gRPC status, never a 5xx.</summary>
    public static async Task HandleAsync(HttpContext http, ServerMethod method, GrpcHostingOptions options, ILogger logger)
    {
        if (!ValidateRequest(http))
        {
            return;
        }

        // Refused before the request is read or the handler runs.
        if (!method.Access.IsAnonymous && method.Access.Check(http.User.ToCaller()) is { } refusal)
        {
            WriteStatusHeaders(http, refusal.StatusCode, refusal.Message, null);
            return;
        }

        var encoding = http.Request.Headers[GrpcProtocol.EncodingHeader].ToString();
        encoding = encoding.Length == 0 ? null : encoding;
        if (encoding is not (null or GrpcProtocol.Identity or GrpcProtocol.Gzip))
        {
            WriteStatusHeaders(http, StatusCode.Unimplemented, $"Unsupported grpc-encoding value '{encoding}'. Supported encodings: {GrpcProtocol.SupportedEncodings}", null);
            return;
        }

        // A gRPC stream may outlive Kestrel's whole-body size limit and may pause for longer than its minimum data rate allows.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = null;
        }

        http.Features.Get<IHttpMinRequestBodyDataRateFeature>()?.MinDataRate = null;

        var timeout = GrpcProtocol.ParseTimeout(http.Request.Headers[GrpcProtocol.TimeoutHeader]);
        // A deadline needs a token of its own; without one the connection's abort token is enough.
        using var deadline = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);

        // Responses are compressed only when the request was and the caller accepts it.
        var compressResponses = encoding is GrpcProtocol.Gzip && http.Request.Headers[GrpcProtocol.AcceptEncodingHeader].ToString()
            .Split(',', StringSplitOptions.TrimEntries).Contains(GrpcProtocol.Gzip);
        var context = new ServerCallContext(http, method.Path, ReadMetadata(http.Request.Headers),
            timeout is { } d ? DateTime.UtcNow + d : DateTime.MaxValue, deadline?.Token ?? http.RequestAborted);
        using var call = new ServerCall(http, options, context, encoding, compressResponses);

        http.Response.ContentType = GrpcProtocol.ContentType;
        http.Response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.SupportedEncodings;
        if (call._compressResponses)
        {
            http.Response.Headers[GrpcProtocol.EncodingHeader] = GrpcProtocol.Gzip;
        }

        // The deadline ends the call itself, so the caller gets its status on time even from a handler that ignores its token.
        CancellationTokenRegistration onDeadline = default;
        if (deadline is not null)
        {
            call._writeLock = new SemaphoreSlim(1, 1);
            onDeadline = deadline.Token.UnsafeRegister(static state => ((ServerCall)state!).OnDeadline(), call);
            deadline.CancelAfter(timeout!.Value);
        }

        using var activity = GrpcTelemetry.StartServer(method.Path, http.Request.Headers[GrpcProtocol.TraceParentHeader], http.Request.Headers[GrpcProtocol.TraceStateHeader]);
        RpcException status;
        try
        {
            await method.InvokeAsync(call);
            status = Ok;
        }
        catch (RpcException e)
        {
            status = e;
        }
        catch (Exception e) when (deadline is { IsCancellationRequested: true } && !http.RequestAborted.IsCancellationRequested)
        {
            _ = e;
            status = new RpcException(StatusCode.DeadlineExceeded, "Deadline Exceeded");
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            status = new RpcException(StatusCode.Cancelled, "Call cancelled by the client.");
        }
        catch (Exception e)
        {
            // The exception text may hold internals: log it, and send the caller only UNKNOWN.
            LogHandlerFailed(logger, e, method.Path);
            status = new RpcException(StatusCode.Unknown, "Exception was thrown by handler.");
        }

        if (deadline is not null)
        {
            // Once disposed, the deadline callback has either started ending the call or never will.
            await onDeadline.DisposeAsync();
            if (call._deadlineExceeded is { } deadlineExceeded)
            {
                await deadlineExceeded;
                GrpcTelemetry.SetStatus(activity, StatusCode.DeadlineExceeded);
                LogHandlerOutlivedDeadline(logger, method.Path, (long)(DateTime.UtcNow - context.Deadline).TotalMilliseconds);
                return;
            }
        }

        GrpcTelemetry.SetStatus(activity, status.StatusCode);
        if (http.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        await call.EndAsync(status, withMetadata: true);
    }

    public void Dispose() => _writeLock?.Dispose();

    /// <summary>Answers a request to a path no service maps: UNIMPLEMENTED when it is a gRPC call, 404 otherwise.</summary>
    public static Task HandleUnimplemented(HttpContext http, bool serviceKnown)
    {
        if (!GrpcProtocol.IsGrpcContentType(http.Request.ContentType))
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        if (ValidateRequest(http))
        {
            WriteStatusHeaders(http, StatusCode.Unimplemented, serviceKnown ? "Method is unimplemented." : "Service is unimplemented.", null);
        }

        return Task.CompletedTask;
    }

    /// <summary>Reads the single request message of a unary or server-streaming call.</summary>
    public async Task<T> ReadSingleAsync<T>(MessageParser<T> parser)
        where T : class, IMessage<T>
    {
        var message = await ReadAsync(parser) ?? throw new RpcException(StatusCode.Internal, "Incomplete message.");
        return await ReadAsync(parser) is null ? message : throw new RpcException(StatusCode.Internal, "Additional data after the message received.");
    }

    public async IAsyncEnumerable<T> ReadAllAsync<T>(MessageParser<T> parser, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where T : class, IMessage<T>
    {
        while (await ReadAsync(parser) is { } message)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return message;
        }
    }

    public async Task WriteMessageAsync(IMessage message, bool flush)
    {
        var writeLock = _writeLock;
        if (writeLock is not null)
        {
            await writeLock.WaitAsync();
        }

        try
        {
            if (_ended)
            {
                // Only the deadline ends a call while its handler still runs.
                throw new RpcException(StatusCode.DeadlineExceeded, "Deadline Exceeded: the call has already ended, so the message was not sent.");
            }

            Context.CancellationToken.ThrowIfCancellationRequested();
            if (!_responseStarted)
            {
                WriteMetadata(_http.Response.Headers, Context.ResponseHeaders);
                _responseStarted = true;
            }

            MessageFraming.Write(_http.Response.BodyWriter, message, _compressResponses);
            if (flush)
            {
                // Waits while the client's HTTP/2 window is full: this is the flow control.
                var result = await _http.Response.BodyWriter.FlushAsync(Context.CancellationToken);
                if (result.IsCanceled || result.IsCompleted)
                {
                    throw new OperationCanceledException("The client stopped reading.");
                }
            }
        }
        finally
        {
            writeLock?.Release();
        }
    }

    private async ValueTask<T?> ReadAsync<T>(MessageParser<T> parser)
        where T : class, IMessage<T>
    {
        var message = await MessageFraming.ReadAsync(_http.Request.BodyReader, parser, _requestEncoding, _options.MaxReceiveMessageSize, Context.CancellationToken);
        if (message is not null)
        {
            InputLimits.Check(message, _options);
        }

        return message;
    }

    /// <summary>Runs in the deadline's cancellation, after the handler's own callbacks: unless the caller went away, the call ends now.</summary>
    private void OnDeadline()
    {
        if (!_http.RequestAborted.IsCancellationRequested)
        {
            _deadlineExceeded = EndAtDeadlineAsync();
        }
    }

    /// <summary>
    /// Sends DEADLINE_EXCEEDED and completes the response, then resets the stream (RST_STREAM CANCEL) so the caller
    /// stops sending, as grpc-dotnet does; Kestrel queues the reset behind the trailers. A write in progress holds the
    /// lock only until the cancelled token stops its flush.
    /// </summary>
    private async Task EndAtDeadlineAsync()
    {
        try
        {
            if (await EndAsync(new RpcException(StatusCode.DeadlineExceeded, "Deadline Exceeded"), withMetadata: false))
            {
                _http.Features.Get<IHttpResetFeature>()?.Reset(8);
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            // The connection went away while the status was sent: there is no one left to tell.
        }
    }

    /// <summary>
    /// Sends the status, in trailers after a response began, else Trailers-Only (all in the one HEADERS frame), unless
    /// the call has already ended. The handler's metadata goes too unless it may still be changing it (at the deadline).
    /// </summary>
    private async Task<bool> EndAsync(RpcException status, bool withMetadata)
    {
        if (_writeLock is not null)
        {
            await _writeLock.WaitAsync();
        }

        try
        {
            if (_ended)
            {
                return false;
            }

            _ended = true;
            var trailers = withMetadata ? Context.ResponseTrailers : [];
            foreach (var entry in status.Trailers)
            {
                trailers.AddEntry(entry);
            }

            if (_responseStarted || _http.Response.HasStarted)
            {
                var headers = _http.Features.GetRequiredFeature<IHttpResponseTrailersFeature>().Trailers;
                WriteMetadata(headers, trailers);
                SetStatus(headers, status.StatusCode, status.Message, status.Details);
            }
            else
            {
                if (withMetadata)
                {
                    WriteMetadata(_http.Response.Headers, Context.ResponseHeaders);
                }

                WriteMetadata(_http.Response.Headers, trailers);
                SetStatus(_http.Response.Headers, status.StatusCode, status.Message, status.Details);
            }

            await _http.Response.CompleteAsync();
            return true;
        }
        finally
        {
            _writeLock?.Release();
        }
    }

    /// <summary>Checks HTTP/2 and the content type: 426 and 415 as grpc-dotnet answers, with an INTERNAL status for gRPC clients.</summary>
    private static bool ValidateRequest(HttpContext http)
    {
        if (!HttpProtocol.IsHttp2(http.Request.Protocol))
        {
            http.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            http.Response.Headers.Upgrade = "HTTP/2";
            SetStatus(http.Response.Headers, StatusCode.Internal, $"Request protocol '{http.Request.Protocol}' is not supported.", null);
            return false;
        }

        if (!GrpcProtocol.IsGrpcContentType(http.Request.ContentType))
        {
            http.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            SetStatus(http.Response.Headers, StatusCode.Internal, http.Request.ContentType is null
                ? "Content-Type is missing from the request."
                : $"Content-Type '{http.Request.ContentType}' is not supported.", null);
            return false;
        }

        return true;
    }

    private static void WriteStatusHeaders(HttpContext http, StatusCode code, string message, Google.Rpc.Status? details)
    {
        http.Response.ContentType = GrpcProtocol.ContentType;
        http.Response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.SupportedEncodings;
        SetStatus(http.Response.Headers, code, message, details);
    }

    private static void SetStatus(IHeaderDictionary headers, StatusCode code, string message, Google.Rpc.Status? details)
    {
        message = StatusBounds.Shorten(message);
        headers[GrpcProtocol.StatusHeader] = (int)code is >= 0 and < 17 ? StatusCodeValues[(int)code] : ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (message.Length > 0)
        {
            headers[GrpcProtocol.MessageHeader] = GrpcProtocol.EncodeMessage(message);
        }

        if (details is not null)
        {
            // Code and message must equal the trailers' (some clients let the details win).
            details.Code = (int)code;
            details.Message = message;
            headers[GrpcProtocol.StatusDetailsHeader] = Convert.ToBase64String(StatusBounds.Bound(details).ToByteArray()).TrimEnd('=');
        }
    }

    private static Metadata ReadMetadata(IHeaderDictionary headers)
    {
        var metadata = new Metadata();
        foreach (var (name, values) in headers)
        {
            if (GrpcProtocol.IsMetadataHeader(name))
            {
                foreach (var value in values)
                {
                    metadata.AddWire(name, value ?? "");
                }
            }
        }

        return metadata;
    }

    private static void WriteMetadata(IHeaderDictionary headers, Metadata metadata)
    {
        foreach (var entry in metadata)
        {
            headers.Append(entry.Key, entry.WireValue);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "gRPC handler for {Method} failed")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string method);

    [LoggerMessage(Level = LogLevel.Information, Message = "gRPC handler for {Method} outlived its deadline by {OverrunMs} ms; the caller got DEADLINE_EXCEEDED at the deadline")]
    private static partial void LogHandlerOutlivedDeadline(ILogger logger, string method, long overrunMs);
}
