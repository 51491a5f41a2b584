using System.Security.Cryptography;
using Google.Protobuf;
using Npgsql;
using Grpc.Core;

namespace Transformation.Persistence;

/// <summary>
/// Every write RPC takes an idempotency key: the first call claims (scope, key) inside its transaction and stores its
/// response there; a retry (even a concurrent one, which waits on the claim) gets the first response back. The service's
/// schema holds the table: <c>idempotency (scope text, key text, request_hash bytea, response bytea, PRIMARY KEY (scope, key))</c>.
/// </summary>
public static class Idempotency
{
    /// <summary>The stored response of an earlier call with this key, or null when this call claimed the key.</summary>
    public static async Task<TResponse?> ClaimAsync<TRequest, TResponse>(NpgsqlConnection connection, NpgsqlTransaction transaction, string scope,
        string key, TRequest request, MessageParser<TResponse> parser, CancellationToken cancellationToken)
        where TRequest : IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        var hash = Hash(request);
        await using (var claim = connection.Command(transaction,
            "INSERT INTO idempotency (scope, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", scope, key, hash))
        {
            if (await claim.ExecuteNonQueryAsync(cancellationToken) == 1)
            {
                return null;
            }
        }

        await using var read = connection.Command(transaction, "SELECT request_hash, response FROM idempotency WHERE scope = $1 AND key = $2", scope, key);
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        if (!reader.GetFieldValue<byte[]>(0).AsSpan().SequenceEqual(hash))
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "This idempotency key was used for a different request."));
        }

        return parser.ParseFrom(reader.GetFieldValue<byte[]>(1));
    }

    public static async Task CompleteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string scope, string key, IMessage response,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, "UPDATE idempotency SET response = $3 WHERE scope = $1 AND key = $2",
            scope, key, response.ToByteArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static byte[] Hash<TRequest>(TRequest request)
        where TRequest : IMessage<TRequest>
    {
        var copy = request.Clone();
        copy.Descriptor.FindFieldByName("idempotency_key")?.Accessor.Clear(copy);
        return SHA256.HashData(copy.ToByteArray());
    }
}
