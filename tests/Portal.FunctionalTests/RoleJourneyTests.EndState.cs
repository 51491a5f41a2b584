using Microsoft.Playwright;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>Step 2 of the method in the browser: HR drafts, revises and proposes a target end state; every named sponsor endorses it.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task HrDraftsAndProposesAnEndStateAndEachNamedSponsorEndorsesIt()
    {
        await using var hrContext = await _system.Browser.NewContextAsync();
        var hr = await Browsing.SignInAsync(hrContext, Portal, "endstate?scope=support", Seed.Hr, Roles.Hr);
        await Expect(hr.GetByTestId("end-state-empty")).ToContainTextAsync("Support has no end state yet. Write its vision");

        // Checked before sending: the vision is required.
        await hr.GetByRole(AriaRole.Button, new() { Name = "Save the draft" }).ClickAsync();
        await Expect(hr.Locator("#problem-draft-vision")).ToHaveTextAsync("Write the vision: where the culture must be after the change.");
        await Expect(hr.GetByRole(AriaRole.Alert).Filter(new() { HasText = "Nothing was sent" })).ToBeVisibleAsync();

        // A first draft without sponsors: saved, but proposing it is not offered until it names one.
        await hr.GetByLabel("Vision").FillAsync("Support owns every customer problem until the customer says it is solved.");
        await hr.GetByLabel("Customer focus").CheckAsync();
        await hr.GetByLabel("Target score for Customer focus").FillAsync("4.4");
        await hr.GetByLabel("Target score for Customer focus").BlurAsync();
        await hr.GetByRole(AriaRole.Button, new() { Name = "Save the draft" }).ClickAsync();
        await Expect(hr.GetByTestId("end-state-done")).ToHaveTextAsync(
            "Saved: draft version 1 of the end state of Support. To propose it, name at least one executive sponsor, then save it.");
        await Expect(hr.GetByTestId("end-state-status")).ToHaveTextAsync("draft");
        await Expect(hr.GetByTestId("propose-missing")).ToBeVisibleAsync();
        await Expect(hr.GetByRole(AriaRole.Button, new() { NameRegex = Browsing.Text("^Propose") })).ToHaveCountAsync(0);

        // Sponsors are found by typing part of a name; only executives are offered.
        var search = hr.Locator("#sponsor-search");
        await search.PressSequentiallyAsync("Hana");
        await Expect(hr.GetByTestId("sponsor-search-none")).ToHaveTextAsync("Nobody with the executive role matches \"Hana\".");
        await search.FillAsync("");
        await search.PressSequentiallyAsync("eva ex");
        await hr.GetByRole(AriaRole.Button, new() { Name = "Add Eva Executive" }).ClickAsync();
        await search.FillAsync("");
        await search.PressSequentiallyAsync("Felix");
        await hr.GetByRole(AriaRole.Button, new() { Name = "Add Felix Founder" }).ClickAsync();
        await Expect(hr.GetByTestId("sponsor-search-picked")).ToContainTextAsync("Eva Executive");
        await Expect(hr.GetByTestId("sponsor-search-picked")).ToContainTextAsync("Felix Founder");
        await hr.GetByRole(AriaRole.Button, new() { Name = "Save as version 2" }).ClickAsync();
        await Expect(hr.GetByTestId("end-state-done")).ToHaveTextAsync(
            "Saved: draft version 2 of the end state of Support. Propose it to the sponsors when it is ready.");
        await Expect(hr.GetByTestId("end-state-sponsors")).ToHaveTextAsync("Sponsors: Eva Executive; Felix Founder");

        await hr.GetByRole(AriaRole.Button, new() { Name = "Propose version 2 to the sponsors" }).ClickAsync();
        await Expect(hr.GetByTestId("end-state-done")).ToHaveTextAsync("Proposed: version 3 waits for Eva Executive, Felix Founder to endorse it.");
        await Expect(hr.GetByTestId("end-state-status")).ToHaveTextAsync("proposed: 0 of 2 sponsors endorsed");

        // Revising a proposal withdraws it: the page asks first, and keeping it changes nothing.
        await hr.GetByRole(AriaRole.Button, new() { Name = "Save as version 4" }).ClickAsync();
        await Expect(hr.GetByTestId("confirm-withdraw")).ToContainTextAsync("Version 3 is with its sponsors now. Saving a new draft withdraws it");
        await hr.GetByRole(AriaRole.Button, new() { Name = "Keep the proposal" }).ClickAsync();
        await Expect(hr.GetByTestId("confirm-withdraw")).ToHaveCountAsync(0);
        await Expect(hr.GetByTestId("end-state-status")).ToHaveTextAsync("proposed: 0 of 2 sponsors endorsed");

        // Each named sponsor endorses it in their inbox (each endorsement is a version of its own).
        await EndorseAsync(Seed.Executive, 3, "Your endorsement of the end state of Support is recorded; other sponsors still have to endorse.");
        await EndorseAsync(Seed.SecondExecutive, 4, "You endorsed the end state of Support: version 5 is now in force.");

        await hr.OpenAsync(Portal, "endstate?scope=sales");
        await hr.OpenAsync(Portal, "endstate?scope=support");
        await Expect(hr.GetByTestId("end-state-status")).ToHaveTextAsync("endorsed, in force");
        await Expect(hr.GetByTestId("end-state-sponsors")).ToContainTextAsync(Browsing.Text("Eva Executive \\(endorsed on \\d+ \\w+ \\d{4}\\); Felix Founder \\(endorsed on"));
        await Expect(hr.Locator("main")).Not.ToContainTextAsync(Seed.Executive);
        await Expect(hr.Locator("main")).Not.ToContainTextAsync("customer-focus");
        await hr.KeepScreenshotAsync("hr-end-state-endorsed");
    }

    private async Task EndorseAsync(string sponsor, int version, string confirmation)
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "executive/endorsements", sponsor, Roles.Executive);
        var card = page.Locator("article").Filter(new() { HasText = $"Support: version {version}" });
        await Expect(card).ToContainTextAsync("Support owns every customer problem");
        await card.GetByRole(AriaRole.Button, new() { Name = $"Endorse version {version}" }).ClickAsync();
        await Expect(page.GetByTestId("endorsement-done")).ToHaveTextAsync(confirmation);
    }

    [Fact]
    public async Task AnExecutiveWithoutAnEndStateIsLedToItsPageWhereOnlyAuthorsAreOfferedToDraftOne()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "executive?scope=sales", Seed.SecondExecutive, Roles.Executive);
        await Expect(page.GetByTestId("no-end-state")).ToContainTextAsync("Sales has no end state yet: HR or a change manager drafts one");
        await page.GetByRole(AriaRole.Link, new() { Name = "target end state page" }).ClickAsync();
        await Expect(page.GetByTestId("end-state-empty")).ToHaveTextAsync("Sales has no end state yet. HR or a change manager drafts one and names its sponsors; it will show here.");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Save the draft" })).ToHaveCountAsync(0);
        await Expect(page.Locator("#vision")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task SavingOverAVersionSomeoneElseSavedMeanwhileSavesNothingAndSaysSo()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "endstate?scope=partners", Seed.Hr, Roles.Hr);
        await Expect(page.GetByTestId("end-state-empty")).ToBeVisibleAsync();
        await new Seed.ServiceCalls(_system.EndState.Client, Transformation.EndState.V1.EndstateReflection.Descriptor.Services[0])
            .Call<Transformation.EndState.V1.DraftEndStateRequest, Transformation.EndState.V1.DraftEndStateResponse>("DraftEndState",
                new() { IdempotencyKey = "partners-elsewhere", ScopeOrgUnitId = "partners", Draft = new() { Vision = "Written in another window." } },
                _system.Token(Seed.ChangeManager, Roles.ChangeManager), Ct);

        await page.GetByLabel("Vision").FillAsync("Partners are treated as colleagues.");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save the draft" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "Nothing was saved" })).ToHaveTextAsync(
            "Nothing was saved: someone changed the end state of Partners meanwhile. It shows above as version 1; your vision and sponsors are kept below: check the targets and save again.");
        await Expect(page.GetByTestId("end-state-vision")).ToHaveTextAsync("Written in another window.");
        await Expect(page.Locator("#vision")).ToHaveValueAsync("Partners are treated as colleagues.");
        await Expect(page.Locator("main")).Not.ToContainTextAsync("Expected version");
    }
}
