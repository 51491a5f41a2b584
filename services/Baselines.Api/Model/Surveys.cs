using Transformation.Baselines.V1;

namespace Transformation.Baselines.Api.Model;

/// <summary>The rules of a survey answered in the product: the scale, what an answer may be, and who counts where.</summary>
public static class Surveys
{
    /// <summary>The agreement scale the responses are scored on (answers 1 to 5; 4 and 5 are favourable).</summary>
    public static readonly string[] AgreementScale = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"];

    /// <summary>The same limit as a CSV row's comment.</summary>
    public const int MaxCommentLength = 4000;

    /// <summary>
    /// The answers in the assessment's item order (0 = not answered) and the comments as one text (each prefixed with its
    /// dimension's name), or the violations naming each bad field under <paramref name="prefix"/>. A draft may answer
    /// nothing yet; a submission must answer at least one item.
    /// </summary>
    public static (short[] Answers, string Comment, List<(string Field, string Description)> Violations) Read(SurveyAnswers? answers,
        IReadOnlyList<string> itemIds, IReadOnlyDictionary<string, string> dimensionNames, bool submission, string prefix = "answers")
    {
        answers ??= new SurveyAnswers();
        var violations = new List<(string, string)>();
        var result = new short[itemIds.Count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < answers.Answers.Count; i++)
        {
            var answer = answers.Answers[i];
            var position = IndexOf(itemIds, answer.ItemId);
            if (position < 0)
            {
                violations.Add(($"{prefix}.answers[{i}].item_id", $"'{answer.ItemId}' is not an item of this survey."));
            }
            else if (!seen.Add(answer.ItemId))
            {
                violations.Add(($"{prefix}.answers[{i}].item_id", $"'{answer.ItemId}' is answered twice."));
            }

            if (answer.Answer is < 0 or > 5)
            {
                violations.Add(($"{prefix}.answers[{i}].answer", $"{answer.Answer} is not on the agreement scale: 1 to 5, or 0 for no answer."));
            }
            else if (position >= 0)
            {
                result[position] = (short)answer.Answer;
            }
        }

        if (submission && violations.Count == 0 && result.All(a => a == 0))
        {
            violations.Add(($"{prefix}.answers", "The response answers no item."));
        }

        var comments = new List<string>();
        var commented = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < answers.Comments.Count; i++)
        {
            var comment = answers.Comments[i];
            if (!dimensionNames.TryGetValue(comment.DimensionId, out var name))
            {
                violations.Add(($"{prefix}.comments[{i}].dimension_id", $"'{comment.DimensionId}' is not a dimension of this survey."));
            }
            else if (!commented.Add(comment.DimensionId))
            {
                violations.Add(($"{prefix}.comments[{i}].dimension_id", $"'{comment.DimensionId}' has a comment already."));
            }
            else if (comment.Text.Trim().Length > 0)
            {
                comments.Add($"{name}: {comment.Text.Trim()}");
            }
        }

        var text = string.Join("\n\n", comments);
        if (text.Length > MaxCommentLength)
        {
            violations.Add(($"{prefix}.comments", $"The comments have at most {MaxCommentLength} characters altogether."));
        }

        return (result, text, violations);
    }

    /// <summary>The units whose members are invited: the population's units, with their sub-units unless excluded.</summary>
    public static HashSet<string> InvitedUnits(IEnumerable<string> population, bool excludeSubUnits, OrgTree tree) =>
        (excludeSubUnits ? population : population.SelectMany(tree.SelfAndDescendants)).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The unit a response is kept under: the respondent's unit or its nearest ancestor in <paramref name="scope"/> that
    /// counts at least <paramref name="minimum"/> invitees (with its sub-units'), so that no stored response names a unit
    /// small enough to point at its author. The topmost unit of the scope when none does.
    /// </summary>
    public static string ReportingUnit(string unit, OrgTree tree, IReadOnlyDictionary<string, long> invitedWithSubUnits, HashSet<string> scope, int minimum)
    {
        var chosen = unit;
        foreach (var candidate in tree.SelfAndAncestors(unit).TakeWhile(scope.Contains))
        {
            chosen = candidate;
            if (invitedWithSubUnits.GetValueOrDefault(candidate) >= minimum)
            {
                break;
            }
        }

        return chosen;
    }

    /// <summary>Per unit of <paramref name="scope"/>: its own count plus its sub-units' (within the scope).</summary>
    public static Dictionary<string, long> WithSubUnits(IReadOnlyDictionary<string, long> perUnit, OrgTree tree, HashSet<string> scope)
    {
        var totals = scope.ToDictionary(u => u, _ => 0L, StringComparer.Ordinal);
        foreach (var (unit, count) in perUnit)
        {
            foreach (var ancestor in tree.SelfAndAncestors(unit).TakeWhile(scope.Contains))
            {
                totals[ancestor] += count;
            }
        }

        return totals;
    }

    private static int IndexOf(IReadOnlyList<string> items, string id)
    {
        for (var i = 0; i < items.Count; i++)
        {
            if (string.Equals(items[i], id, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
