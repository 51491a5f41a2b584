using Google.Protobuf.WellKnownTypes;
using Microsoft.Playwright;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>Issue 25, acceptance 1: a sponsor hears that an end state waits for their endorsement, in the inbox and by mail.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task AnExecutiveSeesTheEndorsementWaitingInTheInboxAndByMailAndItLeavesOnceEndorsed()
    {
        // A unit and a sponsor of its own (Logistics, Ines Inbox), so no other journey's proposal is in this inbox.
        var hr = _system.Token(Seed.Hr, Roles.Hr);
        var directory = new Seed.ServiceCalls(_system.Directory.Client, DirectoryReflection.Descriptor.Services[0]);
        await directory.Call<UpsertOrgUnitRequest, UpsertOrgUnitResponse>("UpsertOrgUnit", new UpsertOrgUnitRequest
        {
            IdempotencyKey = "unit-logistics", OrgUnitId = "logistics", Name = "Logistics", ParentId = Seed.Root, Kind = OrgUnitKind.Department,
        }, hr, Ct);
        await directory.Call<UpsertEmployeeRequest, UpsertEmployeeResponse>("UpsertEmployee", new UpsertEmployeeRequest
        {
            IdempotencyKey = "person-exec-inbox", EmployeeId = "exec-inbox", DisplayName = "Ines Inbox", Email = "exec-inbox@acme.test",
            OrgUnitId = "logistics", ManagerId = Seed.Executive, Active = true, Roles = { Role.Executive, Role.Employee },
        }, hr, Ct);
        await TestSql.WaitUntilAsync(_system.Notifications.Database, "SELECT count(*) FROM people WHERE employee_id = 'exec-inbox'", 1, Ct);
        await TestSql.WaitUntilAsync(_system.Notifications.Database, "SELECT count(*) FROM org_units WHERE org_unit_id = 'logistics'", 1, Ct);

        await using var context = await _system.Browser.NewContextAsync();
        var ines = await Browsing.SignInAsync(context, Portal, "me/notifications", "exec-inbox", Roles.Executive);
        await Expect(ines.GetByTestId("inbox-empty")).ToHaveTextAsync("Nothing waits for you.");

        var endState = new Seed.ServiceCalls(_system.EndState.Client, EndstateReflection.Descriptor.Services[0]);
        await endState.Call<DraftEndStateRequest, DraftEndStateResponse>("DraftEndState", new DraftEndStateRequest
        {
            IdempotencyKey = "logistics-draft", ScopeOrgUnitId = "logistics",
            Draft = new EndStateDraft
            {
                Vision = "Logistics tells the customer about a delay before the customer notices it.",
                SponsorIds = { "exec-inbox" },
                Targets = { new DimensionTarget { DimensionId = "customer-focus", TargetScore = 4.2, TargetDate = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddYears(1)) } },
            },
        }, hr, Ct);
        await endState.Call<ProposeEndStateRequest, ProposeEndStateResponse>("ProposeEndState",
            new ProposeEndStateRequest { IdempotencyKey = "logistics-propose", ScopeOrgUnitId = "logistics", ExpectedVersion = 1 }, hr, Ct);

        await TestSql.WaitUntilAsync(_system.Notifications.Database, "SELECT count(*) FROM notifications WHERE recipient_id = 'exec-inbox'", 1, Ct);

        // Live, without a reload: the header's count, and the inbox open on the page.
        await Expect(ines.GetByTestId("unread-count")).ToHaveTextAsync("1");
        var item = ines.GetByTestId("notification");
        await Expect(item).ToContainTextAsync("The target end state of Logistics waits for your endorsement.");
        await Expect(ines.Locator("main")).Not.ToContainTextAsync("logistics");
        await Expect(ines.Locator("main")).Not.ToContainTextAsync("ENDORSEMENT");

        await _system.Smtp.WaitForAsync(m => _system.Smtp.MessagesTo("exec-inbox@acme.test").Count > 0, Ct);
        var message = _system.Smtp.MessagesTo("exec-inbox@acme.test").ShouldHaveSingleItem();
        message.Subject.ShouldBe("The target end state of Logistics waits for your endorsement.");
        message.TextBody!.ShouldContain(new Uri(Portal, "executive/endorsements").ToString());

        await item.GetByRole(AriaRole.Link, new() { Name = "Endorse or decline" }).ClickAsync();
        var card = ines.Locator("article").Filter(new() { HasText = "Logistics: version 2" });
        await card.GetByRole(AriaRole.Button, new() { Name = "Endorse version 2" }).ClickAsync();
        await Expect(ines.GetByTestId("endorsement-done")).ToHaveTextAsync("You endorsed the end state of Logistics: version 3 is now in force.");

        await TestSql.WaitUntilAsync(_system.Notifications.Database,
            "SELECT count(*) FROM notifications WHERE recipient_id = 'exec-inbox' AND done_at IS NOT NULL", 1, Ct);
        await Expect(ines.GetByTestId("unread-count")).ToHaveCountAsync(0);
        await ines.OpenAsync(Portal, "me/notifications");
        await Expect(ines.GetByTestId("inbox-empty")).ToHaveTextAsync("Nothing waits for you.");
        await ines.KeepScreenshotAsync("executive-inbox-after-endorsing");
    }
}
