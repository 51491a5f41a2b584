using Microsoft.Playwright;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>Step 5 for employees: a concern reported privately reaches HR one by one, and nobody else.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task AnEmployeeReportsAConcernThatHrAloneSeesAndNotThePersonReportedNorTheirManager()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var emma = await Browsing.SignInAsync(context, Portal, "behaviours", "e1", Roles.Employee);
        await Expect(emma.GetByTestId("called-out-note")).ToContainTextAsync("only HR reads a report, the person named is never told who reported it");
        await emma.GetByRole(AriaRole.Link, new() { Name = "Report a concern", Exact = true }).First.ClickAsync();
        await Expect(emma.GetByRole(AriaRole.Heading, new() { Name = "Report a concern" })).ToBeVisibleAsync();

        // Checked before sending, by the field.
        await emma.GetByRole(AriaRole.Button, new() { Name = "Send the report to HR" }).ClickAsync();
        await Expect(emma.GetByRole(AriaRole.Alert).Filter(new() { HasText = "Nothing was sent: correct the marked fields first." })).ToBeVisibleAsync();
        await Expect(emma.Locator("#problem-employee_id")).ToHaveTextAsync("Name the person the concern is about.");
        await Expect(emma.Locator("#problem-behaviour_id")).ToHaveTextAsync("Choose the behaviour.");
        await Expect(emma.Locator("#problem-what_happened")).ToHaveTextAsync("Say what happened.");

        await emma.Locator("#concern-person").PressSequentiallyAsync("Eli G");
        await emma.GetByRole(AriaRole.Button, new() { Name = "Add Eli Grant" }).ClickAsync();
        await emma.GetByLabel("Which behaviour").SelectOptionAsync(new SelectOptionValue { Label = "Blames others" });
        await emma.GetByLabel("What happened").FillAsync("Told the customer the outage was the new hire's fault.");
        await emma.GetByRole(AriaRole.Button, new() { Name = "Send the report to HR" }).ClickAsync();
        await Expect(emma.GetByTestId("concern-done")).ToHaveTextAsync(
            "Sent: your concern about Eli Grant is with HR. Only HR reads it; Eli Grant is not told who reported it.");
        await emma.KeepScreenshotAsync("employee-concern-sent");

        // HR reads it one by one, with its reporter, once it has reached Incentives as a call-out.
        await using var hrContext = await _system.Browser.NewContextAsync();
        var hr = await Browsing.SignInAsync(hrContext, Portal, "hr/concerns", Seed.Hr, Roles.Hr);
        var report = hr.GetByTestId("call-outs").Locator("li").Filter(new() { HasText = "new hire's fault" });
        for (var attempt = 0; attempt < 30 && await report.CountAsync() == 0; attempt++)
        {
            await Task.Delay(1000, Ct);
            await hr.ReloadAsync();
            await Expect(hr.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
        }

        await Expect(report).ToContainTextAsync("Eli Grant (Support): Blames others");
        await Expect(report).ToContainTextAsync("A colleague (Emma Stone) on");
        await hr.KeepScreenshotAsync("hr-call-outs-one-by-one");

        // A call-out, never a reward: Incentives decided it with no points.
        const string Decided = "SELECT count(*) FROM outcomes WHERE employee_id = 'e4' AND giver_id = 'e1' AND evidence LIKE '%new hire''s fault%'";
        (await TestSupport.TestSql.ScalarAsync(_system.Incentives.Database, Decided, Ct)).ShouldBe(1);
        (await TestSupport.TestSql.ScalarAsync(_system.Incentives.Database, Decided + " AND (status <> 4 OR points <> 0)", Ct)).ShouldBe(0);

        // Neither Eli nor his manager reads it: the page is HR's, and Eli's own page shows no reward and no reporter.
        foreach (var (person, roles) in new[] { ("e4", new[] { Roles.Employee }), (Seed.Executive, new[] { Roles.Executive, Roles.Employee }) })
        {
            await using var other = await _system.Browser.NewContextAsync();
            var page = await Browsing.SignInAsync(other, Portal, "hr/concerns", person, roles);
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Not for your role" })).ToBeVisibleAsync();
            await Expect(page.Locator("main")).Not.ToContainTextAsync("new hire's fault");
        }

        await using var eliContext = await _system.Browser.NewContextAsync();
        var eli = await Browsing.SignInAsync(eliContext, Portal, "me", "e4", Roles.Employee);
        await Expect(eli.Locator("main")).Not.ToContainTextAsync("Emma Stone");
        await Expect(eli.Locator("main")).Not.ToContainTextAsync("Blames others");
        await Expect(eli.Locator("main")).Not.ToContainTextAsync("new hire's fault");
        await Expect(eli.GetByTestId("no-recognition")).ToBeVisibleAsync();
    }
}
