using System.Collections.Concurrent;
using System.Net;
using Grpc.Health.V1;
using Transformation.TestSupport;
using Transformation.Testing.V1;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>Acceptance 2: malformed, truncated and garbage requests never crash, hang or 5xx the server; each ends with a gRPC status.</summary>
public sealed class RobustnessTests(GrpcServerFixture server) : IClassFixture<GrpcServerFixture>
{
    private const int Requests = 10_500;
    private static readonly string[] BadTimeouts = ["abc", "999999999S", "-1m", "1x", "", "00000000000001S"];
    private static readonly string[] UnknownEncodings = ["snappy", "deflate2", "GZIP"];
    private static readonly string[] BadContentTypes = ["text/plain", "application/json", "application/grpcweb"];
    private static readonly string[] Paths =
    [
        "/transformation.testing.v1.TestService/Sum",
        "/transformation.testing.v1.TestService/Chat",
        "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/transformation.testing.v1.TestService/Nope",
        "/nope.v1.Nothing/Call",
    ];

    [Fact]
    public async Task EveryMalformedRequestEndsWithAGrpcStatusAndNever5xx()
    {
        var random = new Random(20261122);
        var cases = Enumerable.Range(0, Requests).Select(i => MakeCase(random, i)).ToList();
        var failures = new ConcurrentBag<string>();
        var statuses = new ConcurrentDictionary<string, int>();
        using var http = RawRequests.Client();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));

        // Four at a time: with many more on a loaded machine, Kestrel's HTTP/2 rapid-reset guard answers ENHANCE_YOUR_CALM to streams
        // it has refused but not yet finished, which is its protection working, not this test's subject.
        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = timeout.Token }, async (c, ct) =>
        {
            using var response = await http.SendAsync(c.ToRequest(server.Address), ct);
            await response.Content.ReadAsByteArrayAsync(ct);
            var status = response.Headers.TryGetValues("grpc-status", out var inHeaders) ? inHeaders.Single()
                : response.TrailingHeaders.TryGetValues("grpc-status", out var inTrailers) ? inTrailers.Single() : null;
            // A non-gRPC request to a path no service maps is not a gRPC call: plain 404, as grpc-dotnet answers.
            var notGrpc = response.StatusCode == HttpStatusCode.NotFound && !RawRequests.IsGrpcContentType(c.ContentType);
            if ((int)response.StatusCode >= 500 || (status is null && !notGrpc))
            {
                failures.Add($"{c.Description}: HTTP {(int)response.StatusCode}, grpc-status {status ?? "missing"}");
            }

            statuses.AddOrUpdate(status ?? "none", 1, (_, n) => n + 1);
        });

        failures.Take(20).ShouldBeEmpty($"{failures.Count} failures");
        statuses.Values.Sum().ShouldBe(Requests);
        statuses.Keys.ShouldContain("13"); // INTERNAL for broken frames
        statuses.Keys.ShouldContain("8"); // RESOURCE_EXHAUSTED for oversized prefixes
        statuses.Keys.ShouldContain("12"); // UNIMPLEMENTED for unknown paths and encodings

        // Still serving afterwards.
        using var client = GrpcTestClient.Create(server.Address);
        var health = await client.UnaryAsync<HealthCheckRequest, HealthCheckResponse>(Health.Descriptor.FindMethodByName("Check"), new HealthCheckRequest());
        health.Status.ShouldBe(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    private static MalformedCase MakeCase(Random random, int index)
    {
        var path = Paths[random.Next(Paths.Length)];
        var valid = RawRequests.Frame(new SumRequest { Value = random.Next() });
        var headers = new List<(string, string)>();
        var contentType = "application/grpc";
        byte[] body;
        string description;
        switch (index % 12)
        {
            case 0:
                body = Bytes(random, random.Next(0, 300));
                description = "garbage body";
                break;
            case 1:
                body = valid[..random.Next(1, valid.Length)];
                description = "truncated frame";
                break;
            case 2:
                body = [.. valid];
                body[0] = (byte)random.Next(2, 256);
                description = "bad compressed flag";
                break;
            case 3:
                body = RawRequests.Header(0, (uint)random.Next(4 * 1024 * 1024 + 1, int.MaxValue));
                description = "oversized length prefix";
                break;
            case 4:
                body = [.. RawRequests.Header(0, 40), .. Bytes(random, 40)];
                description = "garbage payload";
                break;
            case 5:
                body = [.. RawRequests.Header(1, 10), .. Bytes(random, 10)];
                description = "compressed without grpc-encoding";
                break;
            case 6:
                body = [.. RawRequests.Header(1, 20), .. Bytes(random, 20)];
                headers.Add(("grpc-encoding", "gzip"));
                description = "broken gzip";
                break;
            case 7:
                body = [.. valid, .. valid, .. valid];
                description = "several messages";
                break;
            case 8:
                body = [];
                description = "no message";
                break;
            case 9:
                body = valid;
                headers.Add(("grpc-timeout", BadTimeouts[random.Next(BadTimeouts.Length)]));
                headers.Add(("x-broken-bin", "!!not base64!!"));
                description = "bad headers";
                break;
            case 10:
                body = valid;
                headers.Add(("grpc-encoding", UnknownEncodings[random.Next(UnknownEncodings.Length)]));
                description = "unknown encoding";
                break;
            default:
                body = valid;
                contentType = BadContentTypes[random.Next(BadContentTypes.Length)];
                description = "bad content type";
                break;
        }

        return new MalformedCase($"#{index} {description} to {path}", path, body, contentType, headers);
    }

    private static byte[] Bytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    private sealed record MalformedCase(string Description, string Path, byte[] Body, string ContentType, List<(string Name, string Value)> Headers)
    {
        public HttpRequestMessage ToRequest(Uri address)
        {
            var request = RawRequests.Create(address, Path, Body, ContentType);
            foreach (var (name, value) in Headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            return request;
        }
    }
}
