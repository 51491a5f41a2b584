using Transformation.Incentives.V1;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>Pages that ask for an incentive period ask for the kind the rules count in.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task RecognitionEquityAsksForThePeriodsTheIncentiveRulesCountIn()
    {
        var hrToken = _system.Token(Seed.Hr, Roles.Hr);
        var monthly = await IncentivesCalls.Call<GetIncentiveRulesRequest, GetIncentiveRulesResponse>("GetIncentiveRules", new GetIncentiveRulesRequest(), hrToken, Ct);
        var weekly = await SetPeriodAsync(monthly, PeriodKind.Week, hrToken);
        try
        {
            await using var context = await _system.Browser.NewContextAsync();
            var page = await Browsing.SignInAsync(context, Portal, "hr/equity", Seed.Hr, Roles.Hr);
            var period = page.GetByLabel("Week", new() { Exact = true });
            await Expect(period).ToHaveValueAsync(Browsing.Text("^\\d{4}-W\\d{2}$"));
            await Expect(period.Locator("option").First).ToHaveTextAsync(Browsing.Text("^\\d{4}-W\\d{2}$"));
            await Expect(page.GetByTestId("equity-summary")).ToContainTextAsync(Browsing.Text("In \\d{4}-W\\d{2}, \\d+\\s?% of people received recognition"));
            await Expect(page.GetByLabel("Month", new() { Exact = true })).ToHaveCountAsync(0);
        }
        finally
        {
            // Monthly again: the other journeys count on it.
            await SetPeriodAsync(weekly, PeriodKind.Month, hrToken);
        }
    }

    private async Task<GetIncentiveRulesResponse> SetPeriodAsync(GetIncentiveRulesResponse current, PeriodKind period, string token)
    {
        var rules = current.Rules.Clone();
        rules.Period = period;
        await IncentivesCalls.Call<UpdateIncentiveRulesRequest, UpdateIncentiveRulesResponse>("UpdateIncentiveRules",
            new UpdateIncentiveRulesRequest { IdempotencyKey = Guid.NewGuid().ToString("n"), ExpectedVersion = current.Version, Rules = rules }, token, Ct);
        return await IncentivesCalls.Call<GetIncentiveRulesRequest, GetIncentiveRulesResponse>("GetIncentiveRules", new GetIncentiveRulesRequest(), token, Ct);
    }
}
