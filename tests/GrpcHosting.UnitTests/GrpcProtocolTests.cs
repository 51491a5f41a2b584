using System.Buffers;
using Transformation.GrpcHosting.Health.V1;

namespace Transformation.GrpcHosting.UnitTests;

public sealed class GrpcProtocolTests
{
    [Theory]
    [InlineData("plain text", "plain text")]
    [InlineData("100%", "100%25")]
    [InlineData("ü", "%C3%BC")]
    [InlineData("line\nbreak", "line%0Abreak")]
    public void MessagesArePercentEncodedAndDecoded(string text, string wire)
    {
        GrpcProtocol.EncodeMessage(text).ShouldBe(wire);
        GrpcProtocol.DecodeMessage(wire).ShouldBe(text);
    }

    [Theory]
    [InlineData("%zz", "%zz")]
    [InlineData("50%", "50%")]
    public void AMalformedEscapeIsKeptAsItIs(string wire, string text) => GrpcProtocol.DecodeMessage(wire).ShouldBe(text);

    [Theory]
    [InlineData("1S", 1_000)]
    [InlineData("250m", 250)]
    [InlineData("2M", 120_000)]
    [InlineData("1H", 3_600_000)]
    [InlineData("5000u", 5)]
    [InlineData("99999999m", 99_999_999)]
    public void TimeoutsParse(string value, double milliseconds) => GrpcProtocol.ParseTimeout(value)!.Value.TotalMilliseconds.ShouldBe(milliseconds);

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("0S")]
    [InlineData("-1S")]
    [InlineData("123456789S")]
    [InlineData("10x")]
    [InlineData("1.5S")]
    public void InvalidTimeoutsAreIgnored(string value) => GrpcProtocol.ParseTimeout(value).ShouldBeNull();

    [Fact]
    public void TimeoutsFormatInEightDigitsRoundingUp()
    {
        GrpcProtocol.FormatTimeout(TimeSpan.FromMilliseconds(1.2)).ShouldBe("2m");
        GrpcProtocol.FormatTimeout(TimeSpan.FromDays(30)).ShouldBe("2592000S");
    }

    [Theory]
    [InlineData("application/grpc", true)]
    [InlineData("application/grpc+proto", true)]
    [InlineData("application/GRPC;charset=utf-8", true)]
    [InlineData("application/grpcweb", false)]
    [InlineData("text/plain", false)]
    [InlineData(null, false)]
    public void GrpcContentTypesAreRecognised(string? contentType, bool expected) => GrpcProtocol.IsGrpcContentType(contentType).ShouldBe(expected);

    [Fact]
    public void AFrameSplitAcrossSegmentsIsReassembled()
    {
        var frame = MessageFraming.ToFrame(new HealthCheckRequest { Service = "a.b.Service" }, gzip: false);
        var first = new Segment(frame[..3]);
        var last = first.Append(frame[3..8]).Append(frame[8..]);
        var buffer = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        MessageFraming.TryReadFrame(ref buffer, 1024, out var compressed, out var payload).ShouldBeTrue();
        compressed.ShouldBeFalse();
        HealthCheckRequest.Parser.ParseFrom(payload).Service.ShouldBe("a.b.Service");
        buffer.IsEmpty.ShouldBeTrue();
    }

    [Fact]
    public void AnIncompleteFrameWaitsAndAnOversizedOneFails()
    {
        var frame = MessageFraming.ToFrame(new HealthCheckRequest { Service = "x" }, gzip: false);
        var partial = new ReadOnlySequence<byte>(frame[..^1]);
        MessageFraming.TryReadFrame(ref partial, 1024, out _, out _).ShouldBeFalse();
        var whole = new ReadOnlySequence<byte>(frame);
        Should.Throw<RpcException>(() => MessageFraming.TryReadFrame(ref whole, 2, out _, out _)).StatusCode.ShouldBe(StatusCode.ResourceExhausted);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes) => Memory = bytes;

        public Segment Append(byte[] bytes)
        {
            var next = new Segment(bytes) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
