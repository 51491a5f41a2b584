using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Transformation.Directory.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Inc = Transformation.Incentives.V1;
using IncPolarity = Transformation.Initiatives.V1.Polarity;
using IncSource = Transformation.Initiatives.V1.ObservationSource;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>What scenarios share: a real service on free ports with its own database on the scenario's vhost, and calls.</summary>
internal static class Scenario
{
    private static readonly string[] People = ["exec-1", "cm-1", "e1", "e2"];

    public static async Task<(WebApplication App, GrpcTestClient Client, Uri Address)> StartAsync(string name, string database, Uri rabbitMq, TestIdentity identity,
        Action<WebApplicationBuilder> add, Action<WebApplication> map, CancellationToken cancellationToken)
    {
        var service = await InProcessService.StartAsync(name, database, rabbitMq, identity.Settings, add, map, cancellationToken);
        return (service.App, GrpcTestClient.Create(service.Address), service.Address);
    }

    public static Task<TResponse> Unary<TRequest, TResponse>(this GrpcTestClient client, Google.Protobuf.Reflection.FileDescriptor file, string method,
        TRequest request, string token)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        client.UnaryAsync<TRequest, TResponse>(file.Services[0].FindMethodByName(method), request,
            GrpcTestClient.As(token));

    /// <summary>
    /// The path both services share: the Directory's people reach both, Incentives defines a behaviour and a rule (10 points a
    /// manager's observation), Initiatives runs an initiative targeting it; an observation recorded through Initiatives is
    /// rewarded in Incentives, the reward comes back, and the initiative's progress moves. Returns the initiative and observation.
    /// </summary>
    public static async Task<(string InitiativeId, string ObservationId)> ObserveAndRewardAsync(Uri amqp, string initiativesDb, string incentivesDb,
        GrpcTestClient initiatives, GrpcTestClient incentives, TestIdentity identity, CancellationToken cancellationToken)
    {
        var hr = identity.TokenFor("hr-1", Roles.Hr);
        var manager = identity.TokenFor("cm-1", Roles.ChangeManager);
        var sponsor = identity.TokenFor("exec-1", Roles.Executive);

        // The Directory's events reach both services.
        await TestEvents.PublishAsync(amqp,
        [
            new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "sales", Name = "Sales", Version = 1 } },
            .. People.Select(id => (IMessage)new EmployeeJoined
            {
                Employee = new EmployeeSnapshot { EmployeeId = id, OrgUnitId = "sales", Active = true, Version = 1, Roles = { Role.Employee } },
            }),
        ], cancellationToken);
        await TestSql.WaitUntilAsync(initiativesDb, "SELECT count(*) FROM employees", 4, cancellationToken);
        await TestSql.WaitUntilAsync(incentivesDb, "SELECT count(*) FROM employees", 4, cancellationToken);

        // Incentives defines the behaviour (its catalogue events reach Initiatives) and a rule.
        await incentives.Unary<Inc.DefineBehaviourRequest, Inc.DefineBehaviourResponse>(Inc.IncentivesReflection.Descriptor, "DefineBehaviour", new Inc.DefineBehaviourRequest
        {
            IdempotencyKey = "d1",
            BehaviourId = "helps-customers",
            Behaviour = new Inc.BehaviourDraft { Name = "Helps customers", Description = "Goes the extra mile", Polarity = IncPolarity.Desired },
        }, hr);
        await incentives.Unary<Inc.UpdateIncentiveRulesRequest, Inc.UpdateIncentiveRulesResponse>(Inc.IncentivesReflection.Descriptor, "UpdateIncentiveRules",
            new Inc.UpdateIncentiveRulesRequest
            {
                IdempotencyKey = "r1",
                Rules = new Inc.IncentiveRules
                {
                    Period = Inc.PeriodKind.Month,
                    SourcePoints = { new Inc.SourcePoints { Source = IncSource.Manager, Points = 10 } },
                    CapPerEmployee = 100,
                    ApprovalThreshold = 1000,
                    AntiGaming = new Inc.AntiGamingRules(),
                    ObservationsPublic = true,
                },
            }, hr);
        await TestSql.WaitUntilAsync(initiativesDb, "SELECT count(*) FROM behaviours WHERE behaviour_id = 'helps-customers'", 1, cancellationToken);

        // An active initiative targeting it.
        var id = (await initiatives.Unary<ProposeInitiativeRequest, ProposeInitiativeResponse>(InitiativesReflection.Descriptor, "ProposeInitiative",
            new ProposeInitiativeRequest
            {
                IdempotencyKey = "p1",
                Initiative = new InitiativeDraft
                {
                    Name = "Customer first",
                    Purpose = "The customer at the centre",
                    SponsorId = "exec-1",
                    ScopeOrgUnitIds = { "sales" },
                    TargetBehaviourIds = { "helps-customers" },
                    Goals = { new Goal { GoalId = "count", Kind = GoalKind.Count, Target = 1 } },
                },
            }, manager)).Initiative.InitiativeId;
        await initiatives.Unary<SponsorInitiativeRequest, SponsorInitiativeResponse>(InitiativesReflection.Descriptor, "SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = "s1", InitiativeId = id }, sponsor);
        await initiatives.Unary<ActivateInitiativeRequest, ActivateInitiativeResponse>(InitiativesReflection.Descriptor, "ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = "a1", InitiativeId = id }, manager);

        // Recorded here …
        var observationId = (await initiatives.Unary<RecordObservationRequest, RecordObservationResponse>(InitiativesReflection.Descriptor, "RecordObservation",
            new RecordObservationRequest
            {
                Observation = new ObservationInput
                {
                    IdempotencyKey = "o1", EmployeeId = "e1", BehaviourId = "helps-customers", Source = ObservationSource.Manager, ObserverId = "cm-1",
                    ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), Evidence = "ticket 42", InitiativeId = id,
                },
            }, manager)).ObservationId;

        // … rewarded there, and the reward comes back as evidence.
        await TestSql.WaitUntilAsync(incentivesDb, $"SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-granted' AND aggregate_id = 'e1'", 1, cancellationToken);
        await TestSql.WaitUntilAsync(initiativesDb, $"SELECT count(*) FROM rewards WHERE observation_id = '{observationId}' AND points = 10", 1, cancellationToken);

        // The initiative's progress moved.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        Initiative initiative;
        while ((initiative = (await initiatives.Unary<GetInitiativeRequest, GetInitiativeResponse>(InitiativesReflection.Descriptor, "GetInitiative",
            new GetInitiativeRequest { InitiativeId = id }, sponsor)).Initiative).Progress.DesiredObservations < 1)
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline);
            await Task.Delay(100, cancellationToken);
        }

        initiative.Progress.Goals.Single().Value.ShouldBe(1);
        return (id, observationId);
    }
}
