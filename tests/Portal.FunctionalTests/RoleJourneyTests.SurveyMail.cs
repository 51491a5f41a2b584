using System.Text.RegularExpressions;
using Microsoft.Playwright;
using MimeKit;
using Transformation.Directory.V1;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>Issue 24, acceptance 1: a pulse opened by HR in the portal, invitations and a reminder by mail, answers, rates, close, results.</summary>
public sealed partial class RoleJourneyTests
{
    private static string Body(MimeMessage message) => message.TextBody ?? "";

    [Fact]
    public async Task HrOpensAPulseForTwoUnitsTheInviteesAnswerFromTheirMailAReminderReachesOnlyTheRestAndTheResultsShowAfterClose()
    {
        // Partners gets two people: fewer than the portal's minimum group of 3, while Sales has 3 (cm-1, e1, e2).
        var directory = new Seed.ServiceCalls(_system.Directory.Client, DirectoryReflection.Descriptor.Services[0]);
        foreach (var (id, name) in new[] { ("p1", "Pia Park"), ("p2", "Paul Pine") })
        {
            await directory.Call<UpsertEmployeeRequest, UpsertEmployeeResponse>("UpsertEmployee", new UpsertEmployeeRequest
            {
                IdempotencyKey = "person-" + id, EmployeeId = id, DisplayName = name, Email = id + "@acme.test", OrgUnitId = "partners",
                ManagerId = Seed.Executive, Active = true, Roles = { Role.Employee },
            }, _system.Token(Seed.Hr, Roles.Hr), Ct);
        }

        await TestSupport.TestSql.WaitUntilAsync(_system.Baselines.Database, "SELECT count(*) FROM employees WHERE org_unit_id = 'partners' AND email <> ''", 2, Ct);

        // HR opens the pulse for Sales and Partners.
        await using var hrContext = await _system.Browser.NewContextAsync();
        var hr = await Browsing.SignInAsync(hrContext, Portal, "hr/surveys", Seed.Hr, Roles.Hr);
        await hr.GetByText("Open a survey").ClickAsync();
        await hr.GetByLabel("Title").FillAsync("Spring pulse");
        await hr.GetByLabel("Sales", new() { Exact = true }).CheckAsync();
        await hr.GetByLabel("Partners", new() { Exact = true }).CheckAsync();
        await hr.GetByLabel("We put the customer's problem first.").CheckAsync();
        await hr.GetByLabel("I can say what I think without fear.").CheckAsync();
        await hr.GetByRole(AriaRole.Button, new() { Name = "Open the survey" }).ClickAsync();
        await Expect(hr.GetByTestId("survey-done")).ToHaveTextAsync("Opened: 5 people invited; their invitations are on their way.");

        // Each invitee's invitation arrives with a link to the survey's answering page on the portal.
        string[] invitees = ["cm-1", "e1", "e2", "p1", "p2"];
        var invitations = await InvitationsAsync("Spring pulse", invitees);
        var links = invitations.ToDictionary(m => m.To.Mailboxes.Single().Address, m => LinkIn(m), StringComparer.Ordinal);
        links.Values.Distinct().ShouldHaveSingleItem();
        var link = links["e1@acme.test"];
        link.ToString().ShouldStartWith($"{Portal}me/surveys/");
        var path = link.AbsolutePath.TrimStart('/');

        // Emma follows her link, saves, comes back and submits.
        await using (var context = await _system.Browser.NewContextAsync())
        {
            var emma = await Browsing.SignInAsync(context, Portal, path, "e1", Roles.Employee);
            await Expect(emma.GetByRole(AriaRole.Heading, new() { Name = "Spring pulse" })).ToBeVisibleAsync();
            await emma.GetByRole(AriaRole.Radiogroup, new() { Name = "We put the customer's problem first." }).GetByLabel("Agree", new() { Exact = true }).CheckAsync();
            await emma.GetByRole(AriaRole.Button, new() { Name = "Save", Exact = true }).ClickAsync();
            await Expect(emma.GetByTestId("survey-done")).ToHaveTextAsync("Saved. You can come back and finish later.");
            await emma.GotoAsync(link.ToString());
            await Expect(emma.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
            await Expect(emma.GetByRole(AriaRole.Radiogroup, new() { Name = "We put the customer's problem first." }).GetByLabel("Agree", new() { Exact = true })).ToBeCheckedAsync();
            await emma.GetByRole(AriaRole.Radiogroup, new() { Name = "I can say what I think without fear." }).GetByLabel("Strongly agree").CheckAsync();
            await emma.GetByRole(AriaRole.Button, new() { Name = "Submit", Exact = true }).ClickAsync();
            await Expect(emma.GetByTestId("survey-done")).ToContainTextAsync("Submitted.");
        }

        // Erik has the survey open twice: the second submission is refused.
        await using (var context = await _system.Browser.NewContextAsync())
        {
            var erik = await Browsing.SignInAsync(context, Portal, path, "e2", Roles.Employee);
            var again = await context.NewPageAsync();
            await again.GotoAsync(link.ToString());
            await Expect(again.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
            foreach (var page in new[] { erik, again })
            {
                await page.GetByRole(AriaRole.Radiogroup, new() { Name = "We put the customer's problem first." }).GetByLabel("Disagree", new() { Exact = true }).CheckAsync();
                await page.GetByRole(AriaRole.Radiogroup, new() { Name = "I can say what I think without fear." }).GetByLabel("Agree", new() { Exact = true }).CheckAsync();
                await page.GetByRole(AriaRole.Button, new() { Name = "Submit", Exact = true }).ClickAsync();
            }

            await Expect(erik.GetByTestId("survey-done")).ToContainTextAsync("Submitted.");
            await Expect(again.GetByRole(AriaRole.Alert)).ToContainTextAsync("answered once");
        }

        // Pia, in Partners, answers too.
        await using (var context = await _system.Browser.NewContextAsync())
        {
            var pia = await Browsing.SignInAsync(context, Portal, links["p1@acme.test"].AbsolutePath.TrimStart('/'), "p1", Roles.Employee);
            await pia.GetByRole(AriaRole.Radiogroup, new() { Name = "We put the customer's problem first." }).GetByLabel("Strongly agree").CheckAsync();
            await pia.GetByRole(AriaRole.Radiogroup, new() { Name = "I can say what I think without fear." }).GetByLabel("Agree", new() { Exact = true }).CheckAsync();
            await pia.GetByRole(AriaRole.Button, new() { Name = "Submit", Exact = true }).ClickAsync();
            await Expect(pia.GetByTestId("survey-done")).ToContainTextAsync("Submitted.");
        }

        // The response rate shows for Sales (3 invited), not for Partners (2).
        await hr.ReloadAsync();
        await Expect(hr.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
        var rates = hr.GetByTestId("response-rates");
        await Expect(rates.GetByRole(AriaRole.Row, new() { NameRegex = Browsing.Text("^Sales") })).ToHaveTextAsync(Browsing.Text("Sales\\s*3\\s*2\\s*67\\s?%"));
        await Expect(rates.GetByRole(AriaRole.Row, new() { NameRegex = Browsing.Text("^Partners") })).ToHaveTextAsync(Browsing.Text("Partners\\s*Too few to show"));
        await hr.KeepScreenshotAsync("hr-survey-response-rates");

        // A reminder now reaches exactly those who have not answered: Carl and Paul.
        await hr.GetByRole(AriaRole.Button, new() { Name = "Send a reminder now" }).ClickAsync();
        await Expect(hr.GetByTestId("survey-done")).ToHaveTextAsync("A reminder is on its way to the 2 people who have not answered yet.");
        await _system.Smtp.WaitForAsync(all => Reminders(all).Count >= 2, Ct);
        await TestSupport.TestSql.WaitUntilAsync(_system.Baselines.Database, "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL", 0, Ct);
        var reminders = Reminders(_system.Smtp.Messages());
        reminders.Select(m => m.To.Mailboxes.Single().Address).Order(StringComparer.Ordinal).ShouldBe(["cm-1@acme.test", "p2@acme.test"]);
        reminders.ShouldAllBe(m => LinkIn(m) == link);

        // HR closes it early; the results show.
        await hr.GetByRole(AriaRole.Button, new() { Name = "Close the survey now" }).ClickAsync();
        await Expect(hr.GetByTestId("survey-done")).ToHaveTextAsync("Closed with 3 responses.");
        await hr.GetByRole(AriaRole.Link, new() { Name = "See the results" }).ClickAsync();
        await Expect(hr.GetByTestId("scores").GetByRole(AriaRole.Row, new() { NameRegex = Browsing.Text("^Openness") })).ToBeVisibleAsync();
        await hr.KeepScreenshotAsync("hr-survey-results-after-close");

        static List<MimeMessage> Reminders(IEnumerable<MimeMessage> all) =>
            [.. all.Where(m => (m.Subject ?? "").StartsWith("Reminder: Spring pulse", StringComparison.Ordinal))];
    }

    private async Task<List<MimeMessage>> InvitationsAsync(string title, string[] invitees)
    {
        var addresses = invitees.Select(i => i + "@acme.test").Order(StringComparer.Ordinal).ToList();
        var messages = await _system.Smtp.WaitForAsync(all => Invitations(all).Count >= addresses.Count, Ct);
        var invitations = Invitations(messages);
        invitations.Select(m => m.To.Mailboxes.Single().Address).Order(StringComparer.Ordinal).ShouldBe(addresses);
        return invitations;

        List<MimeMessage> Invitations(IEnumerable<MimeMessage> all) => [.. all.Where(m => (m.Subject ?? "").EndsWith(title, StringComparison.Ordinal))];
    }

    private static Uri LinkIn(MimeMessage message) => new(LinkPattern().Match(Body(message)).Value);

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+/me/surveys/[a-z0-9-]+", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex LinkPattern();
}
