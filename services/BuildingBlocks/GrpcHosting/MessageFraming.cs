using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Pipelines;
using Google.Protobuf;

namespace Transformation.GrpcHosting;

/// <summary>
/// Length-prefixed messages (1-byte compressed flag, 4-byte big-endian length, payload), read across
/// however the transport split them into DATA frames.
/// </summary>
internal static class MessageFraming
{
    public const int HeaderSize = 5;

    /// <summary>Reads the next message, or returns null at a clean end of stream.</summary>
    public static async ValueTask<T?> ReadAsync<T>(PipeReader reader, MessageParser<T> parser, string? encoding, int maxSize, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (TryReadFrame(ref buffer, maxSize, out var compressed, out var payload))
            {
                try
                {
                    return Parse(parser, payload, compressed, encoding, maxSize);
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start);
                }
            }

            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                return buffer.IsEmpty ? null : throw new RpcException(StatusCode.Internal, "Incomplete message.");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCanceled)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }
    }

    /// <summary>Takes one whole frame off the front of <paramref name="buffer"/>, if it holds one.</summary>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxSize, out bool compressed, out ReadOnlySequence<byte> payload)
    {
        compressed = false;
        payload = default;
        if (buffer.Length < HeaderSize)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        compressed = header[0] switch
        {
            0 => false,
            1 => true,
            _ => throw new RpcException(StatusCode.Internal, "Invalid compressed flag in message header."),
        };
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);

        // Checked on the prefix, so an oversized message is refused before it is read.
        if (length > maxSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted, "Received message exceeds the maximum configured message size.");
        }

        if (buffer.Length - HeaderSize < length)
        {
            return false;
        }

        payload = buffer.Slice(HeaderSize, length);
        buffer = buffer.Slice(HeaderSize + length);
        return true;
    }

    /// <summary>Writes one framed message into <paramref name="writer"/> without flushing.</summary>
    public static void Write(IBufferWriter<byte> writer, IMessage message, bool gzip)
    {
        if (gzip)
        {
            var compressed = Compress(message.ToByteArray());
            var span = writer.GetSpan(HeaderSize + compressed.Length);
            WriteHeader(span, true, compressed.Length);
            compressed.CopyTo(span[HeaderSize..]);
            writer.Advance(HeaderSize + compressed.Length);
            return;
        }

        var size = message.CalculateSize();
        var target = writer.GetSpan(HeaderSize + size);
        WriteHeader(target, false, size);
        message.WriteTo(target.Slice(HeaderSize, size));
        writer.Advance(HeaderSize + size);
    }

    /// <summary>One framed message as a byte array.</summary>
    public static byte[] ToFrame(IMessage message, bool gzip)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Write(buffer, message, gzip);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteHeader(Span<byte> span, bool compressed, int length)
    {
        span[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)length);
    }

    private static T Parse<T>(MessageParser<T> parser, ReadOnlySequence<byte> payload, bool compressed, string? encoding, int maxSize)
        where T : IMessage<T>
    {
        try
        {
            if (!compressed)
            {
                return parser.ParseFrom(payload);
            }

            if (encoding is null or GrpcProtocol.Identity)
            {
                throw new RpcException(StatusCode.Internal, "Message is flagged compressed, but no grpc-encoding was given.");
            }

            // grpc-encoding values other than gzip are refused before any message is read.
            return parser.ParseFrom(Decompress(payload, maxSize));
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidDataException)
        {
            throw new RpcException(StatusCode.Internal, "Failed to deserialize message.");
        }
    }

    private static byte[] Compress(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    private static byte[] Decompress(ReadOnlySequence<byte> payload, int maxSize)
    {
        using var gzip = new GZipStream(new MemoryStream(payload.ToArray()), CompressionMode.Decompress);
        using var output = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = gzip.Read(chunk)) > 0)
        {
            if (output.Length + read > maxSize)
            {
                throw new RpcException(StatusCode.ResourceExhausted, "Received message exceeds the maximum configured message size.");
            }

            output.Write(chunk, 0, read);
        }

        return output.ToArray();
    }
}
