namespace Transformation.Initiatives.Api.Model;

/// <summary>One group's score (a unit with its descendants) in a published assessment, as Baselines sent it.</summary>
public sealed record PublishedScore(string DimensionId, string OrgUnitId, bool Suppressed, long N, double Mean);

/// <summary>A Baselines assessment and its scores, as this service keeps them from ScoresPublished (<c>PublishedAt</c> null: never published).</summary>
public sealed record PublishedAssessment(string AssessmentId, string Title, DateTimeOffset MeasuredAt, DateTimeOffset? PublishedAt, int MinimumGroupSize,
    IReadOnlyList<PublishedScore> Scores);

/// <summary>A survey-score goal's figure and the evidence for it: the published score of its dimension for the initiative's scope.</summary>
[GenerateSerializer]
[Immutable]
public sealed record ScoreReading([property: Id(0)] string AssessmentId, [property: Id(1)] string Title, [property: Id(2)] DateTimeOffset MeasuredAt,
    [property: Id(3)] DateTimeOffset PublishedAt, [property: Id(4)] long Respondents, [property: Id(5)] double Score);

/// <summary>Which published score a survey-score goal reads (no I/O). Nobody types a score: it comes from Baselines or there is none.</summary>
public static class SurveyScores
{
    /// <summary>Baselines never reports a smaller group, whatever its configuration.</summary>
    public const int SmallestReportableGroup = 3;

    /// <summary>
    /// The score of <paramref name="dimensionId"/> for <paramref name="scope"/> (org units, none below another, each with its
    /// descendants) in the latest measured assessment published (by <paramref name="publishedBy"/>, when given) whose score is
    /// reportable for every unit of the scope: not suppressed by Baselines and of at least its minimum group size. Several
    /// units give the mean over all their respondents, which the units' own published figures already tell. Null: no score yet.
    /// </summary>
    public static ScoreReading? Read(IEnumerable<PublishedAssessment> assessments, IReadOnlyCollection<string> scope, string dimensionId,
        DateTimeOffset? publishedBy = null)
    {
        ArgumentNullException.ThrowIfNull(assessments);
        ArgumentNullException.ThrowIfNull(scope);
        if (scope.Count == 0 || string.IsNullOrEmpty(dimensionId))
        {
            return null;
        }

        var candidates = assessments
            .Where(a => a.PublishedAt is { } at && (publishedBy is null || at <= publishedBy))
            .OrderByDescending(a => a.MeasuredAt).ThenByDescending(a => a.PublishedAt).ThenBy(a => a.AssessmentId, StringComparer.Ordinal);
        foreach (var assessment in candidates)
        {
            var minimum = Math.Max(assessment.MinimumGroupSize, SmallestReportableGroup);
            var groups = scope.Select(unit => assessment.Scores.FirstOrDefault(s =>
                string.Equals(s.DimensionId, dimensionId, StringComparison.Ordinal) && string.Equals(s.OrgUnitId, unit, StringComparison.Ordinal))).ToList();
            if (groups.Any(g => g is null || g.Suppressed || g.N < minimum || !double.IsFinite(g.Mean)))
            {
                continue;
            }

            var respondents = groups.Sum(g => g!.N);
            return new ScoreReading(assessment.AssessmentId, assessment.Title, assessment.MeasuredAt, assessment.PublishedAt!.Value, respondents,
                groups.Sum(g => g!.N * g.Mean) / respondents);
        }

        return null;
    }
}
