using Google.Protobuf.WellKnownTypes;
using Transformation.Initiatives.Api.Model;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Rules = Transformation.Initiatives.Api.Model.Initiatives;

namespace Transformation.Initiatives.UnitTests;

/// <summary>A survey-score goal reads the published score of its dimension for the initiative's scope from Baselines: nobody types it.</summary>
public sealed class SurveyScoreGoalTests
{
    private static readonly DateTimeOffset Start = new(2026, 6, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly Caller Manager = new("cm-1", new HashSet<string> { Roles.ChangeManager });
    private static readonly Caller Sponsor = new("exec-1", new HashSet<string> { Roles.Executive });

    private static PublishedAssessment Assessment(string id, DateTimeOffset measured, DateTimeOffset? published, params PublishedScore[] scores) =>
        new(id, id.ToUpperInvariant(), measured, published, 5, scores);

    private static PublishedScore Score(double mean, long n = 20, string unit = "sales", string dimension = "trust", bool suppressed = false) =>
        new(dimension, unit, suppressed, suppressed ? 0 : n, suppressed ? 0 : mean);

    private static InitiativeState Proposed()
    {
        var draft = new InitiativeDraft
        {
            Name = "Customer first",
            Purpose = "Put the customer at the centre",
            SponsorId = "exec-1",
            ScopeOrgUnitIds = { "sales" },
            TargetBehaviourIds = { "helps-customers" },
            Goals =
            {
                new Goal { GoalId = "survey", Kind = GoalKind.SurveyScore, Target = 4, DimensionId = "trust" },
                new Goal { GoalId = "count", Kind = GoalKind.Count, Target = 3 },
            },
            Milestones = { new Milestone { MilestoneId = "m1", Name = "Trusted", GoalId = "survey", Target = 4, DueOn = Timestamp.FromDateTimeOffset(Start.AddDays(300)) } },
        };
        return Rules.Propose("i-1", "k", draft, "cm-1", Start.AddDays(-10));
    }

    private static InitiativeState Active(params PublishedAssessment[] publishedByStart)
    {
        var state = Rules.Sponsor(Proposed(), Sponsor, Start.AddDays(-5));
        state = Rules.Activate(state, Manager, Start, 1);
        return Rules.ReadSurvey(state, publishedByStart, ["sales"], publishedByStart.Length);
    }

    private static GoalDefinition Goal(InitiativeState state) => state.Goals.Single(g => g.GoalId == "survey");

    [Fact]
    public void TheGoalsScoreFollowsTheLatestPublishedAssessmentAndCitesIt()
    {
        var q1 = Assessment("q1", Start.AddDays(-30), Start.AddDays(-20), Score(3.1));
        var state = Active(q1);
        Rules.GoalValue(state, Goal(state), Start).ShouldBe(3.1);

        // A later assessment is published: the goal follows it, and the figure names the assessment it comes from.
        var q3 = Assessment("q3", Start.AddDays(60), Start.AddDays(70), Score(3.6, n: 40));
        state = Rules.ReadSurvey(state, [q1, q3], ["sales"], 2);
        var figure = Rules.Figure(state, Goal(state), Start.AddDays(71));
        (figure.Value, figure.Survey.AssessmentId, figure.Survey.AssessmentTitle, figure.Survey.Respondents).ShouldBe((3.6, "q3", "Q3", 40L));
        figure.Survey.MeasuredAt.ShouldBe(Timestamp.FromDateTimeOffset(Start.AddDays(60)));

        // The latest measured is the latest, even if an older measurement is published after it.
        var q2 = Assessment("q2", Start.AddDays(30), Start.AddDays(80), Score(2.0));
        Rules.GoalValue(Rules.ReadSurvey(state, [q1, q2, q3], ["sales"], 3), Goal(state), Start.AddDays(81)).ShouldBe(3.6);
    }

    [Fact]
    public void AnUnpublishedAssessmentIsNeverUsed()
    {
        var q1 = Assessment("q1", Start.AddDays(-30), Start.AddDays(-20), Score(3.1));
        var closedNotPublished = Assessment("q2", Start.AddDays(30), null, Score(4.5));

        var state = Rules.ReadSurvey(Active(q1), [q1, closedNotPublished], ["sales"], 2);
        Rules.GoalValue(state, Goal(state), Start.AddDays(40)).ShouldBe(3.1);
        state.Milestones.Single().ReachedAt.ShouldBeNull();
        SurveyScores.Read([closedNotPublished], ["sales"], "trust").ShouldBeNull();
    }

    [Fact]
    public void AScoreBelowTheAnonymityThresholdIsNeverUsed()
    {
        var q1 = Assessment("q1", Start.AddDays(-30), Start.AddDays(-20), Score(3.1));
        // Baselines suppressed the group (below its minimum or derivable by differencing): no figure, and none is taken.
        var suppressed = Assessment("q2", Start.AddDays(30), Start.AddDays(35), Score(0, suppressed: true));
        // A figure for fewer respondents than the minimum Baselines named is not used either, nor one under 3 whatever the minimum.
        var small = Assessment("q3", Start.AddDays(60), Start.AddDays(65), Score(4.8, n: 4));
        var tiny = new PublishedAssessment("q4", "Q4", Start.AddDays(90), Start.AddDays(95), 1, [Score(4.9, n: 2)]);

        var state = Rules.ReadSurvey(Active(q1), [q1, suppressed, small, tiny], ["sales"], 4);
        var (next, reached) = Rules.Evaluate(state, Start.AddDays(100));
        Rules.GoalValue(next, Goal(next), Start.AddDays(100)).ShouldBe(3.1);
        next.Survey["survey"].AssessmentId.ShouldBe("q1");
        reached.ShouldBeEmpty();
        SurveyScores.Read([suppressed, small, tiny], ["sales"], "trust").ShouldBeNull();
    }

    [Fact]
    public void AScopeOfSeveralUnitsIsScoredOnlyWhenEveryUnitIsReportable()
    {
        var both = Assessment("q1", Start, Start, Score(3.0, n: 10, unit: "sales"), Score(4.0, n: 30, unit: "ops"));
        var reading = SurveyScores.Read([both], ["sales", "ops"], "trust")!;
        (reading.Score, reading.Respondents).ShouldBe((3.75, 40L));

        var opsSuppressed = Assessment("q2", Start.AddDays(1), Start.AddDays(1), Score(3.0, n: 10, unit: "sales"), Score(0, unit: "ops", suppressed: true));
        SurveyScores.Read([opsSuppressed], ["sales", "ops"], "trust").ShouldBeNull();
        var opsNotSurveyed = Assessment("q3", Start.AddDays(2), Start.AddDays(2), Score(3.0, n: 10, unit: "sales"));
        SurveyScores.Read([opsNotSurveyed], ["sales", "ops"], "trust").ShouldBeNull();
        // Another dimension's score is not this goal's.
        SurveyScores.Read([Assessment("q4", Start, Start, Score(4.2, dimension: "openness"))], ["sales"], "trust").ShouldBeNull();
    }

    [Fact]
    public void TheBaselineIsTheScorePublishedWhenTheInitiativeStarted()
    {
        var q1 = Assessment("q1", Start.AddDays(-30), Start.AddDays(-20), Score(3.1));
        var q2 = Assessment("q2", Start.AddDays(60), Start.AddDays(70), Score(4.2));

        var state = Rules.ReadSurvey(Active(q1), [q1, q2], ["sales"], 2);
        state.SurveyAtStart["survey"].ShouldBe(new ScoreReading("q1", "Q1", Start.AddDays(-30), Start.AddDays(-20), 20, 3.1));
        state.Survey["survey"].AssessmentId.ShouldBe("q2");
        // The score at the start is no adoption or count figure: the hand-kept baseline has no entry for the survey goal.
        state.Baseline.ContainsKey("survey").ShouldBeFalse();

        // With 4.2 published, the milestone of 4 is reached.
        var (_, reached) = Rules.Evaluate(state, Start.AddDays(71));
        reached.Single().MilestoneId.ShouldBe("m1");
    }

    [Fact]
    public void WithNoPublishedScoreTheGoalSaysNoScoreYetNeverZero()
    {
        var state = Active();
        state.Survey.ShouldBeEmpty();
        state.SurveyAtStart.ShouldBeEmpty();
        Rules.HasFigure(state, Goal(state)).ShouldBeFalse();
        Rules.Figure(state, Goal(state), Start).Survey.ShouldBeNull();
        Rules.HasFigure(state, state.Goals.Single(g => g.GoalId == "count")).ShouldBeTrue();

        // Published after the start: the goal has a score now, and still none from before it started.
        var later = Assessment("q1", Start.AddDays(20), Start.AddDays(25), Score(2.9));
        state = Rules.ReadSurvey(state, [later], ["sales"], 1);
        Rules.GoalValue(state, Goal(state), Start.AddDays(26)).ShouldBe(2.9);
        state.SurveyAtStart.ShouldBeEmpty();
        Rules.SurveyChanged(Active(), state).ShouldBeTrue();
        Rules.SurveyChanged(state, Rules.ReadSurvey(state, [later], ["sales"], 2)).ShouldBeFalse();
    }

    [Fact]
    public void ASurveyScoreGoalMustNameItsDimension()
    {
        var draft = new InitiativeDraft
        {
            Name = "Customer first", Purpose = "Put the customer at the centre", SponsorId = "exec-1", ScopeOrgUnitIds = { "sales" },
            TargetBehaviourIds = { "helps-customers" }, Goals = { new Goal { GoalId = "survey", Kind = GoalKind.SurveyScore, Target = 4 } },
        };
        Rules.Validate(draft).Single().Field.ShouldBe("initiative.goals[0].dimension_id");
    }

    [Fact]
    public void AProposedInitiativeShowsTheLatestScoreAndHasNoBaselineYet()
    {
        var q1 = Assessment("q1", Start.AddDays(-30), Start.AddDays(-20), Score(3.1));
        var state = Rules.ReadSurvey(Proposed(), [q1], ["sales"], 1);
        state.Survey["survey"].Score.ShouldBe(3.1);
        state.SurveyAtStart.ShouldBeEmpty();
    }
}
