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
        // Two units of its own (other journeys add people to the seeded ones): Field with 3 people, the portal's minimum group,
        // and Studio with 2.
        var hrToken = _system.Token(Seed.Hr, Roles.Hr);
        var directory = new Seed.ServiceCalls(_system.Directory.Client, DirectoryReflection.Descriptor.Services[0]);
        foreach (var (id, name) in new[] { ("field", "Field"), ("studio", "Studio") })
        {
            await directory.Call<UpsertOrgUnitRequest, UpsertOrgUnitResponse>("UpsertOrgUnit", new UpsertOrgUnitRequest
            {
                IdempotencyKey = "unit-" + id, OrgUnitId = id, Name = name, ParentId = Seed.Root, Kind = OrgUnitKind.Department,
            }, hrToken, Ct);
        }

        foreach (var (id, name, unit) in new[]
        {
            ("f1", "Fay Ford", "field"), ("f2", "Finn Fox", "field"), ("f3", "Flo Frost", "field"), ("t1", "Tia Todd", "studio"), ("t2", "Tom Tate", "studio"),
        })
        {
            await directory.Call<UpsertEmployeeRequest, UpsertEmployeeResponse>("UpsertEmployee", new UpsertEmployeeRequest
            {
                IdempotencyKey = "person-" + id, EmployeeId = id, DisplayName = name, Email = id + "@acme.test", OrgUnitId = unit,
                ManagerId = Seed.Executive, Active = true, Roles = { Role.Employee },
            }, hrToken, Ct);
        }

        await TestSupport.TestSql.WaitUntilAsync(_system.Baselines.Database,
            "SELECT count(*) FROM employees WHERE org_unit_id IN ('field', 'studio') AND email <> ''", 5, Ct);

        // HR opens the pulse for Field and Studio.
        await using var hrContext = await _system.Browser.NewContextAsync();
        var hr = await Browsing.SignInAsync(hrContext, Portal, "hr/surveys", Seed.Hr, Roles.Hr);
        var open = Browsing.OpenSurveyForm(hr);
        await open.Locator("summary", new() { HasText = "Open a survey" }).ClickAsync();
        await open.GetByLabel("Title").FillAsync("Spring pulse");
        await open.GetByLabel("Field", new() { Exact = true }).CheckAsync();
        await open.GetByLabel("Studio", new() { Exact = true }).CheckAsync();
        await open.GetByLabel("We put the customer's problem first.").CheckAsync();
        await open.GetByLabel("I can say what I think without fear.").CheckAsync();
        await open.GetByRole(AriaRole.Button, new() { Name = "Open the survey" }).ClickAsync();
        await Expect(hr.GetByTestId("survey-done")).ToHaveTextAsync("Opened: 5 people invited; their invitations are on their way.");

        // Each invitee's invitation arrives with a link to the survey's answering page on the portal.
        string[] invitees = ["f1", "f2", "f3", "t1", "t2"];
        var invitations = await InvitationsAsync("Spring pulse", invitees);
        var links = invitations.ToDictionary(m => m.To.Mailboxes.Single().Address, m => LinkIn(m), StringComparer.Ordinal);
        links.Values.Distinct().ShouldHaveSingleItem();
        var link = links["f1@acme.test"];
        link.ToString().ShouldStartWith($"{Portal}me/surveys/");
        var path = link.AbsolutePath.TrimStart('/');

        // Fay follows her link, saves, comes back and submits.
        await using (var context = await _system.Browser.NewContextAsync())
        {
            var fay = await Browsing.SignInAsync(context, Portal, path, "f1", Roles.Employee);
            await Expect(fay.GetByRole(AriaRole.Heading, new() { Name = "Spring pulse" })).ToBeVisibleAsync();
            await fay.GetByRole(AriaRole.Radiogroup, new() { Name = "We put the customer's problem first." }).GetByLabel("Agree", new() { Exact = true }).CheckAsync();
            await fay.GetByRole(AriaRole.Button, new() { Name = "Save", Exact = true }).ClickAsync();
            await Expect(fay.GetByTestId("survey-done")).ToHaveTextAsync("Saved. You can come back and finish later.");
            await fay.GotoAsync(link.ToString());
            await Expect(fay.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
            await Expect(fay.GetByRole(AriaRole.Radiogroup, new() { Name = "We put the customer's problem first." }).GetByLabel("Agree", new() { Exact = true })).ToBeCheckedAsync();
            await fay.GetByRole(AriaRole.Radiogroup, new() { Name = "I can say what I think without fear." }).GetByLabel("Strongly agree").CheckAsync();
            await fay.GetByRole(AriaRole.Button, new() { Name = "Submit", Exact = true }).ClickAsync();
            await Expect(fay.GetByTestId("survey-done")).ToContainTextAsync("Submitted.");
        }

        // Finn has the survey open twice: the second submission is refused.
        await using (var context = await _system.Browser.NewContextAsync())
        {
            var finn = await Browsing.SignInAsync(context, Portal, path, "f2", Roles.Employee);
            var again = await context.NewPageAsync();
            await again.GotoAsync(link.ToString());
            await Expect(again.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
            foreach (var page in new[] { finn, again })
            {
                await page.GetByRole(AriaRole.Radiogroup, new() { Name = "We put the customer's problem first." }).GetByLabel("Disagree", new() { Exact = true }).CheckAsync();
                await page.GetByRole(AriaRole.Radiogroup, new() { Name = "I can say what I think without fear." }).GetByLabel("Agree", new() { Exact = true }).CheckAsync();
            }

            // The first tab's answer is in before the second tab submits (a click does not wait for the server).
            await finn.GetByRole(AriaRole.Button, new() { Name = "Submit", Exact = true }).ClickAsync();
            await Expect(finn.GetByTestId("survey-done")).ToContainTextAsync("Submitted.");
            await again.GetByRole(AriaRole.Button, new() { Name = "Submit", Exact = true }).ClickAsync();
            await Expect(again.GetByRole(AriaRole.Alert)).ToHaveTextAsync("You have answered the survey \"Spring pulse\" already: it is answered once.");
        }

        // Tia, in Studio, answers too.
        await using (var context = await _system.Browser.NewContextAsync())
        {
            var tia = await Browsing.SignInAsync(context, Portal, links["t1@acme.test"].AbsolutePath.TrimStart('/'), "t1", Roles.Employee);
            await tia.GetByRole(AriaRole.Radiogroup, new() { Name = "We put the customer's problem first." }).GetByLabel("Strongly agree").CheckAsync();
            await tia.GetByRole(AriaRole.Radiogroup, new() { Name = "I can say what I think without fear." }).GetByLabel("Agree", new() { Exact = true }).CheckAsync();
            await tia.GetByRole(AriaRole.Button, new() { Name = "Submit", Exact = true }).ClickAsync();
            await Expect(tia.GetByTestId("survey-done")).ToContainTextAsync("Submitted.");
        }

        // The response rate shows for Field (3 invited), not for Studio (2).
        await hr.ReloadAsync();
        await Expect(hr.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
        var rates = hr.GetByTestId("response-rates");
        await Expect(rates.GetByRole(AriaRole.Row, new() { NameRegex = Browsing.Text("^Field") })).ToHaveTextAsync(Browsing.Text("Field\\s*3\\s*2\\s*67\\s?%"));
        await Expect(rates.GetByRole(AriaRole.Row, new() { NameRegex = Browsing.Text("^Studio") })).ToHaveTextAsync(Browsing.Text("Studio\\s*Too few to show"));
        await hr.KeepScreenshotAsync("hr-survey-response-rates");

        // A reminder now reaches exactly those who have not answered: Flo and Tom.
        await hr.GetByRole(AriaRole.Button, new() { Name = "Send a reminder now" }).ClickAsync();
        await Expect(hr.GetByTestId("survey-done")).ToHaveTextAsync("A reminder is on its way to the 2 people who have not answered yet.");
        await _system.Smtp.WaitForAsync(all => Reminders(all).Count >= 2, Ct);
        await TestSupport.TestSql.WaitUntilAsync(_system.Baselines.Database, "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL", 0, Ct);
        var reminders = Reminders(_system.Smtp.Messages());
        reminders.Select(m => m.To.Mailboxes.Single().Address).Order(StringComparer.Ordinal).ShouldBe(["f3@acme.test", "t2@acme.test"]);
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
