using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>What every journey does in the browser: sign in, open a page once its circuit runs, keep a screenshot.</summary>
public static partial class Browsing
{
    /// <summary>Where the journeys' final pages are kept: TestResults/screenshots beside the test assembly.</summary>
    public static string ScreenshotFolder { get; } = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");

    /// <summary>
    /// Signs in on the sign-in page as a demo identity with the roles given (none: the person's Directory roles) and lands
    /// on <paramref name="path"/>, interactive.
    /// </summary>
    public static async Task<IPage> SignInAsync(IBrowserContext context, Uri portal, string path, string person, params string[] roles)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(portal, "signin?returnUrl=" + Uri.EscapeDataString("/" + path)).ToString());
        await page.Locator("#employee").SelectOptionAsync(person);
        foreach (var role in roles)
        {
            await page.Locator($"#role-{role}").CheckAsync();
        }

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(page.GetByTestId("signed-in-as")).ToBeVisibleAsync();
        await Expect(page.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
        return page;
    }

    /// <summary>
    /// Opens a page of the portal as its own links do: inside the running circuit (Blazor's router), or with a page load
    /// when none runs yet; returns once the page is interactive.
    /// </summary>
    public static async Task OpenAsync(this IPage page, Uri portal, string path)
    {
        var address = new Uri(portal, path).ToString();
        if (page.Url.StartsWith(portal.ToString(), StringComparison.Ordinal) && await page.Locator("main[data-interactive=true]").CountAsync() > 0)
        {
            await page.EvaluateAsync("address => Blazor.navigateTo(address)", address);
            await page.WaitForURLAsync(address);
        }
        else
        {
            await page.GotoAsync(address);
        }

        await Expect(page.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
    }

    /// <summary>Picks a person in a people picker as a person does: types part of the name, then adds them from what the Directory found.</summary>
    public static async Task PickPersonAsync(this IPage page, string pickerId, string name)
    {
        await page.Locator("#" + pickerId).FillAsync(name.Split(' ')[0]);
        await page.GetByTestId(pickerId + "-found").GetByRole(AriaRole.Button, new() { Name = "Add " + name, Exact = true }).ClickAsync();
        await Expect(page.GetByTestId(pickerId + "-picked")).ToContainTextAsync(name);
    }

    /// <summary>Keeps the page as a PNG in <see cref="ScreenshotFolder"/> and attaches it to the test's result.</summary>
    public static async Task KeepScreenshotAsync(this IPage page, string name)
    {
        System.IO.Directory.CreateDirectory(ScreenshotFolder);
        var file = Path.Combine(ScreenshotFolder, name + ".png");
        var png = await page.ScreenshotAsync(new PageScreenshotOptions { FullPage = true, Path = file });
        TestContext.Current.AddAttachment(name + ".png", png, "image/png");
    }

    /// <summary>The "Open a survey" part of /hr/surveys (the recurring pulse's form beside it has the same labels).</summary>
    public static ILocator OpenSurveyForm(IPage hr) => hr.Locator("details", new() { Has = hr.GetByText("Open a survey", new() { Exact = true }) });

    public static Regex Text(string pattern) => new(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
}
