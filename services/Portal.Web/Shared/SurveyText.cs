using System.Globalization;
using Transformation.Initiatives.V1;

namespace Transformation.Portal.Web.Shared;

/// <summary>A survey-score goal's figure in words: the published score and the assessment it comes from, or that there is none yet.</summary>
public static class SurveyText
{
    public const string NoScoreYet = "no published score yet";

    /// <summary>"3.6" or "no published score yet".</summary>
    public static string Score(SurveyReading? reading) => reading is null ? NoScoreYet : ChartMath.N(reading.Score);

    /// <summary>Where the score comes from: "Spring pulse, measured 1 Mar 2026, 40 people answered" (empty without a score).</summary>
    public static string Source(SurveyReading? reading) => reading is null ? "" :
        $"{reading.AssessmentTitle}, measured {reading.MeasuredAt?.ToDateTimeOffset().ToString("d MMM yyyy", CultureInfo.InvariantCulture)}, "
        + $"{reading.Respondents.ToString(CultureInfo.InvariantCulture)} people answered";

    /// <summary>A survey score with its source in brackets, or that there is none.</summary>
    public static string Cited(SurveyReading? reading) => reading is null ? NoScoreYet : $"{Score(reading)} ({Source(reading)})";

    /// <summary>A survey-score goal against its target: "3.6 of 4 (Spring pulse, measured …)" or "no published score yet (target 4)".</summary>
    public static string Goal(SurveyReading? reading, double target) => reading is null
        ? $"{NoScoreYet} (target {ChartMath.N(target)})"
        : $"{Score(reading)} of {ChartMath.N(target)} ({Source(reading)})";

    /// <summary>A story's before → after of one goal; a survey-score goal's cites the assessments.</summary>
    public static string Evidence(GoalEvidence goal) =>
        goal.Kind == GoalKind.SurveyScore || goal.BeforeSurvey is not null || goal.AfterSurvey is not null
            ? $"{(goal.BeforeSurvey is null ? "no published score when it started" : Cited(goal.BeforeSurvey))} → {Cited(goal.AfterSurvey)}"
            : $"{ChartMath.N(goal.Before)} → {ChartMath.N(goal.After)}";
}
