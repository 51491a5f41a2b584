using Microsoft.Playwright;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>Issue 24: hr sets a pulse on a recurrence on /hr/surveys, and stops it.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task HrSetsARecurringPulseSeesItsNextOpeningAndStopsIt()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var hr = await Browsing.SignInAsync(context, Portal, "hr/surveys", Seed.Hr, Roles.Hr);
        var form = hr.Locator("details", new() { Has = hr.GetByText("Set a recurring pulse", new() { Exact = true }) });
        await form.GetByText("Set a recurring pulse", new() { Exact = true }).ClickAsync();

        // Nothing chosen: each missing field is named, nothing is set.
        await form.GetByLabel("Title").FillAsync("Quarterly sales pulse");
        await form.GetByRole(AriaRole.Button, new() { Name = "Set the recurring pulse" }).ClickAsync();
        await Expect(form).ToContainTextAsync("At least one org unit.");
        await Expect(form).ToContainTextAsync("At least one item, each once.");
        await Expect(hr.GetByTestId("recurrences")).ToHaveCountAsync(0);

        await form.GetByLabel("Every").FillAsync("1");
        await form.GetByLabel("Period").SelectOptionAsync("Quarters");
        await form.GetByLabel("Sales", new() { Exact = true }).CheckAsync();
        await form.GetByLabel("We put the customer's problem first.").CheckAsync();
        await form.GetByRole(AriaRole.Button, new() { Name = "Set the recurring pulse" }).ClickAsync();
        await Expect(hr.GetByTestId("recurrence-done")).ToContainTextAsync("\"Quarterly sales pulse\" first opens on");
        var row = hr.GetByTestId("recurrences").GetByRole(AriaRole.Row, new() { NameRegex = Browsing.Text("^Quarterly sales pulse") });
        await Expect(row).ToContainTextAsync("1 quarter");
        await hr.KeepScreenshotAsync("hr-recurring-pulse");

        await row.GetByRole(AriaRole.Button, new() { Name = "Stop Quarterly sales pulse" }).ClickAsync();
        await Expect(hr.GetByTestId("recurrence-done")).ToContainTextAsync("opens no more surveys");
        await Expect(row).ToContainTextAsync("Stopped");
    }
}
