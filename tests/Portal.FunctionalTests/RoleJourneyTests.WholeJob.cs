using Microsoft.Playwright;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>
/// Issue 23, acceptance 1: each role's whole job through the method, in the browser alone. The fixture seeds the organisation
/// (units and people); everything else (dimensions, items, behaviours, end states, initiatives, surveys and their answers,
/// observations, stories, rules) each test makes through the portal, with names of its own, in units of its own, so the
/// tests pass in any order. The helpers below are the steps people take; a test chains the steps of the roles it needs.
/// </summary>
public sealed partial class RoleJourneyTests
{
    private const string Olga = "Olga Owens";
    private const string Piet = "Piet Prins";
    private const string Dora = "Dora Dahl";

    private static int _serial;

    /// <summary>A name no other test uses (no hex: a person would read it as an id).</summary>
    private static (string Name, string Id) Fresh(string name)
    {
        var n = Interlocked.Increment(ref _serial);
        return ($"{name} {n}", $"{name.ToLowerInvariant().Replace(' ', '-')}-{n}");
    }

    [Fact]
    public async Task HrDefinesDimensionsItemsAndBehavioursRevisesAndRetiresOneAndProposesAnEndStateInTheBrowserAlone()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var hr = await Browsing.SignInAsync(context, Portal, "hr", Seed.Hr, Roles.Hr);
        var (dimension, itemText) = await DefineDimensionAsync(hr, "Curiosity", "I ask why before I act.");
        var (second, _) = await DefineDimensionAsync(hr, "Candour", "I hear the truth from my colleagues.");

        var (behaviour, _) = await DefineBehaviourAsync(hr, "Asks first", dimension);
        var (calledOut, _) = await DefineBehaviourAsync(hr, "Hides mistakes", second, unacceptable: true);

        // Revised: a new version that moves both dimensions.
        var row = hr.GetByTestId("behaviours").GetByRole(AriaRole.Row).Filter(new() { HasText = behaviour });
        await row.GetByRole(AriaRole.Button, new() { Name = $"Revise {behaviour}", Exact = true }).ClickAsync();
        var form = hr.GetByTestId("revise-behaviour");
        await form.GetByLabel("Why it matters").FillAsync("A question asked before acting saves a customer's day.");
        await form.GetByLabel(second, new() { Exact = true }).CheckAsync();
        await form.GetByRole(AriaRole.Button, new() { Name = "Save as version 2" }).ClickAsync();
        await Expect(hr.GetByTestId("behaviour-done")).ToHaveTextAsync($"Saved: {behaviour} is at version 2.");
        await Expect(row).ToContainTextAsync("saves a customer's day");
        await Expect(row).ToContainTextAsync(second);

        // Retired once confirmed: employees no longer see it among the behaviours wanted.
        await row.GetByRole(AriaRole.Button, new() { Name = $"Retire {behaviour}", Exact = true }).ClickAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = $"Yes, retire {behaviour}", Exact = true }).ClickAsync();
        await Expect(hr.GetByTestId("behaviour-done")).ToHaveTextAsync($"{behaviour} is retired: nobody is observed or recognised for it any more.");
        await VisitAsync(hr, "behaviours");
        await Expect(hr.GetByTestId("desired-behaviours")).ToBeVisibleAsync();
        await Expect(hr.Locator("main")).Not.ToContainTextAsync(behaviour);
        await Expect(hr.Locator("main")).ToContainTextAsync(calledOut);

        // The end state of Harbour: drafted with a target on the new dimension, then proposed to its sponsors.
        await DraftAndProposeEndStateAsync(hr, "harbour", "Harbour", "Harbour asks why before it acts, and says so when it does not know.", dimension, [Olga, Piet]);
        await Expect(hr.GetByTestId("end-state-status")).ToHaveTextAsync("proposed: 0 of 2 sponsors endorsed");
        await Expect(hr.GetByTestId("end-state-latest")).ToContainTextAsync(dimension);
        await Expect(hr.Locator("main")).Not.ToContainTextAsync(itemText); // items belong to surveys, not targets
        await hr.KeepScreenshotAsync("whole-job-hr");
    }

    [Fact]
    public async Task ExecutivesEachEndorseTheEndStateTheyAreNamedForAndOneSponsorsAnInitiativeInTheBrowserAlone()
    {
        await using var hrContext = await _system.Browser.NewContextAsync();
        var hr = await Browsing.SignInAsync(hrContext, Portal, "hr", Seed.Hr, Roles.Hr);
        var (dimension, _) = await DefineDimensionAsync(hr, "Ownership", "I finish what I start for a customer.");
        var (behaviour, _) = await DefineBehaviourAsync(hr, "Sees it through", dimension);
        const string Vision = "Quay finishes what it starts for every customer.";
        await DraftAndProposeEndStateAsync(hr, "quay", "Quay", Vision, dimension, [Olga, Piet]);

        // Each named sponsor signs in and endorses it; it is in force only after the last of them.
        await EndorseAsync(Seed.WholeJobPeople[0].Id, "Quay", Vision, "Your endorsement of the end state of Quay is recorded; other sponsors still have to endorse.");
        await VisitAsync(hr, "endstate?scope=quay");
        await Expect(hr.GetByTestId("end-state-status")).ToHaveTextAsync("proposed: 1 of 2 sponsors endorsed");
        await EndorseAsync(Seed.WholeJobPeople[1].Id, "Quay", Vision, Browsing.Text("^You endorsed the end state of Quay: version \\d+ is now in force\\.$"));
        await VisitAsync(hr, "hr");
        await VisitAsync(hr, "endstate?scope=quay");
        await Expect(hr.GetByTestId("end-state-status")).ToHaveTextAsync("endorsed, in force");

        // A change manager proposes an initiative for Quay with Piet as its sponsor; Piet sponsors it, and sees it in the portfolio.
        var (initiative, _) = Fresh("Finish lines");
        await using var cmContext = await _system.Browser.NewContextAsync();
        var cm = await Browsing.SignInAsync(cmContext, Portal, "change", "cm-2", Roles.ChangeManager);
        await ProposeInitiativeAsync(cm, initiative, "Quay", behaviour, Piet);
        await using var pietContext = await _system.Browser.NewContextAsync();
        var piet = await Browsing.SignInAsync(pietContext, Portal, "executive/endorsements", "exec-4", Roles.Executive);
        await piet.GetByRole(AriaRole.Button, new() { Name = $"Sponsor {initiative}", Exact = true }).ClickAsync();
        await Expect(piet.GetByTestId("endorsement-done")).ToHaveTextAsync($"You sponsor {initiative}; its change manager can start it now.");
        await VisitAsync(piet, "executive/initiatives");
        await Expect(piet.GetByRole(AriaRole.Row, new() { NameRegex = Browsing.Text("^" + initiative) })).ToBeVisibleAsync();
        await VisitAsync(piet, "executive?scope=quay");
        await Expect(piet.GetByTestId("end-state-status")).ToHaveTextAsync("endorsed");
        await Expect(piet.Locator("svg[data-chart=gap]")).ToContainTextAsync(dimension);
        await piet.KeepScreenshotAsync("whole-job-executive");
    }

    [Fact]
    public async Task AChangeManagerRunsAnInitiativeFromProposalToCompletionWithAStoryWhoseSurveyEvidenceComesFromBaselines()
    {
        await using var hrContext = await _system.Browser.NewContextAsync();
        var hr = await Browsing.SignInAsync(hrContext, Portal, "hr", Seed.Hr, Roles.Hr);
        var (dimension, item) = await DefineDimensionAsync(hr, "Follow through", "When I promise a customer something, it happens.");
        var (behaviour, _) = await DefineBehaviourAsync(hr, "Keeps promises", dimension);
        string[] dock = ["d1", "d2", "d3"];

        // Before: Dock's survey, answered in the portal, closed and published before the initiative starts.
        var (before, _) = Fresh("Dock pulse before");
        await RunSurveyAsync(hr, before, "Dock", item, dock, "Disagree");

        // The change manager proposes the initiative, with a goal on the dimension's survey score (nobody types the score).
        var (initiative, _) = Fresh("Promise board");
        await using var cmContext = await _system.Browser.NewContextAsync();
        var cm = await Browsing.SignInAsync(cmContext, Portal, "change", "cm-2", Roles.ChangeManager);
        await ProposeInitiativeAsync(cm, initiative, "Dock", behaviour, Olga, (dimension, "4.5"));
        await SponsorAsync("exec-3", initiative);
        var card = cm.GetByTestId("initiative").Filter(new() { HasText = initiative });
        await VisitAsync(cm, "change");
        await Expect(card).ToContainTextAsync(before); // the score published before it starts
        await StartInitiativeAsync(cm, initiative);

        // After: the next survey, answered better; the goal reads it from Baselines.
        var (after, _) = Fresh("Dock pulse after");
        await RunSurveyAsync(hr, after, "Dock", item, dock, "Agree");
        for (var attempt = 0; attempt < 30; attempt++)
        {
            await VisitAsync(cm, "change");
            await Expect(card).ToBeVisibleAsync();
            if ((await card.InnerTextAsync()).Contains(after, StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(1000, Ct);
        }

        await Expect(card).ToContainTextAsync($"Survey score: 4 of 4.5 ({after}, measured");

        // Observations recorded, one by one.
        await RecordObservationAsync(cm, initiative, "Dan Drake", behaviour, "Called the customer back the day he promised, with the fix");
        await RecordObservationAsync(cm, initiative, "Dina Dunn", behaviour, "Delivered the spare parts the week she said");
        await VisitAsync(cm, "change");
        await Expect(card.GetByTestId("observation-count")).ToHaveTextAsync("2");

        // The story cites them; its survey evidence is the two published scores, before and after.
        await VisitAsync(cm, "change/stories");
        await cm.Locator("#story-initiative").SelectOptionAsync(new SelectOptionValue { Label = initiative });
        var (title, _) = Fresh("Promises kept");
        await cm.GetByLabel("Title").FillAsync(title);
        await cm.GetByLabel("What changed").FillAsync("Dock now keeps the promises it makes to customers, and its people say so.");
        await cm.GetByLabel(Browsing.Text("Called the customer back")).CheckAsync();
        await cm.GetByLabel(Browsing.Text("Delivered the spare parts")).CheckAsync();
        await cm.GetByRole(AriaRole.Button, new() { Name = "Save the draft" }).ClickAsync();
        await Expect(cm.GetByTestId("story-status")).ToHaveTextAsync("draft");
        await Expect(cm.GetByTestId("story")).ToContainTextAsync("Evidence: 2 observations");
        await Expect(cm.GetByTestId("story-goals")).ToContainTextAsync(Browsing.Text(
            $"^Survey score: 2 \\({before}, measured [^)]+, 3 people answered\\) → 4 \\({after}, measured [^)]+, 3 people answered\\) \\(target 4\\.5\\)$"));
        await cm.GetByRole(AriaRole.Button, new() { Name = "Submit for publication" }).ClickAsync();
        await Expect(cm.GetByTestId("story-status")).ToHaveTextAsync("submitted");

        // Its sponsor publishes it; everyone reads it.
        await using (var sponsorContext = await _system.Browser.NewContextAsync())
        {
            var olga = await Browsing.SignInAsync(sponsorContext, Portal, "executive/endorsements", "exec-3", Roles.Executive);
            await olga.GetByRole(AriaRole.Button, new() { Name = $"Publish \"{title}\"" }).ClickAsync();
            await Expect(olga.GetByTestId("endorsement-done")).ToContainTextAsync(title);
        }

        await VisitAsync(cm, "stories");
        await Expect(cm.Locator("main")).ToContainTextAsync(title);

        // Completed once confirmed.
        await VisitAsync(cm, "change");
        await card.GetByRole(AriaRole.Button, new() { Name = "Complete the initiative" }).ClickAsync();
        await card.GetByRole(AriaRole.Button, new() { Name = $"Yes, complete {initiative}" }).ClickAsync();
        await Expect(cm.GetByRole(AriaRole.Status)).ToHaveTextAsync($"{initiative} is completed: its progress and stories stay.");
        await Expect(card.GetByTestId("closed")).ToContainTextAsync("Completed on");
        await cm.KeepScreenshotAsync("whole-job-change-manager");
    }

    [Fact]
    public async Task AnEmployeeSeesTheVisionTheirInitiativesAndPublishedScoresGivesRecognitionAndReportsAConcernInTheBrowserAlone()
    {
        // What the employee's organisation has done through the portal: HR's catalogue and survey, the executives' vision, an initiative in Pier.
        await using var hrContext = await _system.Browser.NewContextAsync();
        var hr = await Browsing.SignInAsync(hrContext, Portal, "hr", Seed.Hr, Roles.Hr);
        var (dimension, item) = await DefineDimensionAsync(hr, "Helpfulness", "My colleagues help me when I am stuck.");
        var (behaviour, _) = await DefineBehaviourAsync(hr, "Lends a hand", dimension);
        var (calledOut, _) = await DefineBehaviourAsync(hr, "Takes the credit", dimension, unacceptable: true);
        const string Vision = "In Pier nobody stays stuck alone.";
        await DraftAndProposeEndStateAsync(hr, "pier", "Pier", Vision, dimension, [Olga]);
        await EndorseAsync("exec-3", "Pier", Vision, Browsing.Text("^You endorsed the end state of Pier: version \\d+ is now in force\\.$"));
        var (initiative, _) = Fresh("Buddy desks");
        await using var cmContext = await _system.Browser.NewContextAsync();
        var cm = await Browsing.SignInAsync(cmContext, Portal, "change", "cm-2", Roles.ChangeManager);
        await ProposeInitiativeAsync(cm, initiative, "Pier", behaviour, Olga);
        await SponsorAsync("exec-3", initiative);
        await StartInitiativeAsync(cm, initiative);
        var (survey, _) = Fresh("Pier pulse");
        await RunSurveyAsync(hr, survey, "Pier", item, ["p1", "p2", "p3"], "Strongly agree");

        // Pia's home page: the vision in force for her unit, the initiative reaching her, the scores HR published.
        await using var context = await _system.Browser.NewContextAsync();
        var pia = await Browsing.SignInAsync(context, Portal, "", "p1", Roles.Employee);
        await Expect(pia.GetByTestId("vision-text")).ToHaveTextAsync(Vision);
        await Expect(pia.GetByTestId("vision-targets")).ToContainTextAsync($"{dimension}: 4.2 of 5 by");
        await Expect(pia.GetByTestId("our-initiatives")).ToContainTextAsync(initiative);
        await Expect(pia.GetByTestId("our-scores")).ToContainTextAsync($"{survey}, closed");
        await Expect(pia.GetByTestId("our-scores")).ToContainTextAsync("everyone it asked in Pier");
        await Expect(pia.Locator("svg[data-chart=our-scores]")).ToContainTextAsync(dimension);
        await pia.KeepScreenshotAsync("whole-job-employee-home");

        // She thanks a colleague for the behaviour wanted.
        await VisitAsync(pia, "me/give");
        await pia.PickPersonAsync("recipient", "Per Pratt");
        await pia.Locator("#give-behaviour").SelectOptionAsync(new SelectOptionValue { Label = behaviour });
        await pia.GetByLabel("Message").FillAsync("Sat with me until the report ran.");
        await pia.GetByRole(AriaRole.Button, new() { Name = "Give recognition" }).ClickAsync();
        await Expect(pia.GetByTestId("recognition-given")).ToContainTextAsync("points granted to Per Pratt.");

        // And reports a concern about another, privately.
        await VisitAsync(pia, "me/concern");
        await pia.Locator("#concern-person").PressSequentiallyAsync("Pam P");
        await pia.GetByRole(AriaRole.Button, new() { Name = "Add Pam Price" }).ClickAsync();
        await pia.GetByLabel("Which behaviour").SelectOptionAsync(new SelectOptionValue { Label = calledOut });
        await pia.GetByLabel("What happened").FillAsync("Presented my analysis to the customer as her own.");
        await pia.GetByRole(AriaRole.Button, new() { Name = "Send the report to HR" }).ClickAsync();
        await Expect(pia.GetByTestId("concern-done")).ToHaveTextAsync(
            "Sent: your concern about Pam Price is with HR. Only HR reads it; Pam Price is not told who reported it.");

        // Per sees his recognition.
        await using var perContext = await _system.Browser.NewContextAsync();
        var per = await Browsing.SignInAsync(perContext, Portal, "me", "p2", Roles.Employee);
        await Expect(per.GetByTestId("recognition").Filter(new() { HasText = behaviour })).ToContainTextAsync("Pia Poole");
        await pia.KeepScreenshotAsync("whole-job-employee");
    }

    [Fact]
    public async Task ALineManagerApprovesAHeldRewardOfTheirReportAfterTheWholeChainIsDoneInTheBrowser()
    {
        // HR defines a behaviour worth more than the approval threshold; a change manager runs an initiative in Wharf and observes Walt.
        await using var hrContext = await _system.Browser.NewContextAsync();
        var hr = await Browsing.SignInAsync(hrContext, Portal, "hr", Seed.Hr, Roles.Hr);
        var (dimension, _) = await DefineDimensionAsync(hr, "Steadiness", "I can count on my team in a crisis.");
        var (behaviour, _) = await DefineBehaviourAsync(hr, "Steadies the ship", dimension);
        await SetBehaviourPointsAsync(hr, behaviour, 1200, cap: 5000);
        try
        {
            var (initiative, _) = Fresh("Calm under fire");
            await using var cmContext = await _system.Browser.NewContextAsync();
            var cm = await Browsing.SignInAsync(cmContext, Portal, "change", "cm-2", Roles.ChangeManager);
            await ProposeInitiativeAsync(cm, initiative, "Wharf", behaviour, Piet);
            await SponsorAsync("exec-4", initiative);
            await StartInitiativeAsync(cm, initiative);
            await RecordObservationAsync(cm, initiative, "Walt West", behaviour, "Kept the night shift calm through the flood");

            // Wanda, Walt's manager, approves it after confirming; Walt sees it granted.
            await using var context = await _system.Browser.NewContextAsync();
            var wanda = await Browsing.SignInAsync(context, Portal, "me", "lm-2", Roles.Employee);
            var held = wanda.GetByTestId("team-held-rewards").GetByRole(AriaRole.Listitem).Filter(new() { HasText = "Walt West" });
            for (var attempt = 0; attempt < 30 && await held.CountAsync() == 0; attempt++)
            {
                await Task.Delay(1000, Ct);
                await wanda.ReloadAsync();
                await Expect(wanda.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
            }

            await Expect(held).ToContainTextAsync($"Walt West: 1200 points for \"{behaviour}\"");
            await held.GetByRole(AriaRole.Button, new() { Name = "Approve for Walt West" }).ClickAsync();
            await held.GetByRole(AriaRole.Button, new() { Name = "Yes, approve for Walt West" }).ClickAsync();
            await Expect(wanda.GetByTestId("team-reward-done")).ToHaveTextAsync("Approved: 1200 points for Walt West count now.");
            await wanda.KeepScreenshotAsync("whole-job-line-manager");

            await using var waltContext = await _system.Browser.NewContextAsync();
            var walt = await Browsing.SignInAsync(waltContext, Portal, "me", "w1", Roles.Employee);
            var recognition = walt.GetByTestId("recognition").Filter(new() { HasText = behaviour });
            await Expect(recognition).ToContainTextAsync($"{behaviour}: 1200 points");
            await Expect(recognition).ToContainTextAsync("granted");
        }
        finally
        {
            // The other journeys count on rules without per-behaviour points.
            await RemoveBehaviourPointsAsync(hr, behaviour);
        }
    }

    /// <summary>HR defines a dimension (named freshly) and one survey item measuring it; returns the dimension's name and the item's text.</summary>
    private static async Task<(string Name, string ItemText)> DefineDimensionAsync(IPage hr, string name, string itemText)
    {
        var (dimension, id) = Fresh(name);
        var text = $"{itemText} ({dimension})";
        await VisitAsync(hr, "hr");
        await hr.GetByText("Define a dimension").ClickAsync();
        await hr.Locator("#dimension-id").FillAsync(id);
        await hr.Locator("#dimension-name").FillAsync(dimension);
        await hr.Locator("#dimension-description").FillAsync($"How {dimension.ToLowerInvariant()} shows in daily work.");
        await hr.Locator("#dimension-facet").SelectOptionAsync("Values");
        await hr.Locator("#dimension-scope").SelectOptionAsync("External");
        await hr.GetByRole(AriaRole.Button, new() { Name = "Define the dimension" }).ClickAsync();
        await Expect(hr.GetByTestId("dimension-done")).ToHaveTextAsync($"Defined: {dimension} is a culture dimension. Add the survey items that measure it.");

        await hr.GetByText("Add a survey item").ClickAsync();
        await hr.Locator("#item-id").FillAsync("q-" + id);
        await hr.Locator("#item-dimension").SelectOptionAsync(new SelectOptionValue { Label = dimension });
        await hr.Locator("#item-text").FillAsync(text);
        await hr.GetByRole(AriaRole.Button, new() { Name = "Add the item" }).ClickAsync();
        await Expect(hr.GetByTestId("item-done")).ToHaveTextAsync($"Added: \"{text}\" now measures {dimension}; surveys can ask it.");
        await Expect(hr.GetByTestId("dimensions").GetByRole(AriaRole.Row).Filter(new() { HasText = dimension })).ToContainTextAsync(text);
        return (dimension, text);
    }

    /// <summary>HR defines a behaviour (named freshly) that moves one dimension; returns its name and id.</summary>
    private static async Task<(string Name, string Id)> DefineBehaviourAsync(IPage hr, string name, string dimension, bool unacceptable = false)
    {
        var (behaviour, id) = Fresh(name);
        await VisitAsync(hr, "hr/behaviours");
        await hr.Locator("#behaviour-id").FillAsync(id);
        await hr.Locator("#behaviour-name").FillAsync(behaviour);
        await hr.Locator("#behaviour-description").FillAsync($"{behaviour}: what the new culture {(unacceptable ? "calls out" : "wants")}.");
        if (unacceptable)
        {
            await hr.GetByLabel("Unacceptable: called out").CheckAsync();
        }

        await hr.GetByLabel(dimension, new() { Exact = true }).CheckAsync();
        await hr.GetByRole(AriaRole.Button, new() { Name = "Define the behaviour" }).ClickAsync();
        await Expect(hr.GetByTestId("behaviour-defined")).ToHaveTextAsync($"\"{behaviour}\" is in the catalogue (id {id}).");
        return (behaviour, id);
    }

    /// <summary>HR drafts a unit's first end state (a target of 4.2 on one dimension, these sponsors), then proposes it.</summary>
    private static async Task DraftAndProposeEndStateAsync(IPage hr, string unitId, string unitName, string vision, string dimension, string[] sponsors)
    {
        await VisitAsync(hr, $"endstate?scope={unitId}");
        await Expect(hr.GetByTestId("end-state-empty")).ToContainTextAsync($"{unitName} has no end state yet.");
        await hr.GetByLabel("Vision").FillAsync(vision);
        await hr.GetByLabel(dimension, new() { Exact = true }).CheckAsync();
        await hr.GetByLabel($"Target score for {dimension}").FillAsync("4.2");
        await hr.GetByLabel($"Target score for {dimension}").BlurAsync();
        foreach (var sponsor in sponsors)
        {
            await hr.PickPersonAsync("sponsor-search", sponsor);
        }

        await hr.GetByRole(AriaRole.Button, new() { Name = "Save the draft" }).ClickAsync();
        await Expect(hr.GetByTestId("end-state-done")).ToHaveTextAsync(
            $"Saved: draft version 1 of the end state of {unitName}. Propose it to the sponsors when it is ready.");
        await hr.GetByRole(AriaRole.Button, new() { Name = "Propose version 1 to the sponsors" }).ClickAsync();
        await Expect(hr.GetByTestId("end-state-done")).ToHaveTextAsync($"Proposed: version 2 waits for {string.Join(", ", sponsors)} to endorse it.");
    }

    /// <summary>A named sponsor signs in and endorses the unit's end state in their inbox.</summary>
    private async Task EndorseAsync(string sponsor, string unitName, string vision, object confirmation)
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "executive/endorsements", sponsor, Roles.Executive);
        var card = page.Locator("article").Filter(new() { HasText = vision });
        await Expect(card.GetByRole(AriaRole.Heading)).ToContainTextAsync($"{unitName}: version");
        await card.GetByRole(AriaRole.Button, new() { NameRegex = Browsing.Text("^Endorse version \\d+$") }).ClickAsync();
        var done = page.GetByTestId("endorsement-done");
        await (confirmation is System.Text.RegularExpressions.Regex pattern ? Expect(done).ToHaveTextAsync(pattern) : Expect(done).ToHaveTextAsync((string)confirmation));
    }

    /// <summary>The change manager proposes an initiative for one unit and behaviour (with a survey-score goal when given), for a sponsor.</summary>
    private static async Task ProposeInitiativeAsync(IPage cm, string name, string unitName, string behaviour, string sponsor, (string Dimension, string Target)? surveyGoal = null)
    {
        await VisitAsync(cm, "change/propose");
        await cm.GetByLabel("Name of the initiative").FillAsync(name);
        await cm.GetByLabel("Purpose").FillAsync($"{name}: what {unitName} does to grow \"{behaviour}\".");
        await cm.GetByLabel(unitName, new() { Exact = true }).CheckAsync();
        await cm.GetByLabel(behaviour, new() { Exact = true }).CheckAsync();
        if (surveyGoal is var (dimension, target))
        {
            await cm.GetByLabel(dimension, new() { Exact = true }).CheckAsync();
            await cm.GetByRole(AriaRole.Button, new() { Name = "Add a goal" }).ClickAsync();
            await cm.GetByLabel("Goal 1: what it measures").FillAsync("Survey score");
            await cm.GetByLabel("Goal 1: measured as").SelectOptionAsync(new SelectOptionValue { Label = "Survey score of a dimension" });
            await cm.GetByLabel("Goal 1: dimension").SelectOptionAsync(new SelectOptionValue { Label = dimension });
            await cm.GetByLabel("Goal 1: target (survey score, up to 5)").FillAsync(target);
            await cm.GetByLabel("Goal 1: target (survey score, up to 5)").BlurAsync();
        }

        await cm.PickPersonAsync("sponsor-search", sponsor);
        await cm.GetByRole(AriaRole.Button, new() { Name = "Propose the initiative" }).ClickAsync();
        await Expect(cm.GetByTestId("propose-done")).ToContainTextAsync($"Proposed: {name} waits for {sponsor} to sponsor it");
    }

    /// <summary>The sponsor signs in and sponsors the initiative from their inbox.</summary>
    private async Task SponsorAsync(string sponsor, string initiative)
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "executive/endorsements", sponsor, Roles.Executive);
        await page.GetByRole(AriaRole.Button, new() { Name = $"Sponsor {initiative}", Exact = true }).ClickAsync();
        await Expect(page.GetByTestId("endorsement-done")).ToHaveTextAsync($"You sponsor {initiative}; its change manager can start it now.");
    }

    private static async Task StartInitiativeAsync(IPage cm, string initiative)
    {
        await VisitAsync(cm, "change");
        var card = cm.GetByTestId("initiative").Filter(new() { HasText = initiative });
        await card.GetByRole(AriaRole.Button, new() { Name = "Start the initiative" }).ClickAsync();
        await Expect(cm.GetByRole(AriaRole.Status)).ToHaveTextAsync($"{initiative} is active.");
    }

    private static async Task RecordObservationAsync(IPage cm, string initiative, string person, string behaviour, string evidence)
    {
        await VisitAsync(cm, "change/observations");
        await cm.Locator("#initiative").SelectOptionAsync(new SelectOptionValue { Label = $"{initiative} (active)" });
        await cm.PickPersonAsync("employee", person);
        await cm.Locator("#behaviour").SelectOptionAsync(new SelectOptionValue { Label = $"{behaviour} (desired)" });
        await cm.GetByLabel("Evidence (a short text or a link)").FillAsync(evidence);
        await cm.GetByRole(AriaRole.Button, new() { Name = "Record the observation" }).ClickAsync();
        await Expect(cm.GetByTestId("observation-recorded")).ToHaveTextAsync($"Recorded: {person} showed \"{behaviour}\".");
    }

    /// <summary>
    /// A survey from start to published scores, in the portal: HR opens it for one unit with one item, each respondent signs in
    /// and answers it under My surveys, HR closes it and publishes its scores.
    /// </summary>
    private async Task RunSurveyAsync(IPage hr, string title, string unitName, string itemText, string[] respondents, string answer)
    {
        await VisitAsync(hr, "hr/surveys");
        var open = Browsing.OpenSurveyForm(hr);
        await open.GetByText("Open a survey").ClickAsync();
        await open.Locator("#survey-title-input").FillAsync(title);
        await open.GetByLabel(unitName, new() { Exact = true }).CheckAsync();
        await open.GetByLabel(itemText, new() { Exact = true }).CheckAsync();
        await open.GetByRole(AriaRole.Button, new() { Name = "Open the survey" }).ClickAsync();
        await Expect(hr.GetByTestId("survey-done")).ToContainTextAsync("people invited; their invitations are on their way.");

        foreach (var respondent in respondents)
        {
            await using var context = await _system.Browser.NewContextAsync();
            var page = await Browsing.SignInAsync(context, Portal, "me/surveys", respondent, Roles.Employee);
            await page.GetByRole(AriaRole.Link, new() { Name = title, Exact = true }).ClickAsync();
            await page.GetByRole(AriaRole.Radiogroup, new() { Name = itemText }).GetByLabel(answer, new() { Exact = true }).CheckAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Submit", Exact = true }).ClickAsync();
            await Expect(page.GetByTestId("survey-done")).ToContainTextAsync("Submitted.");
        }

        await VisitAsync(hr, "hr/surveys");
        await hr.GetByTestId("surveys").GetByRole(AriaRole.Link, new() { Name = title, Exact = true }).ClickAsync();
        await hr.GetByRole(AriaRole.Button, new() { Name = "Close the survey now" }).ClickAsync();
        await Expect(hr.GetByTestId("survey-done")).ToHaveTextAsync($"Closed with {respondents.Length} responses.");

        await VisitAsync(hr, "hr");
        await hr.GetByTestId("assessments").GetByRole(AriaRole.Link, new() { Name = title, Exact = true }).ClickAsync();
        await hr.GetByRole(AriaRole.Button, new() { Name = "Publish the scores to everyone" }).ClickAsync();
        await Expect(hr.GetByText("Scores are published.")).ToBeVisibleAsync();
    }

    /// <summary>HR gives one behaviour its own points when a manager observes it, and raises the cap per person to allow them.</summary>
    private static async Task SetBehaviourPointsAsync(IPage hr, string behaviour, int points, int cap)
    {
        await VisitAsync(hr, "hr/rules");
        await Expect(hr.GetByRole(AriaRole.Button, new() { NameRegex = Browsing.Text("^Save the rules as version") })).ToBeVisibleAsync(); // the rules are read
        var n = await hr.GetByLabel(Browsing.Text("^Behaviour \\d+: points$")).CountAsync() + 1;
        await hr.GetByRole(AriaRole.Button, new() { Name = "Add points for one behaviour" }).ClickAsync();
        await hr.GetByLabel($"Behaviour {n}", new() { Exact = true }).SelectOptionAsync(new SelectOptionValue { Label = behaviour });
        await hr.GetByLabel($"Behaviour {n}: observed by").SelectOptionAsync(new SelectOptionValue { Label = "A manager" });
        await hr.GetByLabel($"Behaviour {n}: points").FillAsync(points.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await hr.GetByLabel($"Behaviour {n}: points").BlurAsync();
        await hr.Locator("#cap").FillAsync(cap.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await hr.Locator("#cap").BlurAsync();
        await SaveRulesAsync(hr);
    }

    private static async Task RemoveBehaviourPointsAsync(IPage hr, string behaviour)
    {
        await VisitAsync(hr, "hr/rules");
        await Expect(hr.GetByRole(AriaRole.Button, new() { NameRegex = Browsing.Text("^Save the rules as version") })).ToBeVisibleAsync();
        var count = await hr.GetByLabel(Browsing.Text("^Behaviour \\d+: points$")).CountAsync();
        for (var n = 1; n <= count; n++)
        {
            var chosen = await hr.GetByLabel($"Behaviour {n}", new() { Exact = true }).Locator("option:checked").TextContentAsync();
            if (string.Equals(chosen?.Trim(), behaviour, StringComparison.Ordinal))
            {
                await hr.GetByRole(AriaRole.Button, new() { Name = $"Remove behaviour {n}'s points" }).ClickAsync();
                await SaveRulesAsync(hr);
                return;
            }
        }
    }

    /// <summary>
    /// Loads a page afresh (as a person following a link or pressing reload would see it now): moving inside the circuit to
    /// the page it already shows would keep what it read before.
    /// </summary>
    private static async Task VisitAsync(IPage page, string path)
    {
        await page.GotoAsync(new Uri(PortalOf(page), path).ToString());
        await Expect(page.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
    }

    /// <summary>The portal a page is on (the helpers take only the page).</summary>
    private static Uri PortalOf(IPage page) => new(new Uri(page.Url).GetLeftPart(UriPartial.Authority) + "/");
}
