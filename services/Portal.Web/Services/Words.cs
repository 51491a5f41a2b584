using Transformation.Initiatives.V1;

namespace Transformation.Portal.Web.Services;

/// <summary>Contract values as people read them.</summary>
public static class Words
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
}
