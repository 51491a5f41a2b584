using Google.Protobuf.WellKnownTypes;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.ServiceDefaults.Identity;
using static Microsoft.Playwright.Assertions;

namespace Transformation.Portal.FunctionalTests;

/// <summary>Step 2 for employees: the vision and targets in force for their unit, on their home page.</summary>
public sealed partial class RoleJourneyTests
{
    [Fact]
    public async Task AnEmployeeSeesTheEndorsedVisionAndTargetsOfTheirUnitOnTheirHomePage()
    {
        // A unit of its own (Labs, under Acme) with one person, so no other journey's end state is nearer.
        var hr = _system.Token(Seed.Hr, Roles.Hr);
        var directory = new Seed.ServiceCalls(_system.Directory.Client, DirectoryReflection.Descriptor.Services[0]);
        await directory.Call<UpsertOrgUnitRequest, UpsertOrgUnitResponse>("UpsertOrgUnit", new UpsertOrgUnitRequest
        {
            IdempotencyKey = "unit-labs", OrgUnitId = "labs", Name = "Labs", ParentId = Seed.Root, Kind = OrgUnitKind.Department,
        }, hr, Ct);
        await directory.Call<UpsertEmployeeRequest, UpsertEmployeeResponse>("UpsertEmployee", new UpsertEmployeeRequest
        {
            IdempotencyKey = "person-l1", EmployeeId = "l1", DisplayName = "Lena Lund", Email = "l1@acme.test", OrgUnitId = "labs",
            ManagerId = Seed.Executive, Active = true, Roles = { Role.Employee },
        }, hr, Ct);

        // Drafted and proposed by HR; it counts only once its sponsor has endorsed it.
        var endState = new Seed.ServiceCalls(_system.EndState.Client, EndstateReflection.Descriptor.Services[0]);
        var targetDate = new DateTimeOffset(DateTimeOffset.UtcNow.Year + 2, 6, 30, 0, 0, 0, TimeSpan.Zero);
        await endState.Call<DraftEndStateRequest, DraftEndStateResponse>("DraftEndState", new DraftEndStateRequest
        {
            IdempotencyKey = "labs-draft", ScopeOrgUnitId = "labs",
            Draft = new EndStateDraft
            {
                Vision = "Labs tries ideas with customers in the open and says what failed.",
                SponsorIds = { Seed.Executive },
                Targets = { new DimensionTarget { DimensionId = "openness", TargetScore = 4.3, TargetDate = Timestamp.FromDateTimeOffset(targetDate) } },
            },
        }, hr, Ct);
        await endState.Call<ProposeEndStateRequest, ProposeEndStateResponse>("ProposeEndState",
            new ProposeEndStateRequest { IdempotencyKey = "labs-propose", ScopeOrgUnitId = "labs", ExpectedVersion = 1 }, hr, Ct);

        await using var context = await _system.Browser.NewContextAsync();
        var lena = await Browsing.SignInAsync(context, Portal, "", "l1", Roles.Employee);
        await Expect(lena.GetByTestId("vision-text").Or(lena.GetByTestId("vision-empty"))).ToBeVisibleAsync(); // loaded: Acme's, or none yet
        await Expect(lena.Locator("main")).Not.ToContainTextAsync("Labs tries ideas"); // a proposal is not in force

        await endState.Call<EndorseEndStateRequest, EndorseEndStateResponse>("EndorseEndState",
            new EndorseEndStateRequest { IdempotencyKey = "labs-endorse", ScopeOrgUnitId = "labs", Version = 2 }, _system.Token(Seed.Executive, Roles.Executive), Ct);
        await lena.ReloadAsync();
        await Expect(lena.GetByTestId("vision-text")).ToHaveTextAsync("Labs tries ideas with customers in the open and says what failed.");
        await Expect(lena.GetByTestId("vision-scope")).ToHaveTextAsync("Labs's vision, endorsed by Eva Executive:");
        await Expect(lena.GetByTestId("vision-targets")).ToHaveTextAsync($"Openness: 4.3 of 5 by 30 June {targetDate.Year}");
        await Expect(lena.Locator("main")).Not.ToContainTextAsync("openness");
        await lena.KeepScreenshotAsync("employee-home-vision");
    }
}
