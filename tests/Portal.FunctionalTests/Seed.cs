using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using Grpc.Core;

namespace Transformation.Portal.FunctionalTests;

/// <summary>What the seeded organisation holds, for the tests to name.</summary>
public sealed record Seeded(string ActiveInitiativeId, string ProposedInitiativeId);

/// <summary>
/// A small organisation, entered through the services' own gRPC APIs as HR, a change manager and an executive would:
/// Acme with Sales, Support and Partners (nobody in it yet), nine people (two of them executives), the whole-job journeys' units and people, two culture dimensions with a baseline and a later pulse measurement, an
/// open pulse assessment, a proposed end state, a catalogue of three behaviours with incentive rules, an active
/// initiative and a proposed one.
/// </summary>
public static class Seed
{
    public const string Root = "acme";
    public const string Executive = "exec-1";
    public const string SecondExecutive = "exec-2";
    public const string Hr = "hr-1";
    public const string ChangeManager = "cm-1";
    public const string OpenAssessment = "pulse-open";

    /// <summary>Everyone, with display names and Directory roles.</summary>
    public static readonly (string Id, string Name, string Unit, Role[] Roles)[] People =
    [
        (Executive, "Eva Executive", Root, [Role.Executive, Role.Employee]),
        (SecondExecutive, "Felix Founder", Root, [Role.Executive, Role.Employee]),
        (Hr, "Hana Harper", Root, [Role.Hr, Role.Employee]),
        (ChangeManager, "Carl Changer", "sales", [Role.ChangeManager, Role.Employee]),
        ("e1", "Emma Stone", "sales", [Role.Employee]),
        ("e2", "Erik Berg", "sales", [Role.Employee]),
        ("e3", "Ella Moss", "support", [Role.Employee]),
        ("e4", "Eli Grant", "support", [Role.Employee]),
        ("e5", "Esme Lake", "support", [Role.Employee]),
    ];

    /// <summary>
    /// Units of their own for the whole-job journeys (each role's data stays in its unit, whatever the order the tests run in),
    /// each with fewer people than the call-out and equity minimum (5), as the seeded units.
    /// </summary>
    public static readonly (string Id, string Name)[] WholeJobUnits = [("harbour", "Harbour"), ("quay", "Quay"), ("dock", "Dock"), ("pier", "Pier"), ("wharf", "Wharf")];

    /// <summary>
    /// The people of the whole-job journeys: two more executives (the other journeys' sponsors keep their inboxes; in Harbour, so
    /// that Acme's own members stay fewer than 5), a change manager and the units' people.
    /// </summary>
    public static readonly (string Id, string Name, string Unit, string Manager, Role[] Roles)[] WholeJobPeople =
    [
        ("exec-3", "Olga Owens", "harbour", "", [Role.Executive, Role.Employee]),
        ("exec-4", "Piet Prins", "harbour", "", [Role.Executive, Role.Employee]),
        ("cm-2", "Dora Dahl", "dock", Executive, [Role.ChangeManager, Role.Employee]),
        ("d1", "Dan Drake", "dock", "cm-2", [Role.Employee]),
        ("d2", "Dina Dunn", "dock", "cm-2", [Role.Employee]),
        ("d3", "Dag Dale", "dock", "cm-2", [Role.Employee]),
        ("p1", "Pia Poole", "pier", Executive, [Role.Employee]),
        ("p2", "Per Pratt", "pier", Executive, [Role.Employee]),
        ("p3", "Pam Price", "pier", Executive, [Role.Employee]),
        ("lm-2", "Wanda Ward", "wharf", Executive, [Role.Employee]),
        ("w1", "Walt West", "wharf", "lm-2", [Role.Employee]),
    ];

    public static async Task<Seeded> OrganisationAsync(PortalSystem system, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var hr = system.Token(Hr, Roles.Hr);

        // The Directory; its events give every other service its copy.
        var directory = Calls(system.Directory, DirectoryReflection.Descriptor.Services[0]);
        foreach (var (id, name, parent) in new[] { (Root, "Acme", ""), ("sales", "Sales", Root), ("support", "Support", Root), ("partners", "Partners", Root) }
            .Concat(WholeJobUnits.Select(u => (u.Id, u.Name, Root))))
        {
            await directory.Call<UpsertOrgUnitRequest, UpsertOrgUnitResponse>("UpsertOrgUnit", new UpsertOrgUnitRequest
            {
                IdempotencyKey = "unit-" + id, OrgUnitId = id, Name = name, ParentId = parent,
                Kind = parent.Length == 0 ? OrgUnitKind.Organisation : OrgUnitKind.Department,
            }, hr, ct);
        }

        foreach (var (id, name, unit, roles) in People)
        {
            await directory.Call<UpsertEmployeeRequest, UpsertEmployeeResponse>("UpsertEmployee", new UpsertEmployeeRequest
            {
                IdempotencyKey = "person-" + id, EmployeeId = id, DisplayName = name, Email = id + "@acme.test", OrgUnitId = unit,
                ManagerId = id == Executive ? "" : Executive, Active = true, Roles = { roles },
            }, hr, ct);
        }

        foreach (var (id, name, unit, managerId, roles) in WholeJobPeople)
        {
            await directory.Call<UpsertEmployeeRequest, UpsertEmployeeResponse>("UpsertEmployee", new UpsertEmployeeRequest
            {
                IdempotencyKey = "person-" + id, EmployeeId = id, DisplayName = name, Email = id + "@acme.test", OrgUnitId = unit,
                ManagerId = managerId, Active = true, Roles = { roles },
            }, hr, ct);
        }

        var everyone = People.Length + WholeJobPeople.Length;
        await TestSql.WaitUntilAsync(system.Initiatives.Database, "SELECT count(*) FROM employees", everyone, ct);
        await TestSql.WaitUntilAsync(system.Incentives.Database, "SELECT count(*) FROM employees", everyone, ct);
        await TestSql.WaitUntilAsync(system.Baselines.Database, "SELECT count(*) FROM employees", everyone, ct);
        await TestSql.WaitUntilAsync(system.Baselines.Database, "SELECT count(*) FROM org_units", 4 + WholeJobUnits.Length, ct);

        // Culture dimensions, their survey items, a baseline six months ago and a pulse a month ago.
        var baselines = Calls(system.Baselines, BaselinesReflection.Descriptor.Services[0]);
        foreach (var (id, name, facet, scope, item, text) in new[]
        {
            ("customer-focus", "Customer focus", Facet.Values, InteractionScope.External, "q1", "We put the customer's problem first."),
            ("openness", "Openness", Facet.Attitudes, InteractionScope.Internal, "q2", "I can say what I think without fear."),
        })
        {
            await baselines.Call<DefineDimensionRequest, DefineDimensionResponse>("DefineDimension", new DefineDimensionRequest
            {
                IdempotencyKey = "dimension-" + id, DimensionId = id,
                Fields = new DimensionFields { Name = name, Description = $"How {name.ToLowerInvariant()} shows in daily work.", Facet = facet, Scope = scope },
            }, hr, ct);
            await baselines.Call<DefineItemRequest, DefineItemResponse>("DefineItem",
                new DefineItemRequest { IdempotencyKey = "item-" + item, ItemId = item, DimensionId = id, Text = text }, hr, ct);
        }

        await MeasureAsync(baselines, hr, "baseline-spring", AssessmentKind.Baseline, now.AddDays(-200), now.AddDays(-180), [2, 3, 3, 2, 3, 4], ct);
        await baselines.Call<SetBaselineRequest, SetBaselineResponse>("SetBaseline",
            new SetBaselineRequest { IdempotencyKey = "baseline", ScopeOrgUnitId = Root, AssessmentId = "baseline-spring" }, hr, ct);
        await MeasureAsync(baselines, hr, "pulse-autumn", AssessmentKind.Pulse, now.AddDays(-40), now.AddDays(-30), [3, 4, 4, 3, 4, 4], ct);
        await baselines.Call<CreateAssessmentRequest, CreateAssessmentResponse>("CreateAssessment", new CreateAssessmentRequest
        {
            IdempotencyKey = "assessment-" + OpenAssessment, AssessmentId = OpenAssessment, Title = "Winter pulse", Kind = AssessmentKind.Pulse,
            OpensAt = Timestamp.FromDateTimeOffset(now.AddDays(-1)), ClosesAt = Timestamp.FromDateTimeOffset(now.AddDays(14)),
            PopulationOrgUnitIds = { Root }, ItemIds = { "q1", "q2" },
        }, hr, ct);
        await TestSql.WaitUntilAsync(system.EndState.Database, "SELECT count(*) FROM assessments", 2, ct);

        // The end state HR proposes to the executive sponsor.
        var endState = Calls(system.EndState, EndstateReflection.Descriptor.Services[0]);
        var targetDate = Timestamp.FromDateTimeOffset(now.AddYears(1));
        await endState.Call<DraftEndStateRequest, DraftEndStateResponse>("DraftEndState", new DraftEndStateRequest
        {
            IdempotencyKey = "end-state", ScopeOrgUnitId = Root, ExpectedVersion = 0,
            Draft = new EndStateDraft
            {
                Vision = "Every customer problem is owned by the first person who hears of it, and anyone can say what they think.",
                SponsorIds = { Executive },
                Targets =
                {
                    new DimensionTarget { DimensionId = "customer-focus", TargetScore = 4.5, TargetDate = targetDate },
                    new DimensionTarget { DimensionId = "openness", TargetScore = 4.2, TargetDate = targetDate },
                },
            },
        }, hr, ct);
        await endState.Call<ProposeEndStateRequest, ProposeEndStateResponse>("ProposeEndState",
            new ProposeEndStateRequest { IdempotencyKey = "propose", ScopeOrgUnitId = Root, ExpectedVersion = 1 }, hr, ct);

        // The behaviour catalogue and the incentive rules.
        var incentives = Calls(system.Incentives, IncentivesReflection.Descriptor.Services[0]);
        foreach (var (id, name, polarity, dimension) in new[]
        {
            ("helps-customers", "Helps customers", Polarity.Desired, "customer-focus"),
            ("speaks-openly", "Speaks openly", Polarity.Desired, "openness"),
            ("blames-others", "Blames others", Polarity.Unacceptable, "openness"),
        })
        {
            await incentives.Call<DefineBehaviourRequest, DefineBehaviourResponse>("DefineBehaviour", new DefineBehaviourRequest
            {
                IdempotencyKey = "behaviour-" + id, BehaviourId = id,
                Behaviour = new BehaviourDraft
                {
                    Name = name, Description = $"{name}: what the new culture {(polarity == Polarity.Desired ? "wants" : "calls out")}.", Polarity = polarity,
                    Dimensions = { new DimensionLink { DimensionId = dimension, Weight = 1 } },
                },
            }, hr, ct);
        }

        await incentives.Call<UpdateIncentiveRulesRequest, UpdateIncentiveRulesResponse>("UpdateIncentiveRules", new UpdateIncentiveRulesRequest
        {
            IdempotencyKey = "rules", ExpectedVersion = 0,
            Rules = new IncentiveRules
            {
                Period = PeriodKind.Month,
                SourcePoints =
                {
                    new SourcePoints { Source = ObservationSource.Manager, Points = 10 },
                    new SourcePoints { Source = ObservationSource.Peer, Points = 5 },
                },
                CapPerEmployee = 1000, ApprovalThreshold = 1000, PeerAllowance = 50, ObservationsPublic = true,
            },
        }, hr, ct);
        await TestSql.WaitUntilAsync(system.Initiatives.Database, "SELECT count(*) FROM behaviours", 3, ct);

        // An initiative the change manager runs (sponsored and started), and one waiting for its sponsor.
        var initiatives = Calls(system.Initiatives, InitiativesReflection.Descriptor.Services[0]);
        var manager = system.Token(ChangeManager, Roles.ChangeManager);
        var active = (await initiatives.Call<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative", new ProposeInitiativeRequest
        {
            IdempotencyKey = "customer-first",
            Initiative = new InitiativeDraft
            {
                Name = "Customer first", Purpose = "Own every customer problem end to end.", SponsorId = Executive,
                ScopeOrgUnitIds = { Root }, DimensionIds = { "customer-focus" }, TargetBehaviourIds = { "helps-customers" },
                Goals = { new Goal { GoalId = "helped", Kind = GoalKind.Count, Description = "Customers helped", Target = 10 } },
                Milestones = { new Milestone { MilestoneId = "first-five", Name = "Five customers helped", GoalId = "helped", Target = 5, DueOn = Timestamp.FromDateTimeOffset(now.AddDays(60)) } },
            },
        }, manager, ct)).Initiative.InitiativeId;
        await initiatives.Call<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = "sponsor", InitiativeId = active }, system.Token(Executive, Roles.Executive), ct);
        await initiatives.Call<ActivateInitiativeRequest, ActivateInitiativeResponse>("ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = "activate", InitiativeId = active }, manager, ct);
        var proposed = (await initiatives.Call<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative", new ProposeInitiativeRequest
        {
            IdempotencyKey = "open-doors",
            Initiative = new InitiativeDraft
            {
                Name = "Open doors", Purpose = "Leaders hold open hours every week.", SponsorId = Executive,
                ScopeOrgUnitIds = { Root }, DimensionIds = { "openness" }, TargetBehaviourIds = { "speaks-openly" },
                Goals = { new Goal { GoalId = "adoption", Kind = GoalKind.Adoption, Description = "People speaking openly", Target = 0.5 } },
            },
        }, manager, ct)).Initiative.InitiativeId;
        return new Seeded(active, proposed);
    }

    private static readonly string[] Departments = ["sales", "support"];

    /// <summary>An assessment over Acme with six respondents in each department (answers per respondent, both items), then closed.</summary>
    private static Task MeasureAsync(ServiceCalls baselines, string hr, string id, AssessmentKind kind, DateTimeOffset opens, DateTimeOffset closes,
        int[] answers, CancellationToken ct) =>
        SurveyAsync(baselines, hr, id, kind, opens, closes, [Root],
            Departments.SelectMany(unit => answers.Select((a, r) => new ResponseRow
            {
                RespondentToken = $"{id}-{unit}-{r}", OrgUnitId = unit, Answers = { a, Math.Min(5, a + 1) },
            })), ct);

    /// <summary>An assessment of the two items over a population, with these responses (numbered as CSV lines from 2), then closed.</summary>
    public static async Task SurveyAsync(ServiceCalls baselines, string hr, string id, AssessmentKind kind, DateTimeOffset opens, DateTimeOffset closes,
        string[] population, IEnumerable<ResponseRow> responses, CancellationToken ct)
    {
        await baselines.Call<CreateAssessmentRequest, CreateAssessmentResponse>("CreateAssessment", new CreateAssessmentRequest
        {
            IdempotencyKey = "assessment-" + id, AssessmentId = id, Title = id, Kind = kind,
            OpensAt = Timestamp.FromDateTimeOffset(opens), ClosesAt = Timestamp.FromDateTimeOffset(closes), PopulationOrgUnitIds = { population }, ItemIds = { "q1", "q2" },
        }, hr, ct);
        var call = baselines.Client.ClientStreaming<SubmitResponsesRequest, SubmitResponsesResponse>(baselines.Method("SubmitResponses"), ServiceCalls.Options(hr, ct));
        using (call)
        {
            await call.RequestStream.WriteAsync(new SubmitResponsesRequest { Header = new SubmitResponsesHeader { AssessmentId = id } }, ct);
            var rows = new SubmitResponsesRequest();
            var line = 2;
            foreach (var row in responses)
            {
                row.Line = line++;
                rows.Rows.Add(row);
            }

            await call.RequestStream.WriteAsync(rows, ct);
            await call.RequestStream.CompleteAsync();
            await call.ResponseAsync;
        }

        await baselines.Call<CloseAssessmentRequest, CloseAssessmentResponse>("CloseAssessment",
            new CloseAssessmentRequest { IdempotencyKey = "close-" + id, AssessmentId = id }, hr, ct);
    }

    private static ServiceCalls Calls(RunningService service, ServiceDescriptor descriptor) => new(service.Client, descriptor);

    /// <summary>Calls one service as a given person.</summary>
    public sealed record ServiceCalls(GrpcTestClient Client, ServiceDescriptor Service)
    {
        public Google.Protobuf.Reflection.MethodDescriptor Method(string name) => Service.FindMethodByName(name);

        public static CallOptions Options(string token, CancellationToken ct) =>
            GrpcTestClient.As(token, TimeSpan.FromSeconds(30), ct);

        public Task<TResponse> Call<TRequest, TResponse>(string method, TRequest request, string token, CancellationToken ct)
            where TRequest : class, IMessage<TRequest>
            where TResponse : class, IMessage<TResponse> =>
            Client.UnaryAsync<TRequest, TResponse>(Method(method), request, Options(token, ct));
    }
}
