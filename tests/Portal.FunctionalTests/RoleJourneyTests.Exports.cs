using Microsoft.Playwright;
using Transformation.Baselines.V1;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Portal.FunctionalTests;

/// <summary>The results page's downloads: the aggregate results as CSV, with no group the page would hide.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task AnExecutiveDownloadsTheResultsAsCsvWithoutTheGroupsTooSmallToShow()
    {
        // Sales: 6 respondents; Support: 2, below the portal's minimum of 3. Closed long ago (no unit's latest measurement).
        var hr = _system.Token(Seed.Hr, Roles.Hr);
        var baselines = new Seed.ServiceCalls(_system.Baselines.Client, BaselinesReflection.Descriptor.Services[0]);
        await Seed.SurveyAsync(baselines, hr, "export-groups", AssessmentKind.Pulse, DateTimeOffset.UtcNow.AddDays(-340), DateTimeOffset.UtcNow.AddDays(-330),
            ["sales", "support"],
            [
                .. Enumerable.Range(0, 6).Select(i => new ResponseRow { RespondentToken = $"x{i}", OrgUnitId = "sales", Answers = { 4, 3 + i % 3 } }),
                .. Enumerable.Range(0, 2).Select(i => new ResponseRow { RespondentToken = $"y{i}", OrgUnitId = "support", Answers = { 1, 2 } }),
            ], Ct);

        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "results?assessment=export-groups", Seed.Executive, Roles.Executive);
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByTestId("results-download").GetByRole(AriaRole.Link, new() { Name = "CSV" }).ClickAsync());
        download.SuggestedFilename.ShouldBe("export-groups-results.csv");
        var lines = (await File.ReadAllLinesAsync(await download.PathAsync(), Ct)).Where(l => l.Length > 0).Select(l => l.Split(',')).ToList();
        lines[0][0].ShouldBe("org_unit_id");

        // Acme (8) less Sales (6) would be Support's two: one of them is hidden as well; Support never shows.
        var groups = lines.Skip(1).Select(l => $"{l[0]}:{l[4]}").Distinct(StringComparer.Ordinal).ToList();
        groups.Count.ShouldBe(1);
        groups.ShouldBeSubsetOf(["acme:8", "sales:6"]);
        lines.Count.ShouldBe(3); // the header and the group's two dimensions

        // The file is the page's: someone who may not read the results page gets no file either.
        await using var employeeContext = await _system.Browser.NewContextAsync();
        var employee = await Browsing.SignInAsync(employeeContext, Portal, "", "e1", Roles.Employee);
        var refused = await employee.APIRequest.GetAsync(new Uri(Portal, "results/export?assessment=export-groups&format=csv").ToString(),
            new() { MaxRedirects = 0 });
        refused.Ok.ShouldBeFalse();
        (await refused.TextAsync()).ShouldNotContain("sales");
    }
}
