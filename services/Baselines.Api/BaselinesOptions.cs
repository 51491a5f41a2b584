using System.ComponentModel.DataAnnotations;

namespace Transformation.Baselines.Api;

public sealed class BaselinesOptions
{
    public const string Section = "Baselines";

    /// <summary>No figure is reported for a group with fewer respondents (never below 3).</summary>
    [Range(3, 1000)]
    public int MinimumGroupSize { get; set; } = 5;
}
