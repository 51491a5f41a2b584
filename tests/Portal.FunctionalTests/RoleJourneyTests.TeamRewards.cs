using Google.Protobuf.WellKnownTypes;
using Microsoft.Playwright;
using Transformation.Directory.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>Issue 23, acceptance 1 (the line manager's part): a line manager approves a held reward of their report in the portal.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task ALineManagerApprovesAHeldRewardOfTheirReportWhichLeavesTheListAndShowsInTheReportsRecognition()
    {
        // A line manager with one report (people of their own), and a behaviour worth more than the approval threshold (1000).
        var hr = _system.Token(Seed.Hr, Roles.Hr);
        var directory = new Seed.ServiceCalls(_system.Directory.Client, DirectoryReflection.Descriptor.Services[0]);
        foreach (var (id, name, manager) in new[] { ("lm-1", "Lena Lead", Seed.Executive), ("r-1", "Rita Report", "lm-1") })
        {
            await directory.Call<UpsertEmployeeRequest, UpsertEmployeeResponse>("UpsertEmployee", new UpsertEmployeeRequest
            {
                IdempotencyKey = "person-" + id, EmployeeId = id, DisplayName = name, Email = id + "@acme.test", OrgUnitId = "partners",
                ManagerId = manager, Active = true, Roles = { Role.Employee },
            }, hr, Ct);
        }

        await IncentivesCalls.Call<DefineBehaviourRequest, DefineBehaviourResponse>("DefineBehaviour", new DefineBehaviourRequest
        {
            IdempotencyKey = "behaviour-rescue", BehaviourId = "leads-a-rescue",
            Behaviour = new BehaviourDraft
            {
                Name = "Leads a rescue", Description = "Takes charge when a customer's project is in trouble.", Polarity = Polarity.Desired,
                Dimensions = { new DimensionLink { DimensionId = "customer-focus", Weight = 1 } },
            },
        }, hr, Ct);
        var current = await IncentivesCalls.Call<GetIncentiveRulesRequest, GetIncentiveRulesResponse>("GetIncentiveRules", new GetIncentiveRulesRequest(), hr, Ct);
        var rules = current.Rules.Clone();
        rules.BehaviourPoints.Add(new BehaviourPoints { BehaviourId = "leads-a-rescue", Source = ObservationSource.Manager, Points = 1200 });
        rules.CapPerEmployee = 5000;
        await IncentivesCalls.Call<UpdateIncentiveRulesRequest, UpdateIncentiveRulesResponse>("UpdateIncentiveRules",
            new UpdateIncentiveRulesRequest { IdempotencyKey = "rules-rescue", ExpectedVersion = current.Version, Rules = rules }, hr, Ct);
        await TestSql.WaitUntilAsync(_system.Initiatives.Database, "SELECT count(*) FROM behaviours WHERE behaviour_id = 'leads-a-rescue'", 1, Ct);
        await TestSql.WaitUntilAsync(_system.Initiatives.Database, "SELECT count(*) FROM employees WHERE employee_id = 'r-1'", 1, Ct);
        await TestSql.WaitUntilAsync(_system.Incentives.Database, "SELECT count(*) FROM employees WHERE employee_id IN ('lm-1', 'r-1')", 2, Ct);

        await InitiativesCalls.Call<RecordObservationRequest, RecordObservationResponse>("RecordObservation", new RecordObservationRequest
        {
            Observation = new ObservationInput
            {
                IdempotencyKey = "rescue", EmployeeId = "r-1", BehaviourId = "leads-a-rescue", Source = ObservationSource.Manager, ObserverId = Seed.ChangeManager,
                ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(-5)), Evidence = "Ran the recovery of the Nordhavn project",
            },
        }, _system.Token(Seed.ChangeManager, Roles.ChangeManager), Ct);
        await TestSql.WaitUntilAsync(_system.Incentives.Database, "SELECT count(*) FROM outcomes WHERE employee_id = 'r-1' AND status = 1", 1, Ct);

        await using var context = await _system.Browser.NewContextAsync();
        var page = await Browsing.SignInAsync(context, Portal, "me", "lm-1", Roles.Employee);
        var held = page.GetByTestId("team-held-rewards").GetByRole(AriaRole.Listitem).Filter(new() { HasText = "Rita Report" });
        await Expect(held).ToContainTextAsync("Rita Report: 1200 points for \"Leads a rescue\"");

        // Nothing is decided before the confirmation.
        await held.GetByRole(AriaRole.Button, new() { Name = "Approve for Rita Report" }).ClickAsync();
        await Expect(page.GetByTestId("confirm-team-reward")).ToHaveTextAsync("Approve 1200 points for Rita Report? They count at once.");
        await held.GetByRole(AriaRole.Button, new() { Name = "Not now" }).ClickAsync();
        await Expect(page.GetByTestId("confirm-team-reward")).ToHaveCountAsync(0);
        await held.GetByRole(AriaRole.Button, new() { Name = "Approve for Rita Report" }).ClickAsync();
        await page.KeepScreenshotAsync("line-manager-team-held-reward");
        await held.GetByRole(AriaRole.Button, new() { Name = "Yes, approve for Rita Report" }).ClickAsync();
        await Expect(page.GetByTestId("team-reward-done")).ToHaveTextAsync("Approved: 1200 points for Rita Report count now.");
        await Expect(page.GetByTestId("team-held-rewards")).ToHaveCountAsync(0);
        await page.ReloadAsync();
        await Expect(page.Locator("main[data-interactive=true]")).ToBeAttachedAsync();
        await Expect(page.GetByTestId("no-recognition")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("team-held-rewards")).ToHaveCountAsync(0);

        await using var reportContext = await _system.Browser.NewContextAsync();
        var report = await Browsing.SignInAsync(reportContext, Portal, "me", "r-1", Roles.Employee);
        var recognition = report.GetByTestId("recognition").Filter(new() { HasText = "Leads a rescue" });
        await Expect(recognition).ToContainTextAsync("Leads a rescue: 1200 points");
        await Expect(recognition).ToContainTextAsync("granted");
        await Expect(report.GetByTestId("period-points")).ToHaveTextAsync("1200");

        // The rescue's points are taken out of the rules again: the rules journeys count on rules without them.
        var now = await IncentivesCalls.Call<GetIncentiveRulesRequest, GetIncentiveRulesResponse>("GetIncentiveRules", new GetIncentiveRulesRequest(), hr, Ct);
        var without = now.Rules.Clone();
        without.BehaviourPoints.Remove(without.BehaviourPoints.Single(p => p.BehaviourId == "leads-a-rescue"));
        await IncentivesCalls.Call<UpdateIncentiveRulesRequest, UpdateIncentiveRulesResponse>("UpdateIncentiveRules",
            new UpdateIncentiveRulesRequest { IdempotencyKey = "rules-rescue-undone", ExpectedVersion = now.Version, Rules = without }, hr, Ct);
    }
}
