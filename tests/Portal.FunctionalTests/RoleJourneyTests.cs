using System.Text;
using Microsoft.Playwright;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>Each role's main journey, end to end in Chromium against the real services: sign in, act, see the result.</summary>
public sealed partial class RoleJourneyTests : IClassFixture<PortalSystem>
{
    private readonly PortalSystem _system;

    public RoleJourneyTests(PortalSystem system)
    {
        _system = system;
        // Events travel between services (outbox, broker, handlers): expectations wait for them, without timing anything.
        SetDefaultExpectTimeout(30_000);
    }

    private Uri Portal => _system.PortalAddress;

    [Fact]
    public async Task ExecutiveSeesTheCultureGapAndEndorsesTheEndState()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "executive", Seed.Executive, Roles.Executive);
        var gap = page.Locator("svg[data-chart=gap]");
        await Expect(gap).ToBeVisibleAsync();
        await Expect(gap).ToContainTextAsync("Customer focus");
        await Expect(gap.Locator("rect.s-target")).ToHaveCountAsync(3); // the legend's and one per dimension
        await Expect(page.GetByTestId("end-state-status")).ToContainTextAsync("proposed, not yet endorsed");
        await Expect(page.Locator("svg[data-chart=trend-customer-focus] polyline")).ToHaveCountAsync(2); // measured, projection
        await Expect(page.Locator("svg[data-chart=heatmap]")).ToContainTextAsync("Support");

        await page.OpenAsync(Portal, "executive/endorsements");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sponsor Open doors" }).ClickAsync();
        await Expect(page.GetByTestId("endorsement-done")).ToHaveTextAsync("You sponsor Open doors; its change manager can start it now.");
        await page.GetByLabel("Comment (optional)").FillAsync("Agreed with the leadership team.");
        await page.GetByRole(AriaRole.Button, new() { Name = "Endorse version 2" }).ClickAsync();
        await Expect(page.GetByTestId("endorsement-done")).ToHaveTextAsync("You endorsed the end state of Acme: version 3 is now in force.");

        await page.OpenAsync(Portal, "executive");
        await Expect(page.GetByTestId("end-state-status")).ToHaveTextAsync("endorsed");
        await Expect(page.Locator("svg[data-chart=gap]")).ToBeVisibleAsync();
        await page.KeepScreenshotAsync("executive-gap-after-endorsement");
    }

    [Fact]
    public async Task HrDefinesABehaviourAndUploadsSurveyResponsesWithLineLevelErrors()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "hr/behaviours", Seed.Hr, Roles.Hr);
        await page.GetByRole(AriaRole.Button, new() { Name = "Define the behaviour" }).ClickAsync();
        await Expect(page.Locator("#problem-behaviour-name")).ToContainTextAsync("A name of 1 to");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("Shares knowledge");
        await page.GetByLabel("Why it matters").FillAsync("What one of us learns, all of us can use.");
        await page.GetByLabel("Examples, one per line").FillAsync("Writes up what a customer taught us\nPairs with a new colleague");
        await page.GetByLabel("Openness").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Define the behaviour" }).ClickAsync();
        await Expect(page.GetByTestId("behaviour-defined")).ToContainTextAsync("\"Shares knowledge\" is in the catalogue");
        await Expect(page.GetByTestId("behaviours").GetByRole(AriaRole.Rowheader, new() { Name = "Shares knowledge" })).ToContainTextAsync("What one of us learns");
        await Expect(page.Locator("#problem-behaviour-name")).ToHaveCountAsync(0);

        await page.OpenAsync(Portal, $"hr?assessment={Seed.OpenAssessment}");
        await Expect(page.GetByTestId("respondents")).ToHaveTextAsync("0");
        await page.Locator("#responses-file").SetInputFilesAsync(Csv("responses-with-a-bad-line.csv",
            "w-1,sales,0-2,staff,Oslo,4,5", "w-2,sales,0-2,staff,Oslo,4,7", "w-3,support,2-5,staff,Oslo,3,4"));
        var problems = page.GetByTestId("upload-problems");
        await Expect(problems.Locator("tbody tr")).ToHaveCountAsync(1);
        await Expect(problems.Locator("tbody tr")).ToContainTextAsync("3q27 is out of range: an answer is 1 to 5, or empty.");
        await Expect(page.GetByTestId("upload-result")).ToHaveTextAsync("Nothing was stored: the file has 1 problem.");
        await Expect(page.GetByTestId("respondents")).ToHaveTextAsync("0");

        await page.Locator("#responses-file").SetInputFilesAsync(Csv("responses.csv",
            "w-1,sales,0-2,staff,Oslo,4,5", "w-2,sales,0-2,staff,Oslo,4,4", "w-3,sales,2-5,lead,Oslo,3,",
            "w-4,support,2-5,staff,Oslo,3,4", "w-5,support,5+,staff,Bergen,5,4", "w-6,support,5+,lead,Bergen,4,3"));
        await Expect(page.GetByTestId("upload-result")).ToHaveTextAsync("6 responses accepted.");
        await Expect(page.Locator("#upload-progress")).ToHaveAttributeAsync("value", "100");
        await Expect(page.GetByTestId("respondents")).ToHaveTextAsync("6");
        await page.KeepScreenshotAsync("hr-responses-uploaded");
    }

    [Fact]
    public async Task ChangeManagerRecordsAnObservationAndSubmitsASuccessStory()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "change", Seed.ChangeManager, Roles.ChangeManager);
        var initiative = page.GetByTestId("initiative").Filter(new() { HasText = "Customer first" });
        await Expect(initiative).ToContainTextAsync("active");
        await Expect(initiative).ToContainTextAsync("Five customers helped");

        await page.OpenAsync(Portal, "change/observations");
        await Expect(page.Locator("#initiative")).ToHaveValueAsync(_system.Seeded.ActiveInitiativeId);
        await page.PickPersonAsync("employee", "Erik Berg");
        await page.Locator("#behaviour").SelectOptionAsync("helps-customers");
        await page.GetByLabel("Evidence (a short text or a link)").FillAsync("Stayed on a customer's outage call until it was fixed");
        await page.GetByRole(AriaRole.Button, new() { Name = "Record the observation" }).ClickAsync();
        await Expect(page.GetByTestId("observation-recorded")).ToHaveTextAsync("Recorded: Erik Berg showed \"Helps customers\".");

        await page.OpenAsync(Portal, "change/stories");
        await page.GetByLabel("Title").FillAsync("An outage that made a customer stay");
        await page.GetByLabel("What changed").FillAsync("Erik stayed until the outage was fixed; the customer renewed for three years.");
        await page.GetByLabel(Browsing.Text("Stayed on a customer's outage call")).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save the draft" }).ClickAsync();
        await Expect(page.GetByTestId("story-status")).ToHaveTextAsync("draft");
        await Expect(page.GetByTestId("story")).ToContainTextAsync("Evidence: 1 observations");
        await page.GetByRole(AriaRole.Button, new() { Name = "Submit for publication" }).ClickAsync();
        await Expect(page.GetByTestId("story-status")).ToHaveTextAsync("submitted");
        await Expect(page.GetByTestId("story")).ToContainTextAsync("The sponsor, Eva Executive, publishes it");
        await page.KeepScreenshotAsync("change-manager-story-submitted");
    }

    [Fact]
    public async Task EmployeeSeesRecognitionArriveWithoutReloadingWhenAnObservationEarnsIt()
    {
        await using var employeeContext = await _system.Browser.NewContextAsync();
        var employee = await Browsing.SignInAsync(employeeContext, Portal, "me", "e1", Roles.Employee);
        await Expect(employee.GetByTestId("live-status")).ToHaveTextAsync("Live: new recognition appears here as soon as it is granted.");
        await Expect(employee.GetByTestId("no-recognition")).ToBeVisibleAsync();
        await employee.EvaluateAsync("() => { window.sameDocument = true; }");

        await using var managerContext = await _system.Browser.NewContextAsync();
        var manager = await Browsing.SignInAsync(managerContext, Portal, "change/observations", Seed.ChangeManager, Roles.ChangeManager);
        await manager.PickPersonAsync("employee", "Emma Stone");
        await manager.Locator("#behaviour").SelectOptionAsync("helps-customers");
        await manager.GetByLabel("Evidence (a short text or a link)").FillAsync("Welcomed a new customer in their own language");
        await manager.GetByRole(AriaRole.Button, new() { Name = "Record the observation" }).ClickAsync();
        await Expect(manager.GetByTestId("observation-recorded")).ToHaveTextAsync("Recorded: Emma Stone showed \"Helps customers\".");

        var recognition = employee.GetByTestId("recognition");
        await Expect(recognition).ToHaveCountAsync(1);
        await Expect(recognition).ToContainTextAsync("Helps customers: 10 points");
        await Expect(recognition).ToContainTextAsync("A manager (Carl Changer)");
        await Expect(employee.GetByTestId("period-points")).ToHaveTextAsync("10");
        (await employee.EvaluateAsync<bool>("() => window.sameDocument === true")).ShouldBeTrue("the page was reloaded");
        await employee.KeepScreenshotAsync("employee-recognition-arrived-live");
    }

    [Fact]
    public async Task AServiceThatIsDownIsNamedOnThePageInsteadOfAnError()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var portal = _system.PortalWithoutIncentivesAddress;
        var page = await Browsing.SignInAsync(context, portal, "me", "e3", Roles.Employee);
        await Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("Incentives is not answering; your recognition will show when it is back.");
        await Expect(page.GetByTestId("live-status")).ToHaveTextAsync("Incentives is not answering; new recognition will show when it is back.");
        await page.KeepScreenshotAsync("service-down-message");
    }

    [Fact]
    public async Task APersonSignsInWithTheOrganisationsOpenIdProviderAndThePortalCallsTheServicesWithTheirAccessToken()
    {
        _system.OpenIdProvider.Person = ("e4", "Eli Grant", [Roles.Employee]);
        var portal = _system.PortalWithOidcAddress;
        await using var context = await _system.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(portal, "me").ToString());
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "As a demo identity" })).ToHaveCountAsync(0);
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in with your organisation" }).ClickAsync();

        await Expect(page.GetByTestId("signed-in-as")).ToHaveTextAsync("Eli Grant · employee");
        await Expect(page).ToHaveURLAsync(new Uri(portal, "me").ToString());
        await Expect(page.GetByTestId("live-status")).ToHaveTextAsync("Live: new recognition appears here as soon as it is granted.");
        await Expect(page.GetByTestId("no-recognition")).ToBeVisibleAsync();
        _system.OpenIdProvider.TokensIssued.ShouldBe(1);
        var cookies = await context.CookiesAsync();
        cookies.Single(c => c.Name == "transformation-portal").HttpOnly.ShouldBeTrue();
        (await page.EvaluateAsync<string>("() => document.documentElement.outerHTML")).ShouldNotContain("eyJ", Case.Sensitive, "a token reached the page");
        await page.KeepScreenshotAsync("oidc-signed-in");
    }

    [Fact]
    public async Task MainPagesFitAPhoneScreenWithoutSidewaysScrolling()
    {
        await using var context = await _system.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 375, Height = 740 } });
        var page = await Browsing.SignInAsync(context, Portal, "", Seed.ChangeManager, Roles.Executive, Roles.Hr, Roles.ChangeManager, Roles.Employee);
        // Each page with what shows that its data is there (the interactive circuit reads it again after the prerendered HTML).
        var pages = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["executive"] = "svg[data-chart=heatmap]",
            ["executive/initiatives"] = "svg[data-chart=adoption]",
            ["hr"] = "[data-testid=dimensions]",
            ["hr/behaviours"] = "[data-testid=behaviours]",
            ["change"] = "[data-testid=initiative]",
            ["change/observations"] = "#behaviour option[value=helps-customers]",
            ["change/propose"] = "#sponsor-search",
            ["me"] = "[data-testid=live-status]",
            ["stories"] = "text=Recent public recognition",
            ["behaviours"] = "[data-testid=desired-behaviours]",
            ["me/concern"] = "#concern-behaviour option[value=blames-others]",
            ["hr/concerns"] = "[data-testid=call-outs], [data-testid=call-outs-empty]",
        };
        foreach (var (path, content) in pages)
        {
            await page.GotoAsync(new Uri(Portal, path).ToString());
            await Expect(page.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
            await Expect(page.Locator(content).First).ToBeAttachedAsync();
            var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
            overflow.ShouldBeLessThanOrEqualTo(0, $"/{path} scrolls sideways on a phone");
            if (path == "executive")
            {
                await page.KeepScreenshotAsync("phone-culture-gap");
            }
        }
    }

    [Fact]
    public async Task APersonSignsInAndMovesAroundWithTheKeyboardAlone()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(Portal, "signin").ToString());
        await page.Locator("#employee").FocusAsync();
        await page.Keyboard.TypeAsync("Emma");
        await Expect(page.Locator("#employee")).ToHaveValueAsync("e1");
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.Locator("#role-hr")).ToBeFocusedAsync();
        while (!await page.Locator("button[type=submit]").EvaluateAsync<bool>("b => b === document.activeElement"))
        {
            await page.Keyboard.PressAsync("Tab");
        }

        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("signed-in-as")).ToContainTextAsync("Emma Stone");
        await Expect(page.Locator("main[data-interactive=true]")).ToBeAttachedAsync();

        // The navigation's links are reached with Tab and followed with Enter; the focused one shows a visible outline.
        var link = page.GetByRole(AriaRole.Link, new() { Name = "Behaviours wanted" });
        await link.FocusAsync();
        (await link.EvaluateAsync<string>("a => getComputedStyle(a).outlineStyle")).ShouldNotBe("none");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("h1")).ToHaveTextAsync("Behaviours wanted, and why");
        await Expect(page.GetByTestId("desired-behaviours")).ToContainTextAsync("Helps customers");
    }

    private static FilePayload Csv(string name, params string[] rows) => new()
    {
        Name = name,
        MimeType = "text/csv",
        Buffer = Encoding.UTF8.GetBytes(string.Join('\n', ["respondent_token,org_unit_id,tenure_band,role_level,location,q1,q2", .. rows]) + "\n"),
    };
}
