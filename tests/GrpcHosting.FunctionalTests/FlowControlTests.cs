using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using Transformation.Testing.V1;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>Acceptance 4: a server stream of 1,000,000 small messages to a slow reader keeps the server's memory flat.</summary>
public sealed class FlowControlTests(GrpcServerFixture server) : IClassFixture<GrpcServerFixture>
{
    private const int Messages = 1_000_000;

    [Fact]
    public async Task AMillionMessageStreamToASlowReaderIsHeldBackByFlowControl()
    {
        var ct = TestContext.Current.CancellationToken;
        server.Observations.ResetCountdown();
        using var http = ServerTests.RawClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Address, "/transformation.testing.v1.TestService/Countdown"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(MessageFraming.ToFrame(new CountdownRequest { Count = Messages, PayloadSize = 32 }, gzip: false)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        var reader = PipeReader.Create(await response.Content.ReadAsStreamAsync(ct));

        var read = 0;
        var lags = new List<long>();
        var heaps = new List<long>();
        while (await MessageFraming.ReadAsync(reader, CountdownResponse.Parser, null, 1024, ct) is { } message)
        {
            message.Index.ShouldBe(Messages - read);
            read++;
            if (read % 200_000 == 0)
            {
                // The slow part: stop reading and give an unchecked writer every chance to run ahead.
                await Task.Delay(300, ct);
                lags.Add(server.Observations.CountdownWritten - read);
                heaps.Add(GC.GetTotalMemory(forceFullCollection: true));
            }
        }

        read.ShouldBe(Messages);
        response.TrailingHeaders.GetValues("grpc-status").ShouldBe(["0"]);

        // Without flow control the handler would have written all 1,000,000 at the first pause.
        lags.ShouldAllBe(lag => lag < 250_000, $"writer ahead of reader by {string.Join(", ", lags)} messages");

        // 1,000,000 framed 37-byte messages are ~37 MB; a flat server holds a few windows' worth at most.
        (heaps.Max() - heaps[0]).ShouldBeLessThan(16 * 1024 * 1024, $"managed heap at each pause: {string.Join(", ", heaps)}");
    }
}
