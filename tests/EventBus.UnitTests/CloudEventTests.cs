using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Transformation.Samples.V1;

namespace Transformation.EventBus.UnitTests;

public sealed class CloudEventTests
{
    private static readonly SampleRecorded Sample = new() { AggregateId = "initiative-42", Number = 9_007_199_254_740_993, Note = "Behaviour" };

    [Fact]
    public void AnEnvelopeRoundTripsThroughJsonWithItsProtoPayload()
    {
        var id = Guid.NewGuid();
        var time = new DateTimeOffset(2026, 11, 22, 9, 30, 15, 123, TimeSpan.Zero);
        var created = CloudEvent.Create(Sample, "initiatives", "initiative-42", "pubsub", id, time);

        var parsed = CloudEvent.Parse(created.ToUtf8Json());

        parsed.Id.ShouldBe(id.ToString());
        (parsed.SpecVersion, parsed.Source, parsed.Subject, parsed.Time).ShouldBe(("1.0", "initiatives", "initiative-42", time));
        parsed.DataAs(SampleRecorded.Parser).ShouldBe(Sample);
    }

    [Fact]
    public void AnEnvelopeCarriesTheNamesAndDaprFieldsAndDataAsAJsonValue()
    {
        using var json = JsonDocument.Parse(CloudEvent.Create(Sample, "initiatives", "initiative-42", "pubsub").ToUtf8Json());
        var root = json.RootElement;

        root.GetProperty("type").GetString().ShouldBe("transformation.samples.sample-recorded.v1");
        root.GetProperty("topic").GetString().ShouldBe("sample-recorded");
        root.GetProperty("pubsubname").GetString().ShouldBe("pubsub");
        root.GetProperty("datacontenttype").GetString().ShouldBe("application/json");
        root.GetProperty("data").ValueKind.ShouldBe(JsonValueKind.Object); // Never a JSON document inside a string.
        root.GetProperty("data").GetProperty("aggregateId").GetString().ShouldBe("initiative-42");
        root.GetProperty("traceparent").GetString().ShouldBe("");
        root.TryGetProperty("data_base64", out _).ShouldBeFalse();
    }

    [Fact]
    public void TheCurrentActivityBecomesTheTraceContext()
    {
        using var activity = new Activity("publish").SetIdFormat(ActivityIdFormat.W3C).Start();
        activity.TraceStateString = "vendor=1";

        var created = CloudEvent.Create(Sample, "initiatives", "initiative-42", "pubsub");

        created.TraceParent.ShouldBe(activity.Id);
        created.TraceId.ShouldBe(activity.Id);
        created.TraceState.ShouldBe("vendor=1");
    }

    [Fact]
    public void DaprEnvelopesAreReadWhateverFormTheirDataTakes()
    {
        const string common = """{"id":"d1","source":"orders","type":"com.dapr.event.sent","specversion":"1.0","topic":"sample-recorded","pubsubname":"pubsub","traceid":"","traceparent":"","tracestate":"","time":"2026-11-22T10:15:42+01:00",""";
        var asJson = common + """ "datacontenttype":"application/json","data":{"aggregateId":"a","number":"5"}}""";
        var asText = common + """ "datacontenttype":"text/plain","data":"{\"aggregateId\":\"a\",\"number\":\"5\"}"}""";
        var binary = Convert.ToBase64String(new SampleRecorded { AggregateId = "a", Number = 5 }.ToByteArray());
        var asBinary = common + $$""" "datacontenttype":"application/octet-stream","data_base64":"{{binary}}"}""";

        foreach (var body in new[] { asJson, asText, asBinary })
        {
            var parsed = CloudEvent.Parse(Encoding.UTF8.GetBytes(body));
            parsed.DataAs(SampleRecorded.Parser).ShouldBe(new SampleRecorded { AggregateId = "a", Number = 5 });
            parsed.Time.ShouldBe(new DateTimeOffset(2026, 11, 22, 9, 15, 42, TimeSpan.Zero));
        }
    }

    [Theory]
    [InlineData("""{"source":"s","type":"t","specversion":"1.0"}""")]
    [InlineData("""{"id":"","source":"s","type":"t","specversion":"1.0"}""")]
    [InlineData("""{"id":"1","type":"t","specversion":"1.0"}""")]
    [InlineData("""{"id":"1","source":"s","type":"t","data":{},"data_base64":"AA=="}""")]
    [InlineData("null")]
    public void AnInvalidEnvelopeIsRefused(string body)
    {
        var exception = Should.Throw<Exception>(() => CloudEvent.Parse(Encoding.UTF8.GetBytes(body)));
        (exception is FormatException or JsonException).ShouldBeTrue(exception.GetType().Name);
    }

    [Fact]
    public void AnEnvelopeWithoutDataCannotBeReadAsAnEvent()
    {
        var parsed = CloudEvent.Parse("""{"id":"1","source":"s","type":"t","specversion":"1.0"}"""u8);
        Should.Throw<FormatException>(() => parsed.DataAs(SampleRecorded.Parser));
    }
}
