using Google.Protobuf.WellKnownTypes;
using Microsoft.Playwright;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>
/// Step 4 of the method in the browser: a change manager proposes an initiative, edits its milestones, runs and completes
/// it, or cancels one after confirming; its sponsor sponsors it; those who may not are not offered the action. The
/// initiatives here are Felix Founder's to sponsor, in Sales, so the other journeys' initiatives stay as they are.
/// </summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task AChangeManagerProposesAnInitiativeEditsItsMilestonesAndCompletesItOnceSponsored()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "change/propose", Seed.ChangeManager, Roles.ChangeManager);

        // Checked before sending, each field in words.
        await page.GetByRole(AriaRole.Button, new() { Name = "Propose the initiative" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "Nothing was sent" })).ToHaveTextAsync("Nothing was sent: correct the marked fields first.");
        await Expect(page.Locator("#problem-initiative-name")).ToHaveTextAsync("Give the initiative a name.");
        await Expect(page.Locator("#problem-initiative-scope_org_unit_ids")).ToHaveTextAsync("Choose at least one unit the initiative covers.");
        await Expect(page.Locator("#problem-initiative-target_behaviour_ids")).ToHaveTextAsync("Choose at least one behaviour the initiative sets out to grow.");
        await Expect(page.Locator("#problem-initiative-sponsor_id")).ToHaveTextAsync("Name the executive who sponsors it.");
        await Expect(page.GetByTestId("milestones")).ToContainTextAsync("No milestone yet: add a goal first");

        await page.GetByLabel("Name of the initiative").FillAsync("Listening tours");
        await page.GetByLabel("Purpose").FillAsync("Leaders visit every team and hear what gets in the way of customers.");
        await page.GetByLabel("Sales", new() { Exact = true }).CheckAsync();
        await page.GetByLabel("Speaks openly", new() { Exact = true }).CheckAsync();
        await page.GetByLabel("Openness", new() { Exact = true }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Add a goal" }).ClickAsync();
        await page.GetByLabel("Goal 1: what it measures").FillAsync("Conversations held");
        await page.GetByLabel("Goal 1: target (number of observations)").FillAsync("20");
        await page.GetByLabel("Goal 1: target (number of observations)").BlurAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Add a milestone" }).ClickAsync();
        await page.GetByLabel("Milestone 1: name").FillAsync("First tour");
        await Expect(page.GetByLabel("Milestone 1: reached on the figure of")).ToHaveValueAsync("goal-1");
        await Expect(page.GetByLabel("Milestone 1: reached on the figure of").Locator("option:checked")).ToHaveTextAsync("Goal 1 (Conversations held)");
        await page.Locator("#sponsor-search").PressSequentiallyAsync("Felix");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add Felix Founder" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Propose the initiative" }).ClickAsync();
        await Expect(page.GetByTestId("propose-done")).ToContainTextAsync("Proposed: Listening tours waits for Felix Founder to sponsor it; then you start it.");

        // Its milestones edited: one renamed, one added; kept, as the page and the service show.
        await page.GetByRole(AriaRole.Link, new() { Name = "See it under My initiatives." }).ClickAsync();
        var card = page.GetByTestId("initiative").Filter(new() { HasText = "Listening tours" });
        await Expect(card.GetByTestId("waiting-for-sponsor")).ToHaveTextAsync("Waiting for Felix Founder to sponsor it; then you start it here.");
        await Expect(card.GetByRole(AriaRole.Button, new() { Name = "Complete the initiative" })).ToHaveCountAsync(0);
        await card.GetByText("Edit Listening tours").ClickAsync();
        await card.GetByLabel("Milestone 1: name").FillAsync("First tour done");
        await card.GetByRole(AriaRole.Button, new() { Name = "Add a milestone" }).ClickAsync();
        await card.GetByLabel("Milestone 2: name").FillAsync("All of Sales heard");
        await card.GetByLabel("Milestone 2: due on").FillAsync("2031-06-30");
        await card.GetByLabel("Milestone 2: reached at (number of observations)").FillAsync("25");
        await card.GetByLabel("Milestone 2: reached at (number of observations)").BlurAsync();
        await card.GetByRole(AriaRole.Button, new() { Name = "Save the changes" }).ClickAsync();
        // A milestone beyond its goal's figure is fine, but not beyond what a count can be; the goal's 20 is kept.
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Listening tours is saved.");
        await Expect(card).ToContainTextAsync("All of Sales heard, due 30 Jun 2031");
        await Expect(card).ToContainTextAsync("First tour done, due");
        var stored = await ListeningToursAsync();
        stored.Definition.Milestones.Select(m => m.Name).ShouldBe(["First tour done", "All of Sales heard"]);
        stored.Definition.Milestones[1].Target.ShouldBe(25);
        stored.Definition.Milestones[1].DueOn.ShouldBe(Timestamp.FromDateTime(new DateTime(2031, 6, 30, 0, 0, 0, DateTimeKind.Utc)));

        // Felix sponsors it; its change manager starts it, then completes it once they confirm.
        await using var sponsorContext = await _system.Browser.NewContextAsync();
        var sponsor = await Browsing.SignInAsync(sponsorContext, Portal, "executive/endorsements", Seed.SecondExecutive, Roles.Executive);
        await sponsor.GetByRole(AriaRole.Button, new() { Name = "Sponsor Listening tours" }).ClickAsync();
        await Expect(sponsor.GetByTestId("endorsement-done")).ToHaveTextAsync("You sponsor Listening tours; its change manager can start it now.");

        await page.ReloadAsync();
        await Expect(page.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
        await card.GetByRole(AriaRole.Button, new() { Name = "Start the initiative" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Listening tours is active.");
        await card.GetByRole(AriaRole.Button, new() { Name = "Complete the initiative" }).ClickAsync();
        await Expect(card.GetByTestId("confirm-close")).ToContainTextAsync("Complete Listening tours? It is closed as done");
        await card.GetByRole(AriaRole.Button, new() { Name = "Not yet" }).ClickAsync();
        (await ListeningToursAsync()).Status.ShouldBe(InitiativeStatus.Active);
        await card.GetByRole(AriaRole.Button, new() { Name = "Complete the initiative" }).ClickAsync();
        await card.GetByRole(AriaRole.Button, new() { Name = "Yes, complete Listening tours" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Listening tours is completed: its progress and stories stay.");
        await Expect(card.GetByTestId("closed")).ToContainTextAsync("Completed on");
        await Expect(card.GetByText("Edit Listening tours")).ToHaveCountAsync(0);
        await Expect(card.GetByRole(AriaRole.Button, new() { Name = "Cancel the initiative" })).ToHaveCountAsync(0);
        (await ListeningToursAsync()).Status.ShouldBe(InitiativeStatus.Completed);
        await page.KeepScreenshotAsync("change-manager-initiative-completed");
    }

    [Fact]
    public async Task AChangeManagerCancelsAnInitiativeOnlyAfterConfirming()
    {
        var id = await ProposeForFelixAsync("Quiet hours", Seed.ChangeManager, Roles.ChangeManager);
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "change", Seed.ChangeManager, Roles.ChangeManager);
        var card = page.GetByTestId("initiative").Filter(new() { HasText = "Quiet hours" });

        await card.GetByRole(AriaRole.Button, new() { Name = "Cancel the initiative" }).ClickAsync();
        await Expect(card.GetByTestId("confirm-close")).ToHaveTextAsync(Browsing.Text(
            "^Cancel Quiet hours\\? It stops for good: nobody can start, edit or complete it again\\. What it recorded stays\\."));
        await card.GetByRole(AriaRole.Button, new() { Name = "Keep it" }).ClickAsync();
        await Expect(card.GetByTestId("confirm-close")).ToHaveCountAsync(0);
        (await GetInitiativeAsync(id)).Status.ShouldBe(InitiativeStatus.Proposed);

        await card.GetByRole(AriaRole.Button, new() { Name = "Cancel the initiative" }).ClickAsync();
        await card.GetByRole(AriaRole.Button, new() { Name = "Yes, cancel Quiet hours" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Quiet hours is cancelled: what it recorded stays.");
        await Expect(card.GetByTestId("closed")).ToContainTextAsync("Cancelled on");
        (await GetInitiativeAsync(id)).Status.ShouldBe(InitiativeStatus.Cancelled);
        await page.KeepScreenshotAsync("change-manager-initiative-cancelled");
    }

    [Fact]
    public async Task OnlyThoseTheServiceAllowsAreOfferedToProposeCancelOrCompleteAnInitiative()
    {
        // HR proposes one for a change manager they name; it is the change manager's to run.
        await using var hrContext = await _system.Browser.NewContextAsync();
        var hr = await Browsing.SignInAsync(hrContext, Portal, "hr", Seed.Hr, Roles.Hr);
        await hr.GetByRole(AriaRole.Link, new() { Name = "Propose an initiative" }).ClickAsync();
        await hr.GetByLabel("Name of the initiative").FillAsync("Lunch and learn");
        await hr.GetByLabel("Purpose").FillAsync("Colleagues teach each other over lunch.");
        await hr.GetByLabel("Sales", new() { Exact = true }).CheckAsync();
        await hr.GetByLabel("Speaks openly", new() { Exact = true }).CheckAsync();
        await hr.Locator("#sponsor-search").PressSequentiallyAsync("Felix");
        await hr.GetByRole(AriaRole.Button, new() { Name = "Add Felix Founder" }).ClickAsync();
        await hr.GetByRole(AriaRole.Button, new() { Name = "Propose the initiative" }).ClickAsync();
        await Expect(hr.Locator("#problem-initiative-change_manager_id")).ToHaveTextAsync("Name the change manager who runs it.");
        await hr.Locator("#manager-search").PressSequentiallyAsync("Carl");
        await hr.GetByRole(AriaRole.Button, new() { Name = "Add Carl Changer" }).ClickAsync();
        await hr.GetByRole(AriaRole.Button, new() { Name = "Propose the initiative" }).ClickAsync();
        await Expect(hr.GetByTestId("propose-done")).ToHaveTextAsync("Proposed: Lunch and learn waits for Felix Founder to sponsor it; then Carl Changer starts it.");

        // Its sponsor may cancel it (after confirming), an executive who does not sponsor it is offered nothing, and no
        // executive is offered to complete or edit an initiative.
        await using var eveContext = await _system.Browser.NewContextAsync();
        var eva = await Browsing.SignInAsync(eveContext, Portal, "executive/initiatives", Seed.Executive, Roles.Executive);
        await Expect(eva.GetByRole(AriaRole.Row, new() { NameRegex = Browsing.Text("^Lunch and learn") })).ToBeVisibleAsync();
        await Expect(eva.GetByRole(AriaRole.Button, new() { Name = "Cancel Lunch and learn" })).ToHaveCountAsync(0);
        await Expect(eva.GetByRole(AriaRole.Button, new() { Name = "Cancel Customer first" })).ToBeVisibleAsync();

        await using var felixContext = await _system.Browser.NewContextAsync();
        var felix = await Browsing.SignInAsync(felixContext, Portal, "executive/initiatives", Seed.SecondExecutive, Roles.Executive);
        await Expect(felix.GetByRole(AriaRole.Button, new() { Name = "Cancel Customer first" })).ToHaveCountAsync(0);
        await Expect(felix.GetByRole(AriaRole.Button, new() { NameRegex = Browsing.Text("Complete|Edit|Start") })).ToHaveCountAsync(0);
        var row = felix.GetByRole(AriaRole.Row, new() { NameRegex = Browsing.Text("^Lunch and learn") });
        await Expect(row.GetByRole(AriaRole.Link, new() { Name = "Sponsor it in your endorsement inbox" })).ToBeVisibleAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = "Cancel Lunch and learn" }).ClickAsync();
        await Expect(row.GetByTestId("confirm-close")).ToContainTextAsync("Cancel Lunch and learn? It stops for good");
        await row.GetByRole(AriaRole.Button, new() { Name = "Yes, cancel Lunch and learn" }).ClickAsync();
        await Expect(felix.GetByTestId("portfolio-done")).ToHaveTextAsync("Lunch and learn is cancelled: what it recorded stays.");
        await Expect(row).ToContainTextAsync("cancelled");
        await Expect(row.GetByRole(AriaRole.Button)).ToHaveCountAsync(0);

        // Carl sees it among his own, closed; employees and executives are not offered the change manager's pages at all.
        await using var carlContext = await _system.Browser.NewContextAsync();
        var carl = await Browsing.SignInAsync(carlContext, Portal, "change", Seed.ChangeManager, Roles.ChangeManager);
        await Expect(carl.GetByTestId("initiative").Filter(new() { HasText = "Lunch and learn" }).GetByTestId("closed")).ToContainTextAsync("Cancelled on");
        foreach (var (person, roles, path) in new[] { ("e2", new[] { Roles.Employee }, "change/propose"), (Seed.SecondExecutive, new[] { Roles.Executive }, "change") })
        {
            await using var other = await _system.Browser.NewContextAsync();
            var denied = await Browsing.SignInAsync(other, Portal, path, person, roles);
            await Expect(denied.GetByRole(AriaRole.Heading, new() { Name = "Not for your role" })).ToBeVisibleAsync();
            await Expect(denied.GetByRole(AriaRole.Link, new() { Name = "Propose an initiative" })).ToHaveCountAsync(0);
        }
    }

    private async Task<Initiative> ListeningToursAsync()
    {
        var all = await InitiativesCalls.Call<ListInitiativesRequest, ListInitiativesResponse>("ListInitiatives", new ListInitiativesRequest(),
            _system.Token(Seed.ChangeManager, Roles.ChangeManager), Ct);
        return all.Initiatives.Single(i => i.Definition.Name == "Listening tours");
    }

    private async Task<Initiative> GetInitiativeAsync(string id) =>
        (await InitiativesCalls.Call<GetInitiativeRequest, GetInitiativeResponse>("GetInitiative", new GetInitiativeRequest { InitiativeId = id },
            _system.Token(Seed.Hr, Roles.Hr), Ct)).Initiative;

    private async Task<string> ProposeForFelixAsync(string name, string proposer, string role) =>
        (await InitiativesCalls.Call<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative", new ProposeInitiativeRequest
        {
            IdempotencyKey = "journey-" + name,
            Initiative = new InitiativeDraft
            {
                Name = name, Purpose = $"{name}, for the journeys.", SponsorId = Seed.SecondExecutive,
                ScopeOrgUnitIds = { "sales" }, TargetBehaviourIds = { "speaks-openly" },
            },
        }, _system.Token(proposer, role), Ct)).Initiative.InitiativeId;
}
