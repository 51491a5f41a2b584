using Transformation.GrpcHosting;

namespace Transformation.Csv;

public static partial class CsvUpload
{
    /// <summary>An upload over our own client's call (the CLI's, until it moves to Grpc.Net.Client).</summary>
    /// <param name="file">The file, read forward once (not disposed).</param>
    /// <param name="format">The file's format and the call's messages.</param>
    /// <param name="open">Starts the call (once the header is known to be good).</param>
    /// <param name="progress">Gets the bytes of the file sent so far (on the caller's context).</param>
    /// <param name="cancellationToken">Cancels the upload (the call is cancelled: nothing is stored).</param>
    /// <returns>The response, or the problems. Other failures of the call throw <see cref="RpcException"/>.</returns>
    public static Task<CsvUploadResult<TResponse>> SendAsync<TRow, TRequest, TResponse>(Stream file, CsvFormat<TRow, TRequest> format,
        Func<CancellationToken, Task<ClientCall<TRequest, TResponse>>> open, Action<long>? progress, CancellationToken cancellationToken)
        where TRow : class
        where TRequest : class, Google.Protobuf.IMessage<TRequest>
        where TResponse : class, Google.Protobuf.IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(open);
        return SendOverAsync<TRow, TRequest, TResponse>(file, format, async ct => new HostingCall<TRequest, TResponse>(await open(ct)), progress, cancellationToken);
    }

    private sealed class HostingCall<TRequest, TResponse>(ClientCall<TRequest, TResponse> call) : IUploadCall<TRequest, TResponse>
        where TRequest : class, Google.Protobuf.IMessage<TRequest>
        where TResponse : class, Google.Protobuf.IMessage<TResponse>
    {
        private RpcException? _writeFailure;

        public async Task<bool> TryWriteAsync(TRequest message)
        {
            try
            {
                await call.WriteAsync(message);
                return true;
            }
            catch (RpcException e)
            {
                _writeFailure = e;
                return false;
            }
        }

        public async Task<UploadAnswer<TResponse>> AnswerAsync()
        {
            try
            {
                if (_writeFailure is not null)
                {
                    if (call.Status is null)
                    {
                        // A write failed because the service ended the call: its status says why.
                        await call.ReadSingleAsync();
                    }

                    throw _writeFailure;
                }

                call.CompleteRequest();
                return new UploadAnswer<TResponse>(await call.ReadSingleAsync(), null, "");
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
            {
                return new UploadAnswer<TResponse>(null, e.GetDetail<Google.Rpc.BadRequest>(), e.Message);
            }
        }

        public ValueTask DisposeAsync() => call.DisposeAsync();
    }
}
