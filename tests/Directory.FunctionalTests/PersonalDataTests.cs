using Transformation.Directory.V1;
using Transformation.ServiceDefaults.Identity;
using static Transformation.Directory.FunctionalTests.Rows;
using Grpc.Core;

namespace Transformation.Directory.FunctionalTests;

/// <summary>Acceptance 1, personal data: export and erasure; and full resynchronisation (the snapshot stream, republishing).</summary>
public sealed class PersonalDataTests(DirectoryHost host) : IClassFixture<DirectoryHost>, IAsyncLifetime
{
    public async ValueTask InitializeAsync()
    {
        await host.ResetAsync();
        await host.ImportAsync(Apply(), Units(), People());
        await host.ReceiveEventsAsync(14);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task<ExportEmployeeDataResponse> ExportAsync(string id, string token) =>
        host.CallAsync<ExportEmployeeDataRequest, ExportEmployeeDataResponse>("ExportEmployeeData", new ExportEmployeeDataRequest { EmployeeId = id }, token);

    private Task<EraseEmployeeResponse> EraseAsync(string id, string? key = null) =>
        host.CallAsync<EraseEmployeeRequest, EraseEmployeeResponse>("EraseEmployee",
            new EraseEmployeeRequest { EmployeeId = id, IdempotencyKey = key ?? Guid.NewGuid().ToString() });

    private async Task LeaveAsync(params string[] leavers)
    {
        var people = People().Where(p => !leavers.Contains(p.EmployeeId)).ToList();
        await host.ImportAsync(new ImportOptions { IdempotencyKey = Guid.NewGuid().ToString(), Force = true }, Units(), people);
        await host.ReceiveEventsAsync(leavers.Length);
    }

    [Fact]
    public async Task APersonExportsTheirOwnDataWithItsHistoryAndNobodyElseButHrMay()
    {
        var people = People();
        people[2] = Person(8, "e03", "Cy North", "eng", "e06");
        await host.ImportAsync(Apply(), Units(), people);

        var export = await ExportAsync("e03", host.Identity.TokenFor("e03", Roles.Employee));

        (export.Employee.DisplayName, export.Employee.Email, export.Employee.OrgUnitId).ShouldBe(("Cy North", "e03@example.com", "eng"));
        export.History.Select(h => (h.Employee.Version, h.Employee.OrgUnitId)).ShouldBe([(1L, "sales-north"), (2L, "eng")]);
        export.History[0].ValidTo.ShouldBe(export.History[1].ValidFrom);
        export.History[1].ValidTo.ShouldBeNull();
        export.Erased.ShouldBeFalse();
        (await ExportAsync("e03", host.Token(Roles.Hr))).History.Count.ShouldBe(2);
        var denied = await Should.ThrowAsync<RpcException>(() => ExportAsync("e03", host.Identity.TokenFor("e04", Roles.Employee, Roles.ChangeManager)));
        denied.StatusCode.ShouldBe(StatusCode.PermissionDenied);
    }

    [Fact]
    public async Task AnActiveEmployeeCannotBeErased()
    {
        var error = await Should.ThrowAsync<RpcException>(() => EraseAsync("e05"));

        error.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        (await ExportAsync("e05", host.Token(Roles.Hr))).Employee.DisplayName.ShouldBe("Ed North");
    }

    [Fact]
    public async Task ErasureBlanksALeaversPersonalFieldsEverywhereKeepsTheIdAndPublishesEmployeeErased()
    {
        await LeaveAsync("e05");

        var erased = await EraseAsync("e05", "erase-e05");

        erased.Version.ShouldBe(3);
        var export = await ExportAsync("e05", host.Token(Roles.Operator));
        export.Erased.ShouldBeTrue();
        (export.Employee.EmployeeId, export.Employee.DisplayName, export.Employee.Email, export.Employee.OrgUnitId)
            .ShouldBe(("e05", "", "", "sales-north"));
        export.History.Count.ShouldBe(3);
        export.History.ShouldAllBe(h => h.Employee.DisplayName == "" && h.Employee.Email == "");
        (await host.ScalarAsync("SELECT count(*) FROM employee_versions WHERE display_name LIKE 'Ed%' OR email LIKE 'e05@%'")).ShouldBe(0);
        var events = await host.ReceiveEventsAsync(1);
        events.Single().Type.ShouldBe("transformation.directory.employee-erased.v1");
        ((string)events.Single().Data["employeeId"]!).ShouldBe("e05");
        ((string)events.Single().Data["version"]!).ShouldBe("3");

        // A retry, and a second request, change nothing more.
        (await EraseAsync("e05", "erase-e05")).ShouldBe(erased);
        (await EraseAsync("e05")).Version.ShouldBe(3);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'employee-erased'")).ShouldBe(1);
        var denied = await Should.ThrowAsync<RpcException>(() => host.CallAsync<EraseEmployeeRequest, EraseEmployeeResponse>("EraseEmployee",
            new EraseEmployeeRequest { EmployeeId = "e05", IdempotencyKey = "x" }, host.Token(Roles.Executive)));
        denied.StatusCode.ShouldBe(StatusCode.PermissionDenied);
    }

    [Fact]
    public async Task ErasureAlsoRemovesTheScimIdentity()
    {
        var (_, created) = await host.ScimAsync(HttpMethod.Post, "scim/v2/Users", """
            { "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "pat.doe@example.com", "displayName": "Pat Doe",
              "externalId": "okta-pat", "emails": [{ "primary": true, "value": "pat.doe@example.com", "type": "work" }], "active": true }
            """);
        var id = (string)created!["id"]!;
        await host.ScimAsync(HttpMethod.Delete, $"scim/v2/Users/{id}");
        (await ExportAsync(id, host.Token(Roles.Hr))).ScimExternalId.ShouldBe("okta-pat");

        await EraseAsync(id);

        var export = await ExportAsync(id, host.Token(Roles.Hr));
        (export.ScimUserName, export.ScimExternalId, export.Employee.DisplayName).ShouldBe(("", "", ""));
        (await host.ScimAsync(HttpMethod.Get, "scim/v2/Users?filter=userName+eq+%22pat.doe%40example.com%22")).Body!["totalResults"]!
            .GetValue<int>().ShouldBe(0);
    }

    [Fact]
    public async Task TheResynchronisationStreamsEveryUnitParentsFirstThenEveryEmployee()
    {
        await LeaveAsync("e10");
        using var call = host.Client.ServerStreaming<StreamDirectorySnapshotRequest, StreamDirectorySnapshotResponse>(
            DirectoryReflection.Descriptor.Services[0].FindMethodByName("StreamDirectorySnapshot"), new StreamDirectorySnapshotRequest(),
            DirectoryHost.As(host.Token(Roles.Service)));

        var items = new List<StreamDirectorySnapshotResponse>();
        await foreach (var item in call.ResponseStream.ReadAllAsync(TestContext.Current.CancellationToken))
        {
            items.Add(item);
        }

        items.Take(4).Select(i => i.OrgUnit.OrgUnitId).ShouldBe(["acme", "eng", "sales", "sales-north"]);
        var employees = items.Skip(4).Select(i => i.Employee).ToList();
        employees.Count.ShouldBe(10);
        employees.Single(e => e.EmployeeId == "e10").Active.ShouldBeFalse();
        employees.Single(e => e.EmployeeId == "e10").Version.ShouldBe(2);
    }

    [Fact]
    public async Task RepublishingSendsEveryCurrentSnapshotOnceForConsumersToCatchUpAndARetryNothingMore()
    {
        await LeaveAsync("e05");
        await EraseAsync("e05");
        await host.ReceiveEventsAsync(1);

        var republished = await host.CallAsync<RepublishDirectoryRequest, RepublishDirectoryResponse>("RepublishDirectory",
            new RepublishDirectoryRequest { IdempotencyKey = "resync-1" });

        (republished.OrgUnits, republished.Employees, republished.ErasedEmployees).ShouldBe((4, 10, 1));
        var events = await host.ReceiveEventsAsync(14);
        events.Take(4).ShouldAllBe(e => e.Type == "transformation.directory.org-unit-changed.v1");
        events.Select(e => e.Subject).Take(4).ShouldBe(["acme", "eng", "sales", "sales-north"], ignoreOrder: true);
        events.Single(e => e.Subject == "acme").Data["orgUnit"]!["parentId"].ShouldBeNull(); // the root: protobuf JSON leaves empty fields out
        var updated = events.Where(e => e.Type == "transformation.directory.employee-updated.v1").ToList();
        updated.Count.ShouldBe(9);
        var cy = updated.Single(e => e.Subject == "e03").Data["employee"]!;
        ((string)cy["orgUnitId"]!, (string)cy["managerId"]!, (string)cy["version"]!).ShouldBe(("sales-north", "e02", "1"));
        var erased = events.Single(e => e.Type == "transformation.directory.employee-erased.v1");
        (erased.Subject, (string)erased.Data["version"]!).ShouldBe(("e05", "3"));

        // A retry with the same key returns the first answer and publishes nothing more; employees may not republish.
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox");
        (await host.CallAsync<RepublishDirectoryRequest, RepublishDirectoryResponse>("RepublishDirectory",
            new RepublishDirectoryRequest { IdempotencyKey = "resync-1" })).ShouldBe(republished);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox);
        (await Should.ThrowAsync<RpcException>(() => host.CallAsync<RepublishDirectoryRequest, RepublishDirectoryResponse>("RepublishDirectory",
            new RepublishDirectoryRequest { IdempotencyKey = "resync-2" }, host.Token(Roles.Employee)))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
    }
}
