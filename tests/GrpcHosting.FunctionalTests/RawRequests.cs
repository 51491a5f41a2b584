using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>
/// HTTP/2 requests written byte by byte, only for the tests that deliberately send what no gRPC client would
/// (malformed frames, unknown encodings, wrong content types); every other test calls through Grpc.Net.Client.
/// </summary>
internal static class RawRequests
{
    public static HttpClient Client() => new(new SocketsHttpHandler())
    {
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    public static HttpRequestMessage Create(Uri address, string path, byte[] body, string contentType = "application/grpc")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(address, path))
        {
            Content = new ByteArrayContent(body),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.TryAddWithoutValidation("te", "trailers");
        return request;
    }

    /// <summary>A length-prefixed message: the compressed flag, the length (big-endian), the bytes.</summary>
    public static byte[] Frame(byte[] payload, byte flag = 0) => [.. Header(flag, (uint)payload.Length), .. payload];

    public static byte[] Frame(IMessage message) => Frame(message.ToByteArray());

    public static byte[] Header(byte flag, uint length)
    {
        var header = new byte[5];
        header[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), length);
        return header;
    }

    /// <summary>What gRPC servers take for a gRPC request: application/grpc, alone or followed by '+' or ';'.</summary>
    public static bool IsGrpcContentType(string contentType) =>
        contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase)
        && (contentType.Length == "application/grpc".Length || contentType["application/grpc".Length] is '+' or ';');
}
