using Microsoft.Playwright;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>Step 3 of the method in the browser: HR revises and retires a behaviour, and sets badges and points per behaviour.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task HrRevisesAndRetiresABehaviourWhoseIdTheObservationsFileNeedsIsShown()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "hr/behaviours", Seed.Hr, Roles.Hr);
        await page.GetByLabel("Id (optional, such as speaks-up)").FillAsync("asks-why");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("Asks why");
        await page.GetByLabel("Why it matters").FillAsync("A question asked early saves a customer's day.");
        await page.GetByRole(AriaRole.Button, new() { Name = "Define the behaviour" }).ClickAsync();
        var row = page.GetByTestId("behaviours").GetByRole(AriaRole.Row).Filter(new() { HasText = "Asks why" });
        await Expect(row.GetByTestId("behaviour-id")).ToHaveTextAsync("asks-why");
        await Expect(page.GetByTestId("behaviours").Locator("thead")).ToContainTextAsync("Id (for the observations file)");

        // Revised: checked before sending, then stored as version 2.
        await row.GetByRole(AriaRole.Button, new() { Name = "Revise Asks why" }).ClickAsync();
        var form = page.GetByTestId("revise-behaviour");
        await form.GetByLabel("Why it matters").FillAsync("");
        await form.GetByRole(AriaRole.Button, new() { Name = "Save as version 2" }).ClickAsync();
        await Expect(form.Locator("#problem-behaviour-description")).ToHaveTextAsync("Say why the behaviour matters.");
        await form.GetByLabel("Name", new() { Exact = true }).FillAsync("Asks why, early");
        await form.GetByLabel("Why it matters").FillAsync("A question asked early saves a customer's day, and a colleague's.");
        await form.GetByLabel("Customer focus").CheckAsync();
        await form.GetByRole(AriaRole.Button, new() { Name = "Save as version 2" }).ClickAsync();
        await Expect(page.GetByTestId("behaviour-done")).ToHaveTextAsync("Saved: Asks why, early is at version 2.");
        row = page.GetByTestId("behaviours").GetByRole(AriaRole.Row).Filter(new() { HasText = "Asks why, early" });
        await Expect(row).ToContainTextAsync("Customer focus");
        await Expect(row).ToContainTextAsync("a colleague's.");

        // Retired only once confirmed.
        await row.GetByRole(AriaRole.Button, new() { Name = "Retire Asks why, early" }).ClickAsync();
        await Expect(row.GetByTestId("confirm-retire")).ToContainTextAsync("Retire Asks why, early? Nobody can be observed or recognised for it any more");
        await row.GetByRole(AriaRole.Button, new() { Name = "Keep it" }).ClickAsync();
        (await BehaviourAsync("asks-why")).Retired.ShouldBeFalse();
        await row.GetByRole(AriaRole.Button, new() { Name = "Retire Asks why, early" }).ClickAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = "Yes, retire Asks why, early" }).ClickAsync();
        await Expect(page.GetByTestId("behaviour-done")).ToHaveTextAsync("Asks why, early is retired: nobody is observed or recognised for it any more.");
        await Expect(row).ToContainTextAsync("retired");
        await Expect(row.GetByRole(AriaRole.Button, new() { Name = "Revise Asks why, early" })).ToHaveCountAsync(0);
        await page.KeepScreenshotAsync("hr-behaviour-retired");

        var stored = await BehaviourAsync("asks-why");
        (stored.Name, stored.Version, stored.Retired).ShouldBe(("Asks why, early", 3, true));
        stored.Dimensions.Select(d => d.DimensionId).ShouldBe(["customer-focus"]);

        // Employees no longer see it among the behaviours wanted; a change manager cannot take it on.
        await page.OpenAsync(Portal, "behaviours");
        await Expect(page.GetByTestId("desired-behaviours")).ToContainTextAsync("Helps customers");
        await Expect(page.GetByTestId("desired-behaviours")).Not.ToContainTextAsync("Asks why");
    }

    [Fact]
    public async Task HrSetsABadgeAndPointsForOneBehaviourAndChangesThem()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "hr/rules", Seed.Hr, Roles.Hr);
        await Expect(page.GetByTestId("badges")).ToContainTextAsync("No badge yet: add one, with the points that earn it.");

        await page.GetByRole(AriaRole.Button, new() { Name = "Add a badge" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Add points for one behaviour" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { NameRegex = Browsing.Text("^Save the rules as version") }).ClickAsync();
        await Expect(page.Locator("#problem-rules-badges-0-name")).ToHaveTextAsync("Name the badge.");
        await Expect(page.Locator("#problem-rules-behaviour_points-0-behaviour_id")).ToHaveTextAsync("Choose the behaviour.");

        await page.GetByLabel("Badge 1: name").FillAsync("Customer champion");
        await page.GetByLabel("Badge 1: earned at this many points").FillAsync("400");
        await page.GetByLabel("Badge 1: earned at this many points").BlurAsync();
        await page.GetByLabel("Behaviour 1", new() { Exact = true }).SelectOptionAsync(new SelectOptionValue { Label = "Speaks openly" });
        await page.GetByLabel("Behaviour 1: observed by").SelectOptionAsync(new SelectOptionValue { Label = "A customer" });
        await page.GetByLabel("Behaviour 1: points").FillAsync("25");
        await page.GetByLabel("Behaviour 1: points").BlurAsync();
        await SaveRulesAsync(page);

        var rules = (await RulesAsync()).Rules;
        rules.Badges.Select(b => (b.Name, b.Threshold)).ShouldBe([("Customer champion", 400)]);
        rules.BehaviourPoints.Select(p => (p.BehaviourId, p.Source, p.Points)).ShouldBe([("speaks-openly", ObservationSource.CustomerFeedback, 25)]);

        // Read back by the page, changed, then taken away again (the other journeys count on the rules without them).
        await page.ReloadAsync();
        await Expect(page.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
        await Expect(page.GetByLabel("Badge 1: name")).ToHaveValueAsync("Customer champion");
        await Expect(page.GetByLabel("Behaviour 1: points")).ToHaveValueAsync("25");
        await page.GetByLabel("Badge 1: earned at this many points").FillAsync("500");
        await page.GetByLabel("Badge 1: earned at this many points").BlurAsync();
        await SaveRulesAsync(page);
        (await RulesAsync()).Rules.Badges.Single().Threshold.ShouldBe(500);
        await page.KeepScreenshotAsync("hr-badge-and-behaviour-points");

        await page.GetByRole(AriaRole.Button, new() { Name = "Remove badge 1" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Remove behaviour 1's points" }).ClickAsync();
        await SaveRulesAsync(page);
        var after = (await RulesAsync()).Rules;
        after.Badges.ShouldBeEmpty();
        after.BehaviourPoints.ShouldBeEmpty();
    }

    [Fact]
    public async Task HrRevisesADimensionWhichIsStoredAsANewVersion()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "hr", Seed.Hr, Roles.Hr);
        await page.GetByRole(AriaRole.Button, new() { Name = "Revise Openness" }).ClickAsync();
        var form = page.GetByTestId("revise-dimension");
        await form.GetByLabel("Name", new() { Exact = true }).FillAsync("");
        await form.GetByRole(AriaRole.Button, new() { NameRegex = Browsing.Text("^Save as version") }).ClickAsync();
        await Expect(form.Locator("#problem-fields-name")).ToHaveTextAsync("Give the dimension a name.");

        // The name stays (the other journeys read it); what it means is said more precisely.
        await form.GetByLabel("Name", new() { Exact = true }).FillAsync("Openness");
        await form.GetByLabel("Description").FillAsync("Anyone can say what they think, to anyone, without fear.");
        await form.GetByRole(AriaRole.Button, new() { NameRegex = Browsing.Text("^Save as version") }).ClickAsync();
        await Expect(page.GetByTestId("dimension-done")).ToHaveTextAsync(Browsing.Text("^Saved: Openness is at version \\d+\\.$"));
        await Expect(page.GetByTestId("dimensions").GetByRole(AriaRole.Row).Filter(new() { HasText = "Openness" })).ToContainTextAsync("to anyone, without fear.");
        var stored = await new Seed.ServiceCalls(_system.Baselines.Client, Transformation.Baselines.V1.BaselinesReflection.Descriptor.Services[0])
            .Call<Transformation.Baselines.V1.ListDimensionsRequest, Transformation.Baselines.V1.ListDimensionsResponse>("ListDimensions", new(), _system.Token(Seed.Hr, Roles.Hr), Ct);
        stored.Dimensions.Single(d => d.DimensionId == "openness").Fields.Description.ShouldBe("Anyone can say what they think, to anyone, without fear.");
    }

    [Fact]
    public async Task OnlyHrIsOfferedToChangeTheCatalogueOrTheRules()
    {
        foreach (var (person, roles) in new[] { (Seed.ChangeManager, new[] { Roles.ChangeManager }), (Seed.Executive, new[] { Roles.Executive }) })
        {
            foreach (var path in new[] { "hr/behaviours", "hr/rules" })
            {
                await using var context = await _system.Browser.NewContextAsync();
                var page = await Browsing.SignInAsync(context, Portal, path, person, roles);
                await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Not for your role" })).ToBeVisibleAsync();
                await Expect(page.GetByRole(AriaRole.Button, new() { NameRegex = Browsing.Text("^(Retire|Revise|Add a badge)") })).ToHaveCountAsync(0);
            }
        }
    }

    private async Task<BehaviourSnapshot> BehaviourAsync(string id) =>
        (await IncentivesCalls.Call<GetBehaviourRequest, GetBehaviourResponse>("GetBehaviour", new GetBehaviourRequest { BehaviourId = id },
            _system.Token(Seed.Hr, Roles.Hr), Ct)).Behaviour;

    private Task<GetIncentiveRulesResponse> RulesAsync() =>
        IncentivesCalls.Call<GetIncentiveRulesRequest, GetIncentiveRulesResponse>("GetIncentiveRules", new GetIncentiveRulesRequest(), _system.Token(Seed.Hr, Roles.Hr), Ct);

    /// <summary>
    /// Saves the rules page and waits for the confirmation of that very version: the previous save's confirmation stays on the
    /// page until the new one replaces it, so waiting for any version would read the rules before this save.
    /// </summary>
    private static async Task SaveRulesAsync(IPage page)
    {
        var save = page.GetByRole(AriaRole.Button, new() { NameRegex = Browsing.Text("^Save the rules as version \\d+$") });
        var version = (await save.TextContentAsync())!.Trim().Split(' ')[^1];
        await save.ClickAsync();
        await Expect(page.GetByText(Browsing.Text($"^Version {version} of the rules is in force\\.$"))).ToBeVisibleAsync();
    }
}
