using System.Text.RegularExpressions;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Playwright;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>
/// Issue 23, acceptance 5: every page of the portal, as each role, shows nothing a person should not see: no raw hash or
/// uuid, no enum constant, no proto field name, no "The request is invalid." without the field, no stack trace or exception;
/// a page a role may not open shows the portal's "Not for your role" page, never an error.
/// </summary>
public sealed partial class RoleJourneyTests
{
    /// <summary>Who signs in for each role: the line manager is an employee (no other role) who manages the seeded people.</summary>
    private static readonly (string Name, string Person, string[] Roles)[] SweepRoles =
    [
        ("employee", "e3", [Roles.Employee]),
        ("line manager", Seed.Executive, [Roles.Employee]),
        ("hr", Seed.Hr, [Roles.Hr]),
        ("executive", Seed.Executive, [Roles.Executive]),
        ("change manager", Seed.ChangeManager, [Roles.ChangeManager]),
    ];

    /// <summary>Every page (each @page route, with the query its links add) and the roles that open it (empty: everyone signed in).</summary>
    private (string Path, string[] Roles)[] SweepPages()
    {
        var initiative = _system.Seeded.ActiveInitiativeId;
        string[] everyone = [];
        return
        [
            ("", everyone), ("me", everyone), ("me/give", everyone), ("me/spend", everyone), ("stories", everyone),
            ("leaderboard", everyone), ("behaviours", everyone), ("me/surveys", everyone), ($"me/surveys/{Seed.OpenAssessment}", everyone),
            ("me/concern", everyone), ("me/notifications", everyone), ("me/notifications/preferences", everyone), ("not-found", everyone), ("denied", everyone),
            ("executive", [Roles.Executive]), ($"executive?scope=sales", [Roles.Executive]), ("executive/initiatives", [Roles.Executive]),
            ("executive/endorsements", [Roles.Executive]),
            ("results", [Roles.Hr, Roles.Executive]), ("results?assessment=pulse-autumn&compare=baseline-spring", [Roles.Hr, Roles.Executive]),
            ("results?assessment=pulse-autumn&unit=support", [Roles.Hr, Roles.Executive]),
            ("audit", [Roles.Hr, Roles.Executive]), ($"audit?service=Initiatives&entity=initiative&id={initiative}", [Roles.Hr, Roles.Executive]),
            ("endstate", [Roles.Hr, Roles.ChangeManager, Roles.Executive]), ($"endstate?scope={Seed.Root}", [Roles.Hr, Roles.ChangeManager, Roles.Executive]),
            ("hr", [Roles.Hr]), ($"hr?assessment={Seed.OpenAssessment}", [Roles.Hr]), ("hr?assessment=pulse-autumn", [Roles.Hr]),
            ("hr/behaviours", [Roles.Hr]), ("hr/rules", [Roles.Hr]), ("hr/review", [Roles.Hr]), ("hr/rewards", [Roles.Hr]), ("hr/surveys", [Roles.Hr]), ("hr/equity", [Roles.Hr]),
            ("hr/callouts", [Roles.Hr]), ("hr/concerns", [Roles.Hr]),
            ("change/propose", [Roles.ChangeManager, Roles.Hr]),
            ("change", [Roles.ChangeManager]), ("change/observations", [Roles.ChangeManager]), ($"change/observations?initiative={initiative}", [Roles.ChangeManager]),
            ("change/stories", [Roles.ChangeManager]), ($"change/stories?initiative={initiative}", [Roles.ChangeManager]),
        ];
    }

    [Fact]
    public void TheSweepVisitsEveryRouteOfThePortal()
    {
        // Every @page of the portal's assembly (but sign-in and the error page, which are no place a person browses to).
        var routes = typeof(Transformation.Portal.Web.Extensions).Assembly.GetTypes()
            .SelectMany(t => t.GetCustomAttributes(typeof(Microsoft.AspNetCore.Components.RouteAttribute), inherit: false))
            .Select(a => ((Microsoft.AspNetCore.Components.RouteAttribute)a).Template.TrimStart('/'))
            .Where(template => template is not ("signin" or "error"))
            .ToList();
        routes.ShouldNotBeEmpty();
        var visited = SweepPages().Select(p => p.Path.Split('?')[0]).ToList();
        routes.Where(template =>
        {
            var pattern = new Regex("^" + Regex.Replace(Regex.Escape(template), @"\\\{[^}]+}", "[^/]+", RegexOptions.None, TimeSpan.FromSeconds(1)) + "$", RegexOptions.None, TimeSpan.FromSeconds(1));
            return !visited.Any(pattern.IsMatch);
        }).ShouldBeEmpty("every page is in SweepPages()");
    }

    [Fact]
    public async Task EveryPageAsEveryRoleShowsOnlyWordsAPersonUsesAndTheDeniedPageWhereTheRoleMayNotGo()
    {
        await SeedWhatTheSweepShowsAsync();
        var findings = new List<string>();
        foreach (var (role, person, roles) in SweepRoles)
        {
            await using var context = await _system.Browser.NewContextAsync();
            var page = await Browsing.SignInAsync(context, Portal, "", person, roles);
            foreach (var (path, allowed) in SweepPages())
            {
                await page.GotoAsync(new Uri(Portal, path).ToString());
                await Expect(page.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
                var text = await SettledTextAsync(page);
                var where = $"/{path} as {role}";
                var heading = await page.Locator("main h1").First.InnerTextAsync();
                if (allowed.Length > 0 && !allowed.Intersect(roles).Any())
                {
                    if (heading != "Not for your role")
                    {
                        findings.Add($"{where}: shows \"{heading}\", not the denied page");
                    }

                    continue;
                }

                if (heading is "Not for your role" or "Something went wrong" && path != "denied")
                {
                    findings.Add($"{where}: shows \"{heading}\"");
                }

                findings.AddRange(Unreadable(text).Select(f => $"{where}: {f}"));
                if (await page.Locator("#blazor-error-ui").IsVisibleAsync())
                {
                    findings.Add($"{where}: the circuit failed");
                }
            }
        }

        findings.ShouldBeEmpty(string.Join("\n", findings));
    }

    /// <summary>Something on the pages whose words are judged: a held reward of a report, an observation with its evidence.</summary>
    private async Task SeedWhatTheSweepShowsAsync()
    {
        await InitiativesCalls.Call<RecordObservationRequest, RecordObservationResponse>("RecordObservation", new RecordObservationRequest
        {
            Observation = new ObservationInput
            {
                IdempotencyKey = "sweep-observation", InitiativeId = _system.Seeded.ActiveInitiativeId, EmployeeId = "e5", BehaviourId = "helps-customers",
                Source = ObservationSource.Manager, ObserverId = Seed.ChangeManager,
                ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(-5)), Evidence = "Called a customer back the same day",
            },
        }, _system.Token(Seed.ChangeManager, Roles.ChangeManager), Ct);
    }

    /// <summary>The page's visible text once the circuit has drawn what its services answered (it stops changing), bounded.</summary>
    private static async Task<string> SettledTextAsync(IPage page)
    {
        var text = await page.Locator("body").InnerTextAsync();
        for (var attempt = 0; attempt < 20; attempt++)
        {
            await Task.Delay(250, Ct);
            var again = await page.Locator("body").InnerTextAsync();
            if (again == text && !again.Contains("Loading", StringComparison.Ordinal))
            {
                break;
            }

            text = again;
        }

        // The column names a CSV file must have are the file's words, not the portal's: a person types them into the file.
        foreach (var columns in await page.Locator("[data-file-columns]").AllInnerTextsAsync())
        {
            text = text.Replace(columns, "", StringComparison.Ordinal);
        }

        return text + "\n" + await page.TitleAsync();
    }

    /// <summary>
    /// Seeded ids the test organisation uses as titles ("pulse-autumn", "e3") are data a person typed, so only what no
    /// person types is judged: hashes and uuids, constant-case and Pascal-case enum names, snake_case names, the generic
    /// "The request is invalid." and anything of a stack trace.
    /// </summary>
    public static IEnumerable<string> Unreadable(string text)
    {
        foreach (Match m in InternalText().Matches(text))
        {
            yield return $"\"{m.Value}\" in \"{Around(text, m.Index)}\"";
        }

        foreach (var name in EnumNames.Where(n => Regex.IsMatch(text, $@"\b{n}\b", RegexOptions.None, TimeSpan.FromSeconds(1))))
        {
            yield return $"the enum name \"{name}\"";
        }
    }

    private static string Around(string text, int index)
    {
        var start = Math.Max(0, index - 40);
        return text[start..Math.Min(text.Length, index + 60)].ReplaceLineEndings(" ");
    }

    /// <summary>Every enum value of the contracts as C# names it in full ("InitiativeStatusActive").</summary>
    private static readonly string[] EnumNames =
    [
        .. new[] { DirectoryReflection.Descriptor, IncentivesReflection.Descriptor, BaselinesReflection.Descriptor, InitiativesReflection.Descriptor, EndstateReflection.Descriptor }
            .SelectMany(f => f.EnumTypes.Concat(f.MessageTypes.SelectMany(Nested)))
            .SelectMany(e => e.Values.Select(v => string.Concat(v.Name.Split('_').Select(w => w[..1] + w[1..].ToLowerInvariant()))))
            .Distinct(StringComparer.Ordinal),
    ];

    private static IEnumerable<EnumDescriptor> Nested(MessageDescriptor message) => message.EnumTypes.Concat(message.NestedTypes.SelectMany(Nested));

    [GeneratedRegex(
        @"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b" + // a uuid
        @"|\b[0-9a-fA-F]{32,}\b" + // a hash
        @"|\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b" + // an enum constant
        @"|\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b" + // a proto field
        @"|The request is invalid\." +
        @"|\b\w*Exception\b|\bat [\w.`<>]+\(|Grpc\.Core|StatusCode=|Status\(|This part of the page failed to show",
        RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex InternalText();
}
