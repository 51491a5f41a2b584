using Microsoft.Playwright;
using Transformation.Baselines.V1;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>The survey results page: scores, change and heatmap for any group, under the Baselines service's anonymity rules.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task HrReadsTheLatestResultsWithTheirChangeAndHeatmap()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "results?assessment=pulse-autumn", Seed.Hr, Roles.Hr);

        // The autumn pulse for Acme (the organisation, by default), against the assessment before it (the spring baseline).
        await Expect(page.Locator("#scores-heading")).ToHaveTextAsync("Acme with its sub-units");
        var openness = page.GetByTestId("scores").GetByRole(AriaRole.Row, new() { NameRegex = Browsing.Text("^Openness") });
        await Expect(openness).ToContainTextAsync("12");
        await Expect(openness).ToContainTextAsync(Browsing.Text("\\+0\\.\\d\\d since baseline-spring \\(significant, p = 0\\.\\d{3}\\)"));
        await Expect(page.Locator("svg[data-chart=scores]")).ToContainTextAsync("Compared with");
        await Expect(page.Locator("svg[data-chart=results-heatmap]")).ToContainTextAsync("Support");
        await page.KeepScreenshotAsync("hr-survey-results");
    }

    [Fact]
    public async Task TheResultsPageNeverRevealsAGroupBelowTheMinimumNotEvenByDifferencing()
    {
        // Sales: 6 respondents (4 with tenure 0-2, 2 with 10+); Support: 2, below the portal's minimum of 3. Closed long ago,
        // so that it is no unit's latest measurement.
        var hr = _system.Token(Seed.Hr, Roles.Hr);
        var baselines = new Seed.ServiceCalls(_system.Baselines.Client, BaselinesReflection.Descriptor.Services[0]);
        ResponseRow Row(string token, string unit, int answer, string tenure, string comment) =>
            new() { RespondentToken = token, OrgUnitId = unit, TenureBand = tenure, Answers = { answer, answer }, Comment = comment };
        await Seed.SurveyAsync(baselines, hr, "small-groups", AssessmentKind.Pulse, DateTimeOffset.UtcNow.AddDays(-320), DateTimeOffset.UtcNow.AddDays(-300),
            ["sales", "support"],
        [
            .. Enumerable.Range(0, 4).Select(i => Row($"s{i}", "sales", 4, "0-2", i == 0 ? "Sales hears us." : "")),
            Row("s4", "sales", 3, "10+", ""), Row("s5", "sales", 3, "10+", ""),
            Row("t0", "support", 1, "10+", "My manager ignores me."), Row("t1", "support", 2, "10+", ""),
        ], Ct);

        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "results?assessment=small-groups", Seed.Hr, Roles.Hr);
        var shown = new List<(string Text, bool Figures)>();

        async Task<bool> ShowsFiguresAsync(string query, string group)
        {
            await page.OpenAsync(Portal, "results?assessment=small-groups" + query);
            await Expect(page.Locator("#scores-heading")).ToHaveTextAsync(group); // this group's answer has arrived, not the last one's
            var figures = await page.GetByTestId("group-hidden").CountAsync() == 0;
            shown.Add((await page.Locator("main").InnerTextAsync(), figures));
            return figures;
        }

        (await ShowsFiguresAsync("&unit=support", "Support with its sub-units")).ShouldBeFalse();
        await Expect(page.GetByTestId("comments-hidden")).ToBeVisibleAsync();
        (await ShowsFiguresAsync("&unit=sales&tenure=10%2B", "Sales with its sub-units, tenure 10+")).ShouldBeFalse();

        // Acme with its sub-units minus Sales would be Support's two; Sales minus its tenure 0-2 would be the two of 10+.
        var acme = await ShowsFiguresAsync("", "Acme with its sub-units");
        var sales = await ShowsFiguresAsync("&unit=sales", "Sales with its sub-units");
        var salesShort = await ShowsFiguresAsync("&unit=sales&tenure=0-2", "Sales with its sub-units, tenure 0-2");
        (acme && sales).ShouldBeFalse();
        (sales && salesShort).ShouldBeFalse();
        (acme || sales || salesShort).ShouldBeTrue("a group large enough and not derivable shows its figures");

        // The heatmap under Acme: Support's cells carry no figure.
        await page.OpenAsync(Portal, "results?assessment=small-groups");
        await Expect(page.Locator("svg[data-chart=results-heatmap]")).ToContainTextAsync("Support");
        var cells = await page.Locator("svg[data-chart=results-heatmap] rect")
            .EvaluateAllAsync<string[]>("rects => rects.map(r => (r.getAttribute('class') ?? '') + '|' + r.textContent)");
        var supportCells = cells.Where(c => c.Contains("|Support, ", StringComparison.Ordinal)).ToList();
        supportCells.Count.ShouldBe(2); // one per dimension
        supportCells.ShouldAllBe(c => c.StartsWith("suppressed|", StringComparison.Ordinal) && c.Contains("n < 3"));
        await page.KeepScreenshotAsync("hr-survey-results-small-groups");

        // A comment shows only with a group large enough (Acme's eight), never with the unit that would narrow it to Support's two.
        shown.Where(s => !s.Figures).ShouldAllBe(s => !s.Text.Contains("ignores me"));
        shown.ShouldAllBe(s => !s.Text.Contains("ignores me. (Support)") && !s.Text.Contains("1.50")); // nor Support's mean
    }

    [Fact]
    public async Task AnEmployeeSeesTheInitiativesReachingTheirUnitAndTheScoresHrPublishes()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var emma = await Browsing.SignInAsync(context, Portal, "", "e1", Roles.Employee);
        var customerFirst = emma.GetByTestId("our-initiatives").Locator("article").Filter(new() { HasText = "Customer first" });
        await Expect(customerFirst).ToContainTextAsync("Own every customer problem end to end.");
        await Expect(customerFirst).ToContainTextAsync(Browsing.Text("Customers helped[^:]*:\\s+\\d+ of 10"));
        await Expect(emma.GetByTestId("our-scores")).ToBeVisibleAsync();

        // HR publishes the autumn pulse; the organisation's scores (and only those) appear on every employee's home page.
        await using var hrContext = await _system.Browser.NewContextAsync();
        var hana = await Browsing.SignInAsync(hrContext, Portal, "hr?assessment=pulse-autumn", Seed.Hr, Roles.Hr);
        var publish = hana.GetByRole(AriaRole.Button, new() { Name = "Publish the scores to everyone" });
        var published = hana.GetByText("Scores are published.");
        await Expect(publish.Or(published)).ToBeVisibleAsync(); // the assessment has loaded (another journey may have published it)
        if (await publish.IsVisibleAsync())
        {
            await publish.ClickAsync();
        }

        await Expect(published).ToBeVisibleAsync();
        await emma.ReloadAsync();
        var chart = emma.Locator("svg[data-chart=our-scores]");
        await Expect(chart).ToContainTextAsync("Customer focus");
        await Expect(chart).ToContainTextAsync("3.67");
        await Expect(emma.GetByTestId("our-scores")).ToContainTextAsync("the whole of Acme");
        await emma.KeepScreenshotAsync("employee-home-initiatives-and-scores");
    }
}
