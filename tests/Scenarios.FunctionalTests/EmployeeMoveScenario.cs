using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Transformation.Initiatives.Api;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Dir = Transformation.Directory.V1;
using DirectoryApi = Transformation.Directory.Api;
using Inc = Transformation.Incentives.V1;
using IncentivesApi = Transformation.Incentives.Api;
using IncPolarity = Transformation.Initiatives.V1.Polarity;
using IncSource = Transformation.Initiatives.V1.ObservationSource;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>
/// Issue 8, acceptance 2: Directory, Initiatives and Incentives on one broker. An employee moved to another unit in the
/// Directory counts against the new unit's incentive budget from the move on, and the old unit keeps what it spent.
/// </summary>
public sealed class EmployeeMoveScenario(PostgresFixture postgres, RabbitMqVirtualHost rabbitMq) : IClassFixture<RabbitMqVirtualHost>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AMovedEmployeeCountsAgainstTheNewUnitsBudgetFromTheMoveOn()
    {
        using var identity = new TestIdentity();
        var databases = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in new[] { "directory", "initiatives", "incentives" })
        {
            databases[name] = await postgres.Server.CreateDatabaseAsync(TestNames.Unique(name).ToLowerInvariant(), Ct);
        }

        // Consumers first: a queue only receives what is published after it exists.
        var (initiatives, initiativesClient, _) = await Scenario.StartAsync("initiatives", databases["initiatives"], rabbitMq.AmqpUri, identity,
            b => b.AddInitiativesService(), a => a.MapInitiativesService(), Ct);
        var (incentives, incentivesClient, _) = await Scenario.StartAsync("incentives", databases["incentives"], rabbitMq.AmqpUri, identity,
            b => IncentivesApi.Extensions.AddIncentivesService(b), a => IncentivesApi.Extensions.MapIncentivesService(a), Ct);
        var (directoryApp, directoryClient, _) = await Scenario.StartAsync("directory", databases["directory"], rabbitMq.AmqpUri, identity,
            b => DirectoryApi.Extensions.AddDirectoryService(b), a => DirectoryApi.Extensions.MapDirectoryService(a), Ct);
        await using var _ = initiatives;
        await using var __ = incentives;
        await using var ___ = directoryApp;
        using var ____ = initiativesClient;
        using var _____ = incentivesClient;
        using var ______ = directoryClient;
        var hr = identity.TokenFor("hr-1", Roles.Hr);
        var manager = identity.TokenFor("cm-1", Roles.ChangeManager);

        // HR provisions the organisation in the Directory; its events reach both other services.
        foreach (var unit in new[] { "company", "sales", "support" })
        {
            await directoryClient.Unary<Dir.UpsertOrgUnitRequest, Dir.UpsertOrgUnitResponse>(Dir.DirectoryReflection.Descriptor, "UpsertOrgUnit",
                new Dir.UpsertOrgUnitRequest
                {
                    IdempotencyKey = $"unit-{unit}", OrgUnitId = unit, Name = unit, ParentId = unit == "company" ? "" : "company",
                    Kind = unit == "company" ? Dir.OrgUnitKind.Organisation : Dir.OrgUnitKind.Department,
                }, hr);
        }

        await UpsertEmployeeAsync("cm-1", "company", Dir.Role.ChangeManager, "cm");
        await UpsertEmployeeAsync("e1", "sales", Dir.Role.Employee, "e1-joins");
        await TestSql.WaitUntilAsync(databases["initiatives"], "SELECT count(*) FROM employees WHERE employee_id = 'e1' AND org_unit_id = 'sales'", 1, Ct);
        await TestSql.WaitUntilAsync(databases["incentives"], "SELECT count(*) FROM employees WHERE employee_id = 'e1'", 1, Ct);

        // Incentives: the behaviour, 10 points per manager observation, a budget for each unit this month.
        var period = DateTime.UtcNow.ToString("yyyy-MM", CultureInfo.InvariantCulture);
        await incentivesClient.Unary<Inc.DefineBehaviourRequest, Inc.DefineBehaviourResponse>(Inc.IncentivesReflection.Descriptor, "DefineBehaviour",
            new Inc.DefineBehaviourRequest
            {
                IdempotencyKey = "b1", BehaviourId = "helps-customers",
                Behaviour = new Inc.BehaviourDraft { Name = "Helps customers", Description = "Goes the extra mile", Polarity = IncPolarity.Desired },
            }, hr);
        await incentivesClient.Unary<Inc.UpdateIncentiveRulesRequest, Inc.UpdateIncentiveRulesResponse>(Inc.IncentivesReflection.Descriptor, "UpdateIncentiveRules",
            new Inc.UpdateIncentiveRulesRequest
            {
                IdempotencyKey = "r1",
                Rules = new Inc.IncentiveRules
                {
                    Period = Inc.PeriodKind.Month,
                    SourcePoints = { new Inc.SourcePoints { Source = IncSource.Manager, Points = 10 } },
                    CapPerEmployee = 1000,
                    ApprovalThreshold = 1000,
                    AntiGaming = new Inc.AntiGamingRules(),
                },
            }, hr);
        foreach (var unit in new[] { "sales", "support" })
        {
            await incentivesClient.Unary<Inc.SetBudgetRequest, Inc.SetBudgetResponse>(Inc.IncentivesReflection.Descriptor, "SetBudget",
                new Inc.SetBudgetRequest { IdempotencyKey = $"budget-{unit}", OrgUnitId = unit, Period = period, Amount = 100 }, hr);
        }

        await TestSql.WaitUntilAsync(databases["initiatives"], "SELECT count(*) FROM behaviours WHERE behaviour_id = 'helps-customers'", 1, Ct);

        // Observed while in Sales: Sales pays.
        await ObserveAsync("before-move");
        await TestSql.WaitUntilAsync(databases["incentives"], "SELECT count(*) FROM outcomes WHERE employee_id = 'e1' AND status = 0", 1, Ct); // 0: granted
        (await SpentAsync("sales")).ShouldBe(10);
        (await SpentAsync("support")).ShouldBe(0);

        // HR moves the employee to Support in the Directory.
        await UpsertEmployeeAsync("e1", "support", Dir.Role.Employee, "e1-moves");
        await TestSql.WaitUntilAsync(databases["initiatives"], "SELECT count(*) FROM employees WHERE employee_id = 'e1' AND org_unit_id = 'support'", 1, Ct);

        // Observed after the move: Support pays; Sales keeps what it spent.
        await ObserveAsync("after-move");
        await TestSql.WaitUntilAsync(databases["incentives"], "SELECT count(*) FROM outcomes WHERE employee_id = 'e1' AND status = 0", 2, Ct);
        (await SpentAsync("support")).ShouldBe(10);
        (await SpentAsync("sales")).ShouldBe(10);

        Task UpsertEmployeeAsync(string id, string unit, Dir.Role role, string key) =>
            directoryClient.Unary<Dir.UpsertEmployeeRequest, Dir.UpsertEmployeeResponse>(Dir.DirectoryReflection.Descriptor, "UpsertEmployee",
                new Dir.UpsertEmployeeRequest
                {
                    IdempotencyKey = key, EmployeeId = id, DisplayName = id, Email = $"{id}@example.test", OrgUnitId = unit, Roles = { role }, Active = true,
                }, hr);

        Task ObserveAsync(string key) =>
            initiativesClient.Unary<RecordObservationRequest, RecordObservationResponse>(InitiativesReflection.Descriptor, "RecordObservation",
                new RecordObservationRequest
                {
                    Observation = new ObservationInput
                    {
                        IdempotencyKey = key, EmployeeId = "e1", BehaviourId = "helps-customers", Source = ObservationSource.Manager,
                        ObserverId = "cm-1", ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), Evidence = key,
                    },
                }, manager);

        async Task<int> SpentAsync(string unit) =>
            (await incentivesClient.Unary<Inc.GetBudgetRequest, Inc.GetBudgetResponse>(Inc.IncentivesReflection.Descriptor, "GetBudget",
                new Inc.GetBudgetRequest { OrgUnitId = unit, Period = period }, hr)).Budget.Spent;
    }
}
