using System.Text.RegularExpressions;
using Google.Protobuf.Reflection;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Portal.Web.Services;

/// <summary>Contract values as people read them.</summary>
public static partial class Words
{
    /// <summary>"TooFewMeasurements" → "too few measurements".</summary>
    public static string Of(string pascal) =>
        string.Concat(pascal.Select((c, i) => char.IsUpper(c) && i > 0 ? " " + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    public static string Of(InitiativeStatus status) => status == InitiativeStatus.Unspecified ? "unknown" : Of(status.ToString());

    public static string Of(ObservationSource source) => source switch
    {
        ObservationSource.Manager => "A manager",
        ObservationSource.Peer => "A colleague",
        ObservationSource.SystemIntegration => "A system",
        ObservationSource.CustomerFeedback => "A customer",
        ObservationSource.PartnerFeedback => "A partner",
        _ => "Unknown",
    };

    /// <summary>A role as people name it: "change_manager" → "change manager", "hr" → "HR".</summary>
    public static string OfRole(string role) => role switch
    {
        Roles.Hr => "HR",
        _ => role.Replace('_', ' '),
    };

    /// <summary>
    /// An enum value of any contract, as the services write it in JSON ("INITIATIVE_STATUS_ACTIVE"), in words ("active");
    /// null when no contract has it.
    /// </summary>
    public static string? OfConstant(string constant) => Constants.GetValueOrDefault(constant);

    /// <summary>"sourcePoints[0].source" → "source points 1 › source"; "giverId" → "giver".</summary>
    public static string OfPath(string path) =>
        string.Join(" › ", path.Split('.').Select(segment =>
        {
            var index = segment.IndexOf('[', StringComparison.Ordinal);
            var name = index < 0 ? segment : segment[..index];
            var position = index < 0 ? "" : " " + (int.Parse(segment[(index + 1)..^1], System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var words = Of(IdSuffix().Replace(name, ""));
            return (words.Length == 0 ? Of(name) : words) + position;
        }));

    /// <summary>Whether a value is an id no person types (a uuid or a long hex hash, alone or with a ":suffix"): pages show a name instead, or nothing.</summary>
    public static bool IsOpaqueId(string value) => OpaqueId().IsMatch(value);

    private static readonly Dictionary<string, string> Constants = new[]
        {
            DirectoryReflection.Descriptor, IncentivesReflection.Descriptor, BaselinesReflection.Descriptor, InitiativesReflection.Descriptor,
            EndstateReflection.Descriptor,
        }
        .SelectMany(f => f.Dependencies.Append(f))
        .SelectMany(f => f.EnumTypes.Concat(f.MessageTypes.SelectMany(Nested)))
        .SelectMany(e => e.Values.Select(v => (v.Name, Words: ValueWords(e, v))))
        .DistinctBy(v => v.Name, StringComparer.Ordinal)
        .ToDictionary(v => v.Name, v => v.Words, StringComparer.Ordinal);

    private static IEnumerable<EnumDescriptor> Nested(MessageDescriptor message) => message.EnumTypes.Concat(message.NestedTypes.SelectMany(Nested));

    // The value's name without its enum's prefix ("ASSESSMENT_STATUS_" of AssessmentStatus), lower case, words spaced.
    private static string ValueWords(EnumDescriptor type, EnumValueDescriptor value)
    {
        var prefix = string.Concat(type.Name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + c : char.ToUpperInvariant(c).ToString())) + "_";
        var name = value.Name.StartsWith(prefix, StringComparison.Ordinal) ? value.Name[prefix.Length..] : value.Name;
        return name.Replace('_', ' ').ToLowerInvariant();
    }

    [GeneratedRegex("(?<=[a-z])Ids?$", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex IdSuffix();

    [GeneratedRegex(@"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32,})(?::\S*)?$", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex OpaqueId();
}
