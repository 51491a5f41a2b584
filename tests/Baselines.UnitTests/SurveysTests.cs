using Transformation.Baselines.Api.Model;
using Transformation.Baselines.V1;

namespace Transformation.Baselines.UnitTests;

public sealed class SurveysTests
{
    // org: sales (a, b), b has team t.
    private static readonly OrgTree Tree = new(new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["org"] = "", ["sales"] = "org", ["a"] = "sales", ["b"] = "sales", ["t"] = "b",
    });

    [Fact]
    public void AResponseIsKeptUnderTheNearestUnitOfThePopulationWithTheMinimumGroupOfInvitees()
    {
        var scope = Surveys.InvitedUnits(["sales"], excludeSubUnits: false, Tree);
        var invited = Surveys.WithSubUnits(new Dictionary<string, long>(StringComparer.Ordinal) { ["a"] = 6, ["b"] = 1, ["t"] = 2 }, Tree, scope);

        (invited["sales"], invited["b"], invited["t"]).ShouldBe((9L, 3L, 2L));
        Surveys.ReportingUnit("a", Tree, invited, scope, minimum: 5).ShouldBe("a");
        Surveys.ReportingUnit("t", Tree, invited, scope, minimum: 5).ShouldBe("sales");
        // Never above the population, even when it is below the minimum itself.
        Surveys.ReportingUnit("t", Tree, invited, scope, minimum: 50).ShouldBe("sales");
    }

    [Fact]
    public void WithoutSubUnitsOnlyThePopulationsOwnUnitsAreInvited() =>
        Surveys.InvitedUnits(["sales", "b"], excludeSubUnits: true, Tree).Order(StringComparer.Ordinal).ShouldBe(["b", "sales"]);

    [Fact]
    public void AnswersAreReadInTheSurveysItemOrderWithEachBadFieldNamed()
    {
        string[] items = ["i1", "i2", "i3"];
        var names = new Dictionary<string, string>(StringComparer.Ordinal) { ["trust"] = "Trust" };
        var answers = new SurveyAnswers
        {
            Answers = { new ItemAnswer { ItemId = "i3", Answer = 5 }, new ItemAnswer { ItemId = "i1", Answer = 2 } },
            Comments = { new DimensionComment { DimensionId = "trust", Text = " Fine " } },
        };
        var read = Surveys.Read(answers, items, names, submission: true);
        read.Answers.ShouldBe([2, 0, 5]);
        (read.Comment, read.Violations.Count).ShouldBe(("Trust: Fine", 0));

        answers.Answers.Add(new ItemAnswer { ItemId = "i3", Answer = 6 });
        answers.Answers.Add(new ItemAnswer { ItemId = "x", Answer = 1 });
        Surveys.Read(answers, items, names, submission: true).Violations.Select(v => v.Field)
            .ShouldBe(["answers.answers[2].item_id", "answers.answers[2].answer", "answers.answers[3].item_id"]);
        Surveys.Read(new SurveyAnswers(), items, names, submission: true).Violations.Single().Field.ShouldBe("answers.answers");
        Surveys.Read(new SurveyAnswers(), items, names, submission: false).Violations.ShouldBeEmpty();
    }
}
