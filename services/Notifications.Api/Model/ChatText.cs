using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Notifications.Api.Model;

/// <summary>
/// The body Slack's and Teams' incoming webhooks take: {"text": "…"}, one sentence a person can read, made only of what
/// the event carries (people by their employee ids: nothing is looked up).
/// </summary>
public static class ChatText
{
    public static string Body(IMessage message) => JsonSerializer.Serialize(new { text = Sentence(message) });

    public static string Sentence(IMessage message) => message switch
    {
        RecognitionPublished r => string.Create(CultureInfo.InvariantCulture,
            $"{r.EmployeeId} was recognised for \"{r.BehaviourName}\" ({r.Points} points){(r.GiverId.Length > 0 ? " by " + r.GiverId : "")}")
            + (r.Message.Length > 0 ? ": " + r.Message : "."),
        SuccessStoryPublished s => $"Success story published: \"{s.Title}\"" + (s.Body.Length > 0 ? $": {s.Body}" : "."),
        _ => throw new ArgumentException($"{message.Descriptor.Name} has no chat text.", nameof(message)),
    };
}
