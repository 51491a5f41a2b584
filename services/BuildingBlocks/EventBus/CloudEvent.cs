using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Google.Protobuf;

namespace Transformation.EventBus;

/// <summary>
/// A CloudEvents 1.0 event in the structured JSON format, with the extensions Dapr adds
/// (topic, pubsubname, traceparent, tracestate, traceid). JSON null means "unset".
/// </summary>
public sealed record CloudEvent
{
    public const string MediaType = "application/cloudevents+json";
    public const string JsonContentType = "application/json";

    private static readonly JsonSerializerOptions SerializerOptions = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    [JsonPropertyName("specversion")]
    public string SpecVersion { get; init; } = "1.0";

    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("source")]
    public required string Source { get; init; }

    [JsonPropertyName("type")]
    public required string Type { get; init; }

    [JsonPropertyName("datacontenttype")]
    public string? DataContentType { get; init; }

    [JsonPropertyName("subject")]
    public string? Subject { get; init; }

    [JsonPropertyName("time")]
    public DateTimeOffset? Time { get; init; }

    [JsonPropertyName("topic")]
    public string? Topic { get; init; }

    [JsonPropertyName("pubsubname")]
    public string? PubSubName { get; init; }

    [JsonPropertyName("traceparent")]
    public string? TraceParent { get; init; }

    [JsonPropertyName("tracestate")]
    public string? TraceState { get; init; }

    /// <summary>Dapr's deprecated copy of traceparent; kept so that Dapr subscribers find it.</summary>
    [JsonPropertyName("traceid")]
    public string? TraceId { get; init; }

    [JsonPropertyName("data")]
    public JsonElement? Data { get; init; }

    [JsonPropertyName("data_base64")]
    public string? DataBase64 { get; init; }

    /// <summary>Wraps a proto message: <c>data</c> is its protobuf JSON, the current activity gives the trace context.</summary>
    public static CloudEvent Create(IMessage message, string source, string subject, string pubSubName, Guid? id = null, DateTimeOffset? time = null)
    {
        var descriptor = message.Descriptor;
        using var data = JsonDocument.Parse(JsonFormatter.Default.Format(message));
        var activity = Activity.Current;
        var traceParent = activity?.Id is { } activityId && activity.IdFormat == ActivityIdFormat.W3C ? activityId : "";
        return new CloudEvent
        {
            Id = (id ?? Guid.NewGuid()).ToString(),
            Source = source,
            Type = EventNames.Type(descriptor),
            DataContentType = JsonContentType,
            Subject = subject,
            Time = time ?? DateTimeOffset.UtcNow,
            Topic = EventNames.Topic(descriptor),
            PubSubName = pubSubName,
            TraceParent = traceParent,
            TraceId = traceParent,
            TraceState = activity?.TraceStateString ?? "",
            Data = data.RootElement.Clone(),
        };
    }

    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, SerializerOptions);

    /// <summary>Parses a structured CloudEvent whatever the transport said its content type was (Dapr says text/plain).</summary>
    public static CloudEvent Parse(ReadOnlySpan<byte> utf8Json)
    {
        var cloudEvent = JsonSerializer.Deserialize<CloudEvent>(utf8Json, SerializerOptions)
            ?? throw new FormatException("The body is JSON null, not a CloudEvent.");
        if (string.IsNullOrEmpty(cloudEvent.Id) || string.IsNullOrEmpty(cloudEvent.Source) || string.IsNullOrEmpty(cloudEvent.Type))
        {
            throw new FormatException("A CloudEvent needs a non-empty id, source and type.");
        }

        if (cloudEvent.Data is { ValueKind: not JsonValueKind.Undefined } && cloudEvent.DataBase64 is not null)
        {
            throw new FormatException("A CloudEvent carries data or data_base64, never both.");
        }

        return cloudEvent;
    }

    /// <summary>
    /// The payload as a proto message. <c>data</c> may be the JSON value itself (ours, and Dapr's for
    /// application/json) or a string holding JSON (Dapr's text/plain); <c>data_base64</c> is protobuf binary.
    /// </summary>
    public TMessage DataAs<TMessage>(MessageParser<TMessage> parser)
        where TMessage : IMessage<TMessage>
    {
        if (DataBase64 is not null)
        {
            return parser.ParseFrom(Convert.FromBase64String(DataBase64));
        }

        var json = Data switch
        {
            { ValueKind: JsonValueKind.Object } element => element.GetRawText(),
            { ValueKind: JsonValueKind.String } element => element.GetString()!,
            _ => throw new FormatException($"The CloudEvent {Id} has no data to read as {typeof(TMessage).Name}."),
        };
        return parser.ParseJson(json);
    }

    public override string ToString() => Encoding.UTF8.GetString(ToUtf8Json());
}
