using Google.Protobuf.WellKnownTypes;
using Microsoft.Playwright;
using Transformation.Baselines.V1;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>Issue 24: an employee answers a survey in the portal, on a phone-sized screen: saves, comes back, submits once.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task AnEmployeeAnswersASurveyOnAPhoneSavingComingBackAndSubmittingOnce()
    {
        await TestSupport.TestSql.WaitUntilAsync(_system.Baselines.Database, "SELECT count(*) FROM employees WHERE employee_id IN ('cm-1', 'e1', 'e2') AND active", 3, Ct);
        var baselines = new Seed.ServiceCalls(_system.Baselines.Client, BaselinesReflection.Descriptor.Services[0]);
        await baselines.Call<OpenSurveyRequest, OpenSurveyResponse>("OpenSurvey", new OpenSurveyRequest
        {
            IdempotencyKey = "survey-sales", AssessmentId = "survey-sales", Title = "Sales pulse", Kind = AssessmentKind.Pulse,
            ClosesAt = Timestamp.FromDateTime(DateTime.UtcNow.AddDays(7)), PopulationOrgUnitIds = { "sales" }, ItemIds = { "q1", "q2" },
        }, _system.Token(Seed.Hr, Roles.Hr), Ct);

        await using var context = await _system.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 375, Height = 812 } });
        var emma = await Browsing.SignInAsync(context, Portal, "me/surveys", "e1", Roles.Employee);
        await Expect(emma.GetByTestId("my-surveys")).ToContainTextAsync("Sales pulse");
        await emma.GetByRole(AriaRole.Link, new() { Name = "Sales pulse" }).ClickAsync();
        var first = emma.GetByRole(AriaRole.Radiogroup, new() { Name = "We put the customer's problem first." });
        await first.GetByLabel("Agree", new() { Exact = true }).CheckAsync();
        await emma.GetByLabel("Comment on Customer focus (optional)").FillAsync("We could call back sooner.");
        await emma.GetByRole(AriaRole.Button, new() { Name = "Save", Exact = true }).ClickAsync();
        await Expect(emma.GetByTestId("survey-done")).ToHaveTextAsync("Saved. You can come back and finish later.");
        (await emma.EvaluateAsync<int>("document.documentElement.scrollWidth")).ShouldBeLessThanOrEqualTo(375);

        // Back later: the draft is there; submitted once, then refused.
        await emma.ReloadAsync();
        await Expect(emma.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
        await Expect(first.GetByLabel("Agree", new() { Exact = true })).ToBeCheckedAsync();
        await Expect(emma.GetByLabel("Comment on Customer focus (optional)")).ToHaveValueAsync("We could call back sooner.");
        await emma.GetByRole(AriaRole.Radiogroup, new() { Name = "I can say what I think without fear." }).GetByLabel("Strongly agree").CheckAsync();
        await emma.GetByRole(AriaRole.Button, new() { Name = "Submit", Exact = true }).ClickAsync();
        await Expect(emma.GetByTestId("survey-done")).ToContainTextAsync("Submitted.");
        await emma.KeepScreenshotAsync("employee-survey-submitted");
        await emma.ReloadAsync();
        await Expect(emma.GetByTestId("survey-answered")).ToBeVisibleAsync();
        (await TestSupport.TestSql.ScalarAsync(_system.Baselines.Database, "SELECT count(*) FROM survey_answers WHERE assessment_id = 'survey-sales'", Ct)).ShouldBe(1);
    }
}
