using Transformation.TestSupport;
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
        using var client = GrpcTestClient.Create(server.Address);
        using var call = client.ServerStreaming<CountdownRequest, CountdownResponse>(TestReflection.Descriptor.Services[0].FindMethodByName("Countdown"),
            new CountdownRequest { Count = Messages, PayloadSize = 32 }, new CallOptions(cancellationToken: ct));

        var read = 0;
        var lags = new List<long>();
        var heaps = new List<long>();
        while (await call.ResponseStream.MoveNext(ct))
        {
            call.ResponseStream.Current.Index.ShouldBe(Messages - read);
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
        call.GetStatus().StatusCode.ShouldBe(StatusCode.OK);

        // Without flow control the handler would have written all 1,000,000 at the first pause.
        lags.ShouldAllBe(lag => lag < 250_000, $"writer ahead of reader by {string.Join(", ", lags)} messages");

        // 1,000,000 framed 37-byte messages are ~37 MB; a flat server holds a few windows' worth at most.
        (heaps.Max() - heaps[0]).ShouldBeLessThan(16 * 1024 * 1024, $"managed heap at each pause: {string.Join(", ", heaps)}");
    }
}
