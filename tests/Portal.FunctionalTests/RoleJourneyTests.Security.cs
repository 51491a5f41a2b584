using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>
/// The portal's answers as an attacker or a proxy sees them: its security headers, Secure cookies behind a TLS-terminating
/// proxy, and 400 (never 500) for forms without the antiforgery token and return addresses with control characters.
/// </summary>
public sealed partial class RoleJourneyTests
{
    private const string SessionCookie = "transformation-portal";

    [Fact]
    public async Task EveryAnswerCarriesNoSniffingAReferrerPolicyAndAScriptPolicy()
    {
        using var http = Http();
        foreach (var path in new[] { "signin", "_framework/blazor.web.js", "not-found", "health/live" })
        {
            using var response = await http.GetAsync(new Uri(Portal, path), Ct);
            string.Join(" | ", response.Headers.GetValues("X-Content-Type-Options")).ShouldBe("nosniff", path);
            string.Join(" | ", response.Headers.GetValues("Referrer-Policy")).ShouldBe("same-origin", path);
            var policy = string.Join(" | ", response.Headers.GetValues("Content-Security-Policy"));
            policy.ShouldNotContain(" | ", Case.Sensitive, path);
            policy.ShouldContain("script-src 'self';", Case.Sensitive, path);
            policy.ShouldContain("frame-ancestors 'none'", Case.Sensitive, path);
        }
    }

    [Fact]
    public async Task PagesRunInteractivelyUnderTheContentSecurityPolicy()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var violations = new List<string>();
        context.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.Ordinal))
            {
                violations.Add(message.Text);
            }
        };
        var page = await Browsing.SignInAsync(context, Portal, "executive", Seed.ChangeManager, Roles.Executive, Roles.Hr, Roles.ChangeManager, Roles.Employee);
        await Expect(page.Locator("svg[data-chart=heatmap]")).ToBeVisibleAsync();
        foreach (var path in new[] { "hr/rules", "change/observations", "me/give", "me" })
        {
            await page.GotoAsync(new Uri(Portal, path).ToString());
            await Expect(page.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
        }

        // The circuit answers clicks: the navigation runs inside it.
        await page.GetByRole(AriaRole.Link, new() { Name = "Behaviours wanted" }).ClickAsync();
        await Expect(page.GetByTestId("desired-behaviours")).ToContainTextAsync("Helps customers");
        violations.ShouldBeEmpty();
    }

    [Fact]
    public async Task TheSessionCookieIsSecureWhenATrustedProxySaysThePersonCameOverHttps()
    {
        using var http = Http();
        (await SignInCookieAsync(http, Portal, forwardedProto: "https")).ShouldContain("; secure", Case.Insensitive);
        (await SignInCookieAsync(http, Portal, forwardedProto: null)).ShouldNotContain("; secure", Case.Insensitive);
    }

    [Fact]
    public async Task AnUntrustedSenderCannotClaimHttps()
    {
        // Only this proxy is trusted; the test's requests come from 127.0.0.1.
        var portal = await _system.StartPortalAsync(new Dictionary<string, string?>(StringComparer.Ordinal) { ["Portal:TrustedProxies:0"] = "192.0.2.1" });
        using var http = Http();
        (await SignInCookieAsync(http, portal, forwardedProto: "https")).ShouldNotContain("; secure", Case.Insensitive);
    }

    [Fact]
    public async Task AFormWithoutTheAntiforgeryTokenIsABadRequest()
    {
        using var http = Http();
        foreach (var path in new[] { "signin/demo", "signout" })
        {
            using var response = await http.PostAsync(new Uri(Portal, path), new FormUrlEncodedContent([new("employee", "e1"), new("returnUrl", "/me")]), Ct);
            response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, path);
            (await response.Content.ReadAsStringAsync(Ct)).ShouldContain("did not come from this portal");
        }
    }

    [Theory]
    [InlineData("/me\tx")]
    [InlineData("/me\r\nSet-Cookie: stolen=1")]
    [InlineData("/me\n")]
    public async Task AReturnAddressWithAControlCharacterIsABadRequest(string returnUrl)
    {
        using var http = Http();
        var (cookie, token) = await AntiforgeryAsync(http, Portal);
        using var demo = new HttpRequestMessage(HttpMethod.Post, new Uri(Portal, "signin/demo"))
        {
            Content = new FormUrlEncodedContent([new("__RequestVerificationToken", token), new("employee", "e1"), new("returnUrl", returnUrl)]),
        };
        demo.Headers.Add("Cookie", cookie);
        using var demoResponse = await http.SendAsync(demo, Ct);
        demoResponse.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await demoResponse.Content.ReadAsStringAsync(Ct)).ShouldContain("returnUrl");
        demoResponse.Headers.Contains("Set-Cookie").ShouldBeFalse("nobody is signed in by a bad request");

        using var oidc = await http.GetAsync(new Uri(_system.PortalWithOidcAddress, "signin/oidc?returnUrl=" + Uri.EscapeDataString(returnUrl)), Ct);
        oidc.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }

    private static HttpClient Http() => new(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false });

    /// <summary>The sign-in page's antiforgery cookie (as a Cookie header) and form token.</summary>
    private static async Task<(string Cookie, string Token)> AntiforgeryAsync(HttpClient http, Uri portal)
    {
        using var page = await http.GetAsync(new Uri(portal, "signin"), Ct);
        var html = await page.Content.ReadAsStringAsync(Ct);
        var token = Regex.Match(html, "name=\"__RequestVerificationToken\" value=\"(?<token>[^\"]+)\"", RegexOptions.None, TimeSpan.FromSeconds(1)).Groups["token"].Value;
        token.ShouldNotBeEmpty();
        var cookie = page.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(".AspNetCore.Antiforgery.", StringComparison.Ordinal)).Split(';')[0];
        return (cookie, WebUtility.HtmlDecode(token));
    }

    /// <summary>Signs e1 in with the demo form (through a proxy that says the scheme, when given) and returns the session's Set-Cookie.</summary>
    private static async Task<string> SignInCookieAsync(HttpClient http, Uri portal, string? forwardedProto)
    {
        var (cookie, token) = await AntiforgeryAsync(http, portal);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(portal, "signin/demo"))
        {
            Content = new FormUrlEncodedContent([new("__RequestVerificationToken", token), new("employee", "e1"), new("returnUrl", "/me")]),
        };
        request.Headers.Add("Cookie", cookie);
        if (forwardedProto is not null)
        {
            request.Headers.Add("X-Forwarded-Proto", forwardedProto);
        }

        using var response = await http.SendAsync(request, Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        return response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(SessionCookie + "=", StringComparison.Ordinal));
    }
}
