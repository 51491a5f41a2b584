using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Transformation.GrpcHosting;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Initiatives.FunctionalTests;

/// <summary>
/// Who reads which observations, on every road to them: ListObservations (which the CLI's export and the portal's pages
/// page through) and the observations a success story may cite. Individual call-outs are hr's alone; other initiatives'
/// observations are their change manager's and sponsor's.
/// </summary>
public sealed class ObservationAccessTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>, IAsyncLifetime
{
    private readonly TestIdentity _identity = new();
    private InitiativesHost _host = null!;
    private string _sales = "";
    private string _ops = "";
    private readonly Dictionary<string, string> _ids = new(StringComparer.Ordinal);

    // Each test seeds the class's database again with the same keys: the same observations, not different ones.
    private static readonly DateTimeOffset ObservedAt = DateTimeOffset.UtcNow.AddMinutes(-1);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _host = await InitiativesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, _identity, Ct);
        await _host.SeedAsync(
            [("org", ""), ("sales", "org"), ("ops", "org")],
            [("exec-1", "org"), ("exec-2", "org"), ("exec-3", "org"), ("cm-1", "org"), ("cm-2", "org"), ("e1", "sales"), ("o1", "ops")],
            [("helps-customers", Polarity.Desired), ("belittles", Polarity.Unacceptable)], Ct);
        _sales = await ActiveInitiativeAsync("sales-first", "cm-1", "exec-1", "sales");
        _ops = await ActiveInitiativeAsync("ops-first", "cm-2", "exec-2", "ops");
        await RecordAsync("sales-desired", "e1", "helps-customers", _sales);
        await RecordAsync("sales-callout", "e1", "belittles", _sales);
        await RecordAsync("ops-desired", "o1", "helps-customers", _ops);
        await RecordAsync("unlinked", "e1", "helps-customers", "");
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _identity.Dispose();
    }

    [Theory]
    [InlineData("hr-1", Roles.Hr, "unlinked,ops-desired,sales-callout,sales-desired")]
    [InlineData("cm-1", Roles.ChangeManager, "sales-desired")]
    [InlineData("exec-1", Roles.Executive, "sales-desired")]
    [InlineData("cm-2", Roles.ChangeManager, "ops-desired")]
    [InlineData("exec-2", Roles.Executive, "ops-desired")]
    [InlineData("exec-3", Roles.Executive, "")]
    public async Task ListObservationsShowsCallOutsToHrAloneAndOtherwiseOnlyTheCallersInitiatives(string subject, string role, string expected)
    {
        var token = _host.Token(subject, role, Roles.Employee);
        var all = await ListAsync(new ListObservationsRequest(), token);
        Keys(all).ShouldBe(expected.Split(',', StringSplitOptions.RemoveEmptyEntries));

        // Naming another initiative, or the call-out's behaviour, reveals nothing more.
        Keys(await ListAsync(new ListObservationsRequest { InitiativeId = _ops }, token)).ShouldBeSubsetOf(Keys(all));
        Keys(await ListAsync(new ListObservationsRequest { BehaviourId = "belittles" }, token)).ShouldBeSubsetOf(Keys(all));
    }

    [Fact]
    public async Task ObservationsComeNewestFirstPagedAndSearchable()
    {
        var hr = _host.Token("hr-1", Roles.Hr);
        var first = await ListAsync(new ListObservationsRequest { PageSize = 3 }, hr);
        Keys(first).ShouldBe(["unlinked", "ops-desired", "sales-callout"]);
        var second = await ListAsync(new ListObservationsRequest { PageSize = 3, PageToken = first.NextPageToken }, hr);
        Keys(second).ShouldBe(["sales-desired"]);
        second.NextPageToken.ShouldBeEmpty();

        Keys(await ListAsync(new ListObservationsRequest { Search = "BELIT" }, hr)).ShouldBe(["sales-callout"]);
        Keys(await ListAsync(new ListObservationsRequest { Search = "o1" }, hr)).ShouldBe(["ops-desired"]);

        var badPage = await Should.ThrowAsync<RpcException>(() => ListAsync(new ListObservationsRequest { PageSize = -1 }, hr));
        badPage.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single().Field.ShouldBe("page_size");
        (await ListAsync(new ListObservationsRequest { PageSize = 100_000 }, hr)).Observations.Count.ShouldBe(4); // at most the maximum page
    }

    [Fact]
    public async Task AStoryCitesOnlyItsOwnInitiativesObservationsThatItsAuthorMayRead()
    {
        var manager = _host.Token("cm-1", Roles.ChangeManager, Roles.Employee);
        var refused = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<DraftSuccessStoryRequest, DraftSuccessStoryResponse>("DraftSuccessStory",
            new DraftSuccessStoryRequest
            {
                IdempotencyKey = "story-1", InitiativeId = _sales, Title = "Customers first", Body = "It works.",
                ObservationIds = { _ids["sales-desired"], _ids["sales-callout"], _ids["ops-desired"] },
            }, manager));
        refused.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refused.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["observation_ids[1]", "observation_ids[2]"]);

        var story = await _host.CallAsync<DraftSuccessStoryRequest, DraftSuccessStoryResponse>("DraftSuccessStory",
            new DraftSuccessStoryRequest
            {
                IdempotencyKey = "story-2", InitiativeId = _sales, Title = "Customers first", Body = "It works.", ObservationIds = { _ids["sales-desired"] },
            }, manager);
        story.Story.StoryId.ShouldNotBeEmpty();
    }

    private async Task<ListObservationsResponse> ListAsync(ListObservationsRequest request, string token) =>
        await _host.CallAsync<ListObservationsRequest, ListObservationsResponse>("ListObservations", request, token);

    private List<string> Keys(ListObservationsResponse response) =>
        response.Observations.Select(o => _ids.Single(pair => pair.Value == o.ObservationId).Key).ToList();

    private async Task RecordAsync(string key, string employee, string behaviour, string initiative)
    {
        var recorded = await _host.CallAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation", new RecordObservationRequest
        {
            Observation = new ObservationInput
            {
                IdempotencyKey = key, EmployeeId = employee, BehaviourId = behaviour, Source = ObservationSource.Manager, ObserverId = "cm-1",
                ObservedAt = Timestamp.FromDateTimeOffset(ObservedAt), InitiativeId = initiative, Evidence = "seen by " + key,
            },
        }, _host.Token("hr-1", Roles.Hr));
        _ids[key] = recorded.ObservationId;
    }

    private async Task<string> ActiveInitiativeAsync(string key, string manager, string sponsor, string unit)
    {
        var managerToken = _host.Token(manager, Roles.ChangeManager, Roles.Employee);
        var id = (await _host.CallAsync<ProposeInitiativeRequest, ProposeInitiativeResponse>("ProposeInitiative", new ProposeInitiativeRequest
        {
            IdempotencyKey = key,
            Initiative = new InitiativeDraft
            {
                Name = key, Purpose = "Access test", SponsorId = sponsor, ScopeOrgUnitIds = { unit }, TargetBehaviourIds = { "helps-customers", "belittles" },
                Goals = { new Goal { GoalId = "count", Kind = GoalKind.Count, Target = 10 } },
            },
        }, managerToken)).Initiative.InitiativeId;
        await _host.CallAsync<SponsorInitiativeRequest, SponsorInitiativeResponse>("SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = key + "-s", InitiativeId = id }, _host.Token(sponsor, Roles.Executive, Roles.Employee));
        await _host.CallAsync<ActivateInitiativeRequest, ActivateInitiativeResponse>("ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = key + "-a", InitiativeId = id }, managerToken);
        return id;
    }
}
