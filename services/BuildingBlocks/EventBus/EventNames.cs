using System.Text;
using Google.Protobuf.Reflection;

namespace Transformation.EventBus;

/// <summary>
/// Names derived from an event's proto descriptor: topic <c>&lt;event-kebab&gt;</c>, CloudEvent type
/// <c>transformation.&lt;producer&gt;.&lt;event-kebab&gt;.v1</c>, where the proto package is <c>transformation.&lt;producer&gt;.v1</c>;
/// and the broker names of Dapr's pubsub.rabbitmq.
/// </summary>
public static class EventNames
{
    public static string Topic(MessageDescriptor descriptor) => Kebab(descriptor.Name);

    public static string Type(MessageDescriptor descriptor)
    {
        var parts = descriptor.File.Package.Split('.');
        if (parts is not ["transformation", var producer, "v1"])
        {
            throw new ArgumentException(
                $"The event {descriptor.FullName} must live in a proto package 'transformation.<producer>.v1'.", nameof(descriptor));
        }

        return $"transformation.{producer}.{Kebab(descriptor.Name)}.v1";
    }

    /// <summary>The queue of one consuming app on one topic: <c>&lt;app-id&gt;-&lt;topic&gt;</c>, as Dapr names it.</summary>
    public static string Queue(string appId, string topic) => $"{appId}-{topic}";

    public static string DeadLetterExchange(string queue) => $"dlx-{queue}";

    public static string DeadLetterQueue(string queue) => $"dlq-{queue}";

    /// <summary>PascalCase to kebab-case: "BehaviourObserved" → "behaviour-observed", "HRRecordImported" → "hr-record-imported".</summary>
    public static string Kebab(string pascal)
    {
        var kebab = new StringBuilder(pascal.Length + 8);
        for (var i = 0; i < pascal.Length; i++)
        {
            var c = pascal[i];
            if (char.IsUpper(c))
            {
                var previousIsLower = i > 0 && (char.IsLower(pascal[i - 1]) || char.IsDigit(pascal[i - 1]));
                var endsAcronym = i > 0 && char.IsUpper(pascal[i - 1]) && i + 1 < pascal.Length && char.IsLower(pascal[i + 1]);
                if (previousIsLower || endsAcronym)
                {
                    kebab.Append('-');
                }

                kebab.Append(char.ToLowerInvariant(c));
            }
            else
            {
                kebab.Append(c);
            }
        }

        return kebab.ToString();
    }
}
