using Grpc.Core;

namespace Transformation.Csv;

public static partial class CsvUpload
{
    /// <summary>An upload over a generated client's call (Grpc.Net.Client).</summary>
    /// <param name="file">The file, read forward once (not disposed).</param>
    /// <param name="format">The file's format and the call's messages.</param>
    /// <param name="open">Starts the call (once the header is known to be good), for example <c>ct => client.RecordObservations(cancellationToken: ct)</c>.</param>
    /// <param name="progress">Gets the bytes of the file sent so far (on the caller's context).</param>
    /// <param name="cancellationToken">Cancels the upload (the call is cancelled: nothing is stored).</param>
    /// <returns>The response, or the problems. Other failures of the call throw the client's RpcException.</returns>
    public static Task<CsvUploadResult<TResponse>> SendAsync<TRow, TRequest, TResponse>(Stream file, CsvFormat<TRow, TRequest> format,
        Func<CancellationToken, AsyncClientStreamingCall<TRequest, TResponse>> open, Action<long>? progress, CancellationToken cancellationToken)
        where TRow : class
        where TRequest : class
        where TResponse : class
    {
        ArgumentNullException.ThrowIfNull(open);
        return SendOverAsync<TRow, TRequest, TResponse>(file, format, ct => Task.FromResult(new UploadCall<TRequest, TResponse>(open(ct))), progress,
            cancellationToken);
    }

    /// <summary>The client-streaming call as an upload uses it.</summary>
    private sealed class UploadCall<TRequest, TResponse>(AsyncClientStreamingCall<TRequest, TResponse> call) : IAsyncDisposable
        where TResponse : class
    {
        private bool _ended;

        /// <summary>Sends one message; false when the call is over (the service ended it): <see cref="AnswerAsync"/> says why.</summary>
        public async Task<bool> TryWriteAsync(TRequest message)
        {
            try
            {
                await call.RequestStream.WriteAsync(message);
                return true;
            }
            catch (Exception e) when (e is RpcException or InvalidOperationException)
            {
                // The call is over (the service ended it, or it was cancelled): the response says why.
                _ended = true;
                return false;
            }
        }

        /// <summary>
        /// Ends the requests (unless the call is over) and returns the response, or the service's refusal (INVALID_ARGUMENT) with
        /// its field violations. Any other failure of the call throws its RpcException.
        /// </summary>
        public async Task<UploadAnswer<TResponse>> AnswerAsync()
        {
            if (!_ended)
            {
                try
                {
                    await call.RequestStream.CompleteAsync();
                }
                catch (Exception e) when (e is RpcException or InvalidOperationException)
                {
                    // The call is over: the response says why.
                }
            }

            try
            {
                return new UploadAnswer<TResponse>(await call.ResponseAsync, null, "");
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
            {
                return new UploadAnswer<TResponse>(null, e.GetRpcStatus()?.GetDetail<Google.Rpc.BadRequest>(), e.Status.Detail);
            }
        }

        public ValueTask DisposeAsync()
        {
            // Disposing an unfinished call cancels it.
            call.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
