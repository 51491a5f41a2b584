namespace Transformation.Portal.Web.Services;

/// <summary>The most characters each service takes in a text field, as they validate it (the portal's maxlength).</summary>
public static class TextLimits
{
    /// <summary>Any string of any request (GrpcHostingOptions.MaxStringLength): fields without a bound of their own.</summary>
    public const int AnyText = 20_000;

    /// <summary>Ids of behaviours, dimensions, items and assessments: lower-case letters, digits and '-'.</summary>
    public const int Id = 63;

    /// <summary>Reward ids and idempotency keys.</summary>
    public const int Key = 200;

    /// <summary>Names of behaviours and initiatives; assessment titles.</summary>
    public const int Name = 200;

    public const int DimensionName = 100;

    public const int DimensionDescription = 2000;

    public const int BehaviourDescription = 4000;

    public const int ItemText = 500;

    /// <summary>A recognition's message, a review note, a reason to revoke or reject.</summary>
    public const int Message = 1000;

    /// <summary>An observation's evidence (Initiatives' Observations.MaxEvidenceLength).</summary>
    public const int Evidence = 2000;

    /// <summary>A period such as 2026-11, 2026-Q4 or 2026-W47.</summary>
    public const int Period = 8;
}
