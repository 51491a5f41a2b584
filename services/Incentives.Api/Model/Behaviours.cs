using System.Text.RegularExpressions;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;

namespace Transformation.Incentives.Api.Model;

/// <summary>The rules of a behaviour's content.</summary>
public static partial class Behaviours
{
    public const int MaxNameLength = 200;
    public const int MaxDescriptionLength = 4000;
    public const int MaxExamples = 20;

    public static bool IsValidId(string id) => IdPattern().IsMatch(id);

    /// <summary>Field violations of a draft; <paramref name="prefix"/> is the request's field path ("behaviour").</summary>
    public static IReadOnlyList<(string Field, string Description)> Validate(BehaviourDraft? draft, string prefix = "behaviour")
    {
        var violations = new List<(string, string)>();
        if (draft is null)
        {
            violations.Add((prefix, "The behaviour is required."));
            return violations;
        }

        if (string.IsNullOrWhiteSpace(draft.Name) || draft.Name.Length > MaxNameLength)
        {
            violations.Add(($"{prefix}.name", $"A name of 1 to {MaxNameLength} characters is required."));
        }

        if (string.IsNullOrWhiteSpace(draft.Description) || draft.Description.Length > MaxDescriptionLength)
        {
            violations.Add(($"{prefix}.description", $"A description of 1 to {MaxDescriptionLength} characters is required."));
        }

        if (draft.Examples.Count > MaxExamples || draft.Examples.Any(string.IsNullOrWhiteSpace))
        {
            violations.Add(($"{prefix}.examples", $"At most {MaxExamples} examples, none empty."));
        }

        if (draft.Polarity is not (Polarity.Desired or Polarity.Unacceptable))
        {
            violations.Add(($"{prefix}.polarity", "The polarity must be DESIRED or UNACCEPTABLE."));
        }

        for (var i = 0; i < draft.Dimensions.Count; i++)
        {
            var link = draft.Dimensions[i];
            if (string.IsNullOrWhiteSpace(link.DimensionId))
            {
                violations.Add(($"{prefix}.dimensions[{i}].dimension_id", "A dimension id is required."));
            }

            if (!(link.Weight > 0 && link.Weight <= 1))
            {
                violations.Add(($"{prefix}.dimensions[{i}].weight", "The weight must be greater than 0 and at most 1."));
            }
        }

        if (draft.Dimensions.GroupBy(d => d.DimensionId, StringComparer.Ordinal).Any(g => g.Count() > 1))
        {
            violations.Add(($"{prefix}.dimensions", "Each dimension may be linked once."));
        }

        return violations;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$", RegexOptions.None, 1000)]
    private static partial Regex IdPattern();
}
