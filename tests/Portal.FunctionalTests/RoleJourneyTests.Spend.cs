using Microsoft.Playwright;
using Transformation.Directory.V1;
using Transformation.Incentives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>Issue 25 in the browser: an employee spends points on the reward catalogue; a held redemption is rejected by their manager and refunded.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task AnEmployeeRedeemsAfterConfirmingAndTheirManagerRejectsAHeldRedemptionWhichRefundsIt()
    {
        // Two people in a unit of their own (the other journeys count the seeded units' people): a colleague recognises the
        // spender twice (10 points).
        var hr = _system.Token(Seed.Hr, Roles.Hr);
        var directory = new Seed.ServiceCalls(_system.Directory.Client, DirectoryReflection.Descriptor.Services[0]);
        await directory.Call<UpsertOrgUnitRequest, UpsertOrgUnitResponse>("UpsertOrgUnit", new UpsertOrgUnitRequest
        {
            IdempotencyKey = "unit-stores", OrgUnitId = "stores", Name = "Stores", ParentId = Seed.Root, Kind = OrgUnitKind.Department,
        }, hr, Ct);
        foreach (var (id, name) in new[] { ("s1", "Sam Spender"), ("s2", "Sara Giver") })
        {
            await directory.Call<UpsertEmployeeRequest, UpsertEmployeeResponse>("UpsertEmployee", new UpsertEmployeeRequest
            {
                IdempotencyKey = "person-" + id, EmployeeId = id, DisplayName = name, Email = id + "@acme.test", OrgUnitId = "stores",
                ManagerId = Seed.Executive, Active = true, Roles = { Role.Employee },
            }, hr, Ct);
        }

        await TestSql.WaitUntilAsync(_system.Incentives.Database, "SELECT count(*) FROM employees WHERE employee_id IN ('s1', 's2')", 2, Ct);
        foreach (var key in new[] { "spend-thanks-1", "spend-thanks-2" })
        {
            await IncentivesCalls.Call<GiveRecognitionRequest, GiveRecognitionResponse>("GiveRecognition", new GiveRecognitionRequest
            {
                IdempotencyKey = key, BehaviourId = "helps-customers", Message = "Thank you for the handover.", RecipientIds = { "s1" },
            }, _system.Token("s2", Roles.Employee), Ct);
        }

        var spender = _system.Token("s1", Roles.Employee);
        var before = (await IncentivesCalls.Call<GetPointsBalanceRequest, GetPointsBalanceResponse>("GetPointsBalance", new GetPointsBalanceRequest(), spender, Ct)).Balance;
        before.ShouldBeGreaterThanOrEqualTo(10);
        await IncentivesCalls.Call<DefineCatalogueRewardRequest, DefineCatalogueRewardResponse>("DefineCatalogueReward", new DefineCatalogueRewardRequest
        {
            IdempotencyKey = "coffee", CatalogueRewardId = "coffee",
            Reward = new CatalogueRewardDraft { Name = "Coffee voucher", Description = "A coffee at the corner café.", PointsCost = 5, Stock = 10 },
        }, hr, Ct);
        await IncentivesCalls.Call<DefineCatalogueRewardRequest, DefineCatalogueRewardResponse>("DefineCatalogueReward", new DefineCatalogueRewardRequest
        {
            IdempotencyKey = "half-day", CatalogueRewardId = "half-day",
            Reward = new CatalogueRewardDraft { Name = "Half a day off", PointsCost = 5, RequiresApproval = true },
        }, hr, Ct);

        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "me/spend", "s1", Roles.Employee);
        await Expect(page.GetByTestId("balance")).ToContainTextAsync($"You have {before} points to spend");

        // Nothing is spent before the confirmation.
        await page.GetByRole(AriaRole.Button, new() { Name = "Redeem Coffee voucher" }).ClickAsync();
        await Expect(page.GetByTestId("confirm-redeem")).ToContainTextAsync($"Spend 5 of your {before} points on Coffee voucher?");
        await page.GetByRole(AriaRole.Button, new() { Name = "Keep my points" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Redeem Coffee voucher" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Yes, spend 5 points" }).ClickAsync();
        await Expect(page.GetByTestId("redeemed")).ToHaveTextAsync($"You redeemed Coffee voucher for 5 points. Your balance is now {before - 5}.");
        await Expect(page.GetByTestId("catalogue")).ToContainTextAsync("9 left");

        await page.GetByRole(AriaRole.Button, new() { Name = "Redeem Half a day off" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Yes, spend 5 points" }).ClickAsync();
        await Expect(page.GetByTestId("redeemed")).ToContainTextAsync("Half a day off waits for approval");
        await Expect(page.GetByTestId("my-redemptions")).ToContainTextAsync("Half a day off (5 points): waiting for approval");
        await page.KeepScreenshotAsync("employee-spend-points");

        // The manager sees it waiting and rejects it: the points come back.
        await using var managerContext = await _system.Browser.NewContextAsync();
        var manager = await Browsing.SignInAsync(managerContext, Portal, "me/spend", Seed.Executive, Roles.Executive, Roles.Employee);
        var held = manager.GetByTestId("awaiting-approval").GetByRole(AriaRole.Listitem).Filter(new() { HasText = "Sam Spender" });
        await Expect(held).ToContainTextAsync("Half a day off for 5 points");
        await held.GetByRole(AriaRole.Button, new() { Name = "Reject and refund" }).ClickAsync();
        await Expect(manager.GetByTestId("redeemed")).ToHaveTextAsync("Rejected: 5 points are back in Sam Spender's balance.");

        (await IncentivesCalls.Call<GetPointsBalanceRequest, GetPointsBalanceResponse>("GetPointsBalance", new GetPointsBalanceRequest(), spender, Ct))
            .Balance.ShouldBe(before - 5);
    }

    [Fact]
    public async Task HrAddsALimitedRewardForOneUnitWithdrawsItOnlyOnceConfirmedAndExportsFulfilledRedemptions()
    {
        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "hr/rewards", Seed.Hr, Roles.Hr);
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("Team lunch");
        await page.GetByLabel("Points it costs").FillAsync("40");
        await page.GetByLabel("Limited stock").CheckAsync();
        await page.GetByLabel("Stock", new() { Exact = true }).FillAsync("4");
        await page.GetByLabel("Support and its teams").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Add the reward" }).ClickAsync();
        await Expect(page.GetByTestId("reward-done")).ToHaveTextAsync("Added: Team lunch, for 40 points.");
        var row = page.GetByTestId("rewards").GetByRole(AriaRole.Row).Filter(new() { HasText = "Team lunch" });
        await Expect(row).ToContainTextAsync("Support");
        await Expect(row).ToContainTextAsync("4");

        await row.GetByRole(AriaRole.Button, new() { Name = "Withdraw Team lunch" }).ClickAsync();
        await Expect(row.GetByTestId("confirm-withdraw")).ToContainTextAsync("Withdraw Team lunch? Nobody can redeem it any more.");
        await row.GetByRole(AriaRole.Button, new() { Name = "Keep it" }).ClickAsync();
        await Expect(row).Not.ToContainTextAsync("(withdrawn)");
        await row.GetByRole(AriaRole.Button, new() { Name = "Withdraw Team lunch" }).ClickAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = "Yes, withdraw Team lunch" }).ClickAsync();
        await Expect(page.GetByTestId("reward-done")).ToHaveTextAsync("Team lunch is withdrawn: nobody can redeem it any more.");
        await Expect(row).ToContainTextAsync("(withdrawn)");

        await page.GetByRole(AriaRole.Button, new() { Name = "Export as CSV" }).ClickAsync();
        await Expect(page.GetByTestId("export-csv")).ToHaveValueAsync(Browsing.Text("^employee_id,employee_name,reward_id,reward,quantity,points,fulfilled_at"));
        await page.KeepScreenshotAsync("hr-reward-catalogue");
    }
}
