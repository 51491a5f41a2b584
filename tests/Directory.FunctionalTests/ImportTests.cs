using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Transformation.Directory.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using static Transformation.Directory.FunctionalTests.Rows;
using Grpc.Core;

namespace Transformation.Directory.FunctionalTests;

/// <summary>Acceptance 1, the import: idempotent, dry run, mass-deactivation guard, bad rows named, nothing half-applied, events.</summary>
public sealed class ImportTests(DirectoryHost host) : IClassFixture<DirectoryHost>, IAsyncLifetime
{
    public async ValueTask InitializeAsync() => await host.ResetAsync();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task AnImportCreatesTheTreeAndThePeopleAndPublishesTheirEvents()
    {
        var response = await host.ImportAsync(Apply(), Units(), People());

        response.Applied.ShouldBeTrue();
        response.Changes.Count(c => c.Kind == ChangeKind.OrgUnitCreated).ShouldBe(4);
        response.Changes.Count(c => c.Kind == ChangeKind.EmployeeJoined).ShouldBe(10);
        var events = await host.ReceiveEventsAsync(14);
        events.Count(e => e.Type == "transformation.directory.org-unit-changed.v1").ShouldBe(4);
        var joined = events.Where(e => e.Type == "transformation.directory.employee-joined.v1").ToList();
        joined.Count.ShouldBe(10);
        var cy = joined.Single(e => e.Subject == "e03").Data["employee"]!;
        ((string)cy["orgUnitId"]!).ShouldBe("sales-north");
        ((string)cy["managerId"]!).ShouldBe("e02");
        ((bool)cy["active"]!).ShouldBeTrue();
        ((string)cy["version"]!).ShouldBe("1");

        var tree = await host.CallAsync<GetOrgTreeRequest, GetOrgTreeResponse>("GetOrgTree", new GetOrgTreeRequest(), host.Token(Roles.Employee));
        tree.OrgUnits.Select(u => u.OrgUnitId).ShouldBe(["acme", "eng", "sales", "sales-north"]);
    }

    [Fact]
    public async Task TheSameImportTwiceChangesNothingTheSecondTimeAndPublishesNoEvent()
    {
        await host.ImportAsync(Apply(), Units(), People());
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox");
        var versions = await host.ScalarAsync("SELECT count(*) FROM employee_versions");

        var second = await host.ImportAsync(Apply(), Units(), People());

        second.Applied.ShouldBeTrue();
        second.Changes.ShouldBeEmpty();
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox);
        (await host.ScalarAsync("SELECT count(*) FROM employee_versions")).ShouldBe(versions);
        (await host.ScalarAsync("SELECT max(version) FROM employees")).ShouldBe(1);
    }

    [Fact]
    public async Task ARetryWithTheSameKeyReturnsTheFirstResultAndWritesNothingMore()
    {
        var first = await host.ImportAsync(Apply("sync-2026-11-23"), Units(), People());
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox");

        var retry = await host.ImportAsync(Apply("sync-2026-11-23"), Units(), People());

        retry.ShouldBe(first);
        retry.Changes.Count.ShouldBe(14);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox);
    }

    [Fact]
    public async Task ADryRunListsEveryKindOfChangeAndAppliesNone()
    {
        await host.ImportAsync(Apply(), Units(), People());
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox");
        var units = Units();
        units[3] = Unit(5, "eng", "Engineering & Data", "acme", OrgUnitKind.Division);
        units.Add(Unit(16, "ops", "Operations", "acme", OrgUnitKind.Department));
        var people = People();
        people[2] = Person(8, "e03", "Cy North", "eng", "e06");             // moved
        people[8] = Person(14, "e09", "Ida People-Smith", "acme", "e01", Role.Hr, Role.Employee); // updated
        people.RemoveAt(9);                                                // e10 leaves
        people.Add(Person(17, "e11", "Kim New", "ops", "e01"));           // joins

        var dryRun = await host.ImportAsync(DryRun(), units, people);

        dryRun.Applied.ShouldBeFalse();
        dryRun.Changes.Select(c => (c.Kind, c.Id)).ShouldBe(
        [
            (ChangeKind.OrgUnitChanged, "eng"),
            (ChangeKind.OrgUnitCreated, "ops"),
            (ChangeKind.EmployeeMoved, "e03"),
            (ChangeKind.EmployeeUpdated, "e09"),
            (ChangeKind.EmployeeJoined, "e11"),
            (ChangeKind.EmployeeLeft, "e10"),
        ], ignoreOrder: true);
        dryRun.Changes.Single(c => c.Id == "e03").Description.ShouldContain("sales-north → eng");
        dryRun.Deactivated.ShouldBe(1);
        dryRun.ExceedsDeactivationLimit.ShouldBeFalse();

        var e03 = await host.CallAsync<GetEmployeeRequest, GetEmployeeResponse>("GetEmployee", new GetEmployeeRequest { EmployeeId = "e03" });
        e03.Employee.OrgUnitId.ShouldBe("sales-north");
        (await host.ScalarAsync("SELECT count(*) FROM employees WHERE active")).ShouldBe(10);
        (await host.ScalarAsync("SELECT count(*) FROM org_units")).ShouldBe(4);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox);

        // Applied, the same file makes exactly those changes.
        var applied = await host.ImportAsync(Apply(), units, people);
        applied.Changes.ShouldBe(dryRun.Changes);
    }

    [Fact]
    public async Task ASyncThatDeactivatesMoreThanTheLimitIsRefusedUnlessForced()
    {
        await host.ImportAsync(Apply(), Units(), People());
        await host.ReceiveEventsAsync(14);
        var remaining = People().Where(p => p.EmployeeId is not ("e08" or "e10")).ToList(); // 2 of 10 = 20 % > 10 %

        var refused = await Should.ThrowAsync<RpcException>(() => host.ImportAsync(Apply(), Units(), remaining));

        refused.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        refused.Status.Detail.ShouldContain("2 of 10");
        (await host.ScalarAsync("SELECT count(*) FROM employees WHERE active")).ShouldBe(10);
        var dryRun = await host.ImportAsync(DryRun(), Units(), remaining);
        dryRun.ExceedsDeactivationLimit.ShouldBeTrue();
        dryRun.DeactivatedShare.ShouldBe(0.2, 1e-9);

        var forced = await host.ImportAsync(new ImportOptions { IdempotencyKey = "forced", Force = true }, Units(), remaining);

        forced.Changes.Where(c => c.Kind == ChangeKind.EmployeeLeft).Select(c => c.Id).ShouldBe(["e08", "e10"], ignoreOrder: true);
        (await host.ScalarAsync("SELECT count(*) FROM employees WHERE active")).ShouldBe(8);
        var left = await host.ReceiveEventsAsync(2);
        left.ShouldAllBe(e => e.Type == "transformation.directory.employee-left.v1");
        left.Select(e => e.Subject).ShouldBe(["e08", "e10"], ignoreOrder: true);
        left.ShouldAllBe(e => e.Data["employee"]!["active"] == null); // false is the default, left out of proto JSON
    }

    [Fact]
    public async Task ASyncThatChangesTheRolesOrManagersOfMoreThanTheLimitIsRefusedUnlessForced()
    {
        await host.ImportAsync(Apply(), Units(), People());
        var withoutRoles = People().Select(p => { var row = p.Clone(); row.Roles.Clear(); return row; }).ToList();
        var withoutManagers = People().Select(p => { var row = p.Clone(); row.ManagerId = ""; return row; }).ToList();
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox");

        var roles = await Should.ThrowAsync<RpcException>(() => host.ImportAsync(Apply(), Units(), withoutRoles));
        var managers = await Should.ThrowAsync<RpcException>(() => host.ImportAsync(Apply(), Units(), withoutManagers));

        (roles.StatusCode, managers.StatusCode).ShouldBe((StatusCode.FailedPrecondition, StatusCode.FailedPrecondition));
        roles.Status.Detail.ShouldContain("change the roles of 10 of 10 active employees");
        managers.Status.Detail.ShouldContain("change the manager of 9 of 10 active employees");
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox);
        var dryRun = await host.ImportAsync(DryRun(), Units(), withoutRoles);
        (dryRun.RolesChanged, dryRun.ExceedsChangeLimit, dryRun.ExceedsDeactivationLimit).ShouldBe((10, true, false));

        var forced = await host.ImportAsync(new ImportOptions { IdempotencyKey = "forced", Force = true }, Units(), withoutRoles);
        forced.Applied.ShouldBeTrue();
        forced.RolesChanged.ShouldBe(10);
    }

    [Fact]
    public async Task ASecondOptionsMessageIsAnInvalidArgumentNamingTheField()
    {
        var refused = await Should.ThrowAsync<RpcException>(() => StreamAsync(
        [
            new ImportDirectoryRequest { Options = DryRun() },
            new ImportDirectoryRequest { OrgUnits = { Units() } },
            new ImportDirectoryRequest { Options = Apply() },
            new ImportDirectoryRequest { Employees = { People() } },
        ]));

        refused.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refused.GetDetail<BadRequest>()!.FieldViolations.ShouldHaveSingleItem().Field.ShouldBe("options");
        (await host.ScalarAsync("SELECT count(*) FROM employees")).ShouldBe(0);
    }

    [Fact]
    public async Task AnImportOverTheSizeLimitIsRefusedNamingTheLimitAndNothingChanges()
    {
        await host.ImportAsync(Apply(), Units(), People());
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox");
        // 17 MiB of rows, each message under the 4 MiB message limit: over the 16 MiB default of Directory:MaxImportBytes.
        var name = new string('n', 10_000);
        var messages = new List<ImportDirectoryRequest> { new() { Options = Apply() } };
        messages.AddRange(Enumerable.Range(0, 17).Select(m => new ImportDirectoryRequest
        {
            Employees = { Enumerable.Range(0, 105).Select(i => Person(1000 + (m * 105) + i, $"x{m}-{i}", name, "acme", "")) },
        }));

        var refused = await Should.ThrowAsync<RpcException>(() => StreamAsync(messages));

        refused.StatusCode.ShouldBe(StatusCode.ResourceExhausted, refused.Status.Detail);
        refused.Status.Detail.ShouldContain("Directory:MaxImportBytes");
        (await host.ScalarAsync("SELECT count(*) FROM employees")).ShouldBe(10);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox);
    }

    /// <summary>Sends the messages of one import as they are (as CsvUpload does); a refused write throws the call's status.</summary>
    private Task<ImportDirectoryResponse> StreamAsync(IEnumerable<ImportDirectoryRequest> messages) =>
        host.Client.ClientStreamAsync<ImportDirectoryRequest, ImportDirectoryResponse>(
            DirectoryReflection.Descriptor.Services[0].FindMethodByName("ImportDirectory"), messages, DirectoryHost.As(host.Token(Roles.Hr)));

    [Fact]
    public async Task BadRowsAreNamedByLineAndFieldAndNothingIsApplied()
    {
        await host.ImportAsync(Apply(), Units(), People());
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox");
        var units = Units();
        units.Add(Unit(16, "ops", "", "acme", OrgUnitKind.Department));          // no name
        var people = People();
        people[2] = Person(8, "e03", "Cy North", "eng", "e06");                 // a good change, must not be applied
        people[4] = Person(10, "e05", "Ed North", "sales-north", "e99");        // unknown manager
        people[5] = new ImportEmployeeRow(people[5]) { Email = "flo-at-example" }; // not an email
        people.Add(Person(17, "e04", "Di Again", "eng", "e06"));                // duplicate id

        var error = await Should.ThrowAsync<RpcException>(() => host.ImportAsync(Apply(), units, people));

        error.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        error.Status.Detail.ShouldContain("nothing was applied");
        var violations = error.GetDetail<BadRequest>()!.FieldViolations.Select(v => v.Field).ToList();
        violations.ShouldBe(["line 16.name", "line 11.email", "line 17.id"], ignoreOrder: true);
        (await host.CallAsync<GetEmployeeRequest, GetEmployeeResponse>("GetEmployee", new GetEmployeeRequest { EmployeeId = "e03" }))
            .Employee.OrgUnitId.ShouldBe("sales-north");

        // With the row errors fixed, the rules over the whole directory are checked and named the same way.
        people[5] = Person(11, "e06", "Flo Eng", "eng", "e01");
        people.RemoveAt(people.Count - 1);
        units.RemoveAt(units.Count - 1);
        var ruleError = await Should.ThrowAsync<RpcException>(() => host.ImportAsync(Apply(), units, people));
        ruleError.GetDetail<BadRequest>()!.FieldViolations.Select(v => (v.Field, v.Description))
            .ShouldBe([("line 10.manager_id", "manager 'e99' does not exist")]);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox);
        (await host.ScalarAsync("SELECT max(version) FROM employees")).ShouldBe(1);
    }

    [Fact]
    public async Task ACycleInTheTreeOrInTheManagementChainIsRefused()
    {
        var units = Units();
        units[0] = Unit(2, "acme", "Acme", "sales-north", OrgUnitKind.Organisation);
        var people = People();
        people[0] = Person(6, "e01", "Ada Chief", "acme", "e04", Role.Executive);

        var error = await Should.ThrowAsync<RpcException>(() => host.ImportAsync(Apply(), units, people));

        var fields = error.GetDetail<BadRequest>()!.FieldViolations.Select(v => v.Field).ToList();
        fields.ShouldContain("line 2.parent_id");
        fields.ShouldContain("line 6.manager_id");
        (await host.ScalarAsync("SELECT count(*) FROM org_units")).ShouldBe(0);
    }

    [Fact]
    public async Task MovesKeepTheirHistoryAndReadsAsOfAPastMomentSeeIt()
    {
        await host.ImportAsync(Apply(), Units(), People());
        var beforeMove = DateTimeOffset.UtcNow;
        var people = People();
        people[2] = Person(8, "e03", "Cy North", "eng", "e06");
        await host.ImportAsync(Apply(), Units(), people);

        var now = await host.CallAsync<GetEmployeeRequest, GetEmployeeResponse>("GetEmployee", new GetEmployeeRequest { EmployeeId = "e03" });
        var then = await host.CallAsync<GetEmployeeRequest, GetEmployeeResponse>("GetEmployee",
            new GetEmployeeRequest { EmployeeId = "e03", AsOf = Timestamp.FromDateTimeOffset(beforeMove) });

        (now.Employee.OrgUnitId, now.Employee.Version).ShouldBe(("eng", 2L));
        (then.Employee.OrgUnitId, then.Employee.Version).ShouldBe(("sales-north", 1L));
        var salesThen = await host.CallAsync<ListUnitMembersRequest, ListUnitMembersResponse>("ListUnitMembers",
            new ListUnitMembersRequest { OrgUnitId = "sales", IncludeDescendants = true, AsOf = Timestamp.FromDateTimeOffset(beforeMove) });
        salesThen.Employees.Select(e => e.EmployeeId).ShouldBe(["e02", "e03", "e04", "e05"]);
        var salesNow = await host.CallAsync<ListUnitMembersRequest, ListUnitMembersResponse>("ListUnitMembers",
            new ListUnitMembersRequest { OrgUnitId = "sales", IncludeDescendants = true });
        salesNow.Employees.Select(e => e.EmployeeId).ShouldBe(["e02", "e04", "e05"]);
        var salesOnly = await host.CallAsync<ListUnitMembersRequest, ListUnitMembersResponse>("ListUnitMembers",
            new ListUnitMembersRequest { OrgUnitId = "sales" });
        salesOnly.Employees.Select(e => e.EmployeeId).ShouldBe(["e02"]);

        var moved = (await host.ReceiveEventsAsync(15)).Single(e => e.Type == "transformation.directory.employee-moved.v1");
        ((string)moved.Data["previousOrgUnitId"]!).ShouldBe("sales-north");
        ((string)moved.Data["previousManagerId"]!).ShouldBe("e02");
        ((string)moved.Data["employee"]!["orgUnitId"]!).ShouldBe("eng");
    }

    [Fact]
    public async Task TheManagerChainRunsToTheTop()
    {
        await host.ImportAsync(Apply(), Units(), People());

        var chain = await host.CallAsync<GetManagerChainRequest, GetManagerChainResponse>("GetManagerChain",
            new GetManagerChainRequest { EmployeeId = "e05" }, host.Token(Roles.Employee));

        chain.Managers.Select(m => m.EmployeeId).ShouldBe(["e03", "e02", "e01"]);
    }

    [Fact]
    public async Task OnlyHrOperatorsAndServicesMayImportAndAnyoneSignedInMayRead()
    {
        var denied = await Should.ThrowAsync<RpcException>(() => host.ImportAsync(Apply(), Units(), People(), host.Token(Roles.Employee, Roles.Executive)));
        denied.StatusCode.ShouldBe(StatusCode.PermissionDenied);
        var anonymous = await Should.ThrowAsync<RpcException>(() => host.Client.UnaryAsync<GetOrgTreeRequest, GetOrgTreeResponse>(
            DirectoryReflection.Descriptor.Services[0].FindMethodByName("GetOrgTree"), new GetOrgTreeRequest()));
        anonymous.StatusCode.ShouldBe(StatusCode.Unauthenticated);
        var upsert = await Should.ThrowAsync<RpcException>(() => host.CallAsync<UpsertOrgUnitRequest, UpsertOrgUnitResponse>("UpsertOrgUnit",
            new UpsertOrgUnitRequest { IdempotencyKey = "k", OrgUnitId = "x", Name = "X", Kind = OrgUnitKind.Team }, host.Token(Roles.ChangeManager)));
        upsert.StatusCode.ShouldBe(StatusCode.PermissionDenied);

        (await host.ImportAsync(Apply(), Units(), People(), host.Token(Roles.Service))).Applied.ShouldBeTrue();
        (await host.ImportAsync(Apply(), Units(), People(), host.Token(Roles.Operator))).Changes.ShouldBeEmpty();
        (await host.CallAsync<GetOrgTreeRequest, GetOrgTreeResponse>("GetOrgTree", new GetOrgTreeRequest(), host.Token(Roles.Employee)))
            .OrgUnits.Count.ShouldBe(4);
    }
}
