using Microsoft.Playwright;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>What people type that a form cannot take: it is marked in the browser, nothing is sent and nothing typed is lost.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task ANumberOutOfRangeIsAFieldErrorWithTheRangeAndNothingIsSaved()
    {
        var before = await IncentivesCalls.Call<GetIncentiveRulesRequest, GetIncentiveRulesResponse>("GetIncentiveRules", new GetIncentiveRulesRequest(),
            _system.Token(Seed.Hr, Roles.Hr), Ct);
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "hr/rules", Seed.Hr, Roles.Hr);

        var colleague = page.GetByLabel("A colleague", new() { Exact = true });
        await colleague.FillAsync("99999999999");
        await colleague.BlurAsync();
        await Expect(page.Locator("#points-Peer-problem")).ToHaveTextAsync("99999999999 is out of range: enter a number from 0 to 100000.");
        await Expect(page.Locator("#points-Peer-range")).ToHaveTextAsync("0 to 100000");
        await Expect(colleague).ToHaveValueAsync("99999999999");
        await Expect(colleague).ToHaveAttributeAsync("max", "100000");
        // Past the browser's own check (which stops the form at once), the page still sends nothing.
        await page.Locator("form:has(#cap)").EvaluateAsync("form => form.noValidate = true");
        await page.GetByRole(AriaRole.Button, new() { NameRegex = Browsing.Text("^Save the rules as version") }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "Nothing was sent" })).ToHaveTextAsync("Nothing was sent: correct the marked field first.");

        var budget = page.GetByLabel("Points", new() { Exact = true });
        await budget.FillAsync("99999999999");
        await budget.BlurAsync();
        await Expect(page.Locator("#budget-amount-problem")).ToHaveTextAsync("99999999999 is out of range: enter a number from 0 to 10000000.");
        await page.KeepScreenshotAsync("hr-number-out-of-range");

        var after = await IncentivesCalls.Call<GetIncentiveRulesRequest, GetIncentiveRulesResponse>("GetIncentiveRules", new GetIncentiveRulesRequest(),
            _system.Token(Seed.Hr, Roles.Hr), Ct);
        after.Version.ShouldBe(before.Version);

        // Corrected (to what it was: the other journeys count on it), the field's error goes and the rules are saved.
        var peerPoints = before.Rules.SourcePoints.Single(p => p.Source == ObservationSource.Peer).Points;
        await colleague.FillAsync(peerPoints.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await colleague.BlurAsync();
        await Expect(page.Locator("#points-Peer-problem")).ToHaveCountAsync(0);
        await page.GetByRole(AriaRole.Button, new() { NameRegex = Browsing.Text("^Save the rules as version") }).ClickAsync();
        await Expect(page.GetByText(Browsing.Text("^Version \\d+ of the rules is in force\\.$"))).ToBeVisibleAsync();
        var saved = await IncentivesCalls.Call<GetIncentiveRulesRequest, GetIncentiveRulesResponse>("GetIncentiveRules", new GetIncentiveRulesRequest(),
            _system.Token(Seed.Hr, Roles.Hr), Ct);
        saved.Version.ShouldBe(before.Version + 1);
        saved.Rules.SourcePoints.Single(p => p.Source == ObservationSource.Peer).Points.ShouldBe(peerPoints);
    }

    [Fact]
    public async Task TextBeyondAFieldsLimitCannotBeTypedAndTheCircuitKeepsWhatWasTyped()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "hr/behaviours", Seed.Hr, Roles.Hr);

        // 30,000 characters (two bytes each in UTF-8) into a field that takes any text the services take (20,000).
        var examples = page.GetByLabel("Examples, one per line");
        await examples.FillAsync(new string('ø', 30_000));
        (await examples.InputValueAsync()).Length.ShouldBe(20_000);
        await Expect(page.Locator("#behaviour-examples-count")).ToHaveTextAsync("20000 of 20000 characters");

        // The page holds all of it: the service's answer (the name is missing) re-renders the form with the text still there.
        await page.GetByRole(AriaRole.Button, new() { Name = "Define the behaviour" }).ClickAsync();
        await Expect(page.Locator("#problem-behaviour-name")).ToContainTextAsync("A name of 1 to");
        (await examples.InputValueAsync()).ShouldBe(new string('ø', 20_000));
        await Expect(page.Locator("#behaviour-examples-count")).ToHaveTextAsync("20000 of 20000 characters");

        // A field with a bound of its own stops at it, and shows it.
        var name = page.GetByLabel("Name", new() { Exact = true });
        await name.FillAsync(new string('n', 250));
        (await name.InputValueAsync()).Length.ShouldBe(200);
        await Expect(page.Locator("#behaviour-name-count")).ToHaveTextAsync("200 of 200 characters");
        await Expect(page.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
        await page.KeepScreenshotAsync("hr-long-text-kept");
    }
}
