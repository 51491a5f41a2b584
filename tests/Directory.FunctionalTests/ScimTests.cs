using System.Net;
using System.Text;
using Transformation.Directory.V1;
using Transformation.ServiceDefaults.Identity;
using static Transformation.Directory.FunctionalTests.Rows;

namespace Transformation.Directory.FunctionalTests;

/// <summary>Acceptance 1, SCIM provisioning with the request bodies Entra ID and Okta send.</summary>
public sealed class ScimTests(DirectoryHost host) : IClassFixture<DirectoryHost>, IAsyncLifetime
{
    private const string Enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    public async ValueTask InitializeAsync()
    {
        await host.ResetAsync();
        await host.ImportAsync(Apply(), Units(), People());
        await host.ReceiveEventsAsync(14);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task<GetEmployeeResponse> EmployeeAsync(string id) =>
        host.CallAsync<GetEmployeeRequest, GetEmployeeResponse>("GetEmployee", new GetEmployeeRequest { EmployeeId = id });

    [Fact]
    public async Task EntraIdCreatesFindsPatchesAndDeactivatesAUser()
    {
        // Entra ID first looks the user up by userName.
        var (status, found) = await host.ScimAsync(HttpMethod.Get, "scim/v2/Users?filter=userName+eq+%22Ryan.Leenay%40contoso.com%22");
        status.ShouldBe(HttpStatusCode.OK);
        ((int)found!["totalResults"]!).ShouldBe(0);

        (status, var created) = await host.ScimAsync(HttpMethod.Post, "scim/v2/Users", $$"""
            {
              "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "{{Enterprise}}"],
              "externalId": "0a21f0f2-8d2a-4f8e-bf98-7b2c4f1f1a11",
              "userName": "Ryan.Leenay@contoso.com",
              "active": true,
              "displayName": "Ryan Leenay",
              "emails": [{ "primary": true, "type": "work", "value": "Ryan.Leenay@contoso.com" }],
              "meta": { "resourceType": "User" },
              "name": { "formatted": "Ryan Leenay", "familyName": "Leenay", "givenName": "Ryan" },
              "roles": [],
              "{{Enterprise}}": { "department": "Sales", "employeeNumber": "e20" }
            }
            """);
        status.ShouldBe(HttpStatusCode.Created);
        ((string)created!["id"]!).ShouldBe("e20");
        ((string)created[Enterprise]!["department"]!).ShouldBe("Sales");
        var joined = (await host.ReceiveEventsAsync(1)).Single();
        joined.Type.ShouldBe("transformation.directory.employee-joined.v1");
        ((string)joined.Data["employee"]!["orgUnitId"]!).ShouldBe("sales");

        (_, found) = await host.ScimAsync(HttpMethod.Get, "scim/v2/Users?filter=userName+eq+%22ryan.leenay%40contoso.com%22");
        ((int)found!["totalResults"]!).ShouldBe(1);
        (_, found) = await host.ScimAsync(HttpMethod.Get, "scim/v2/Users?filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7b2c4f1f1a11%22");
        ((string)found!["Resources"]![0]!["id"]!).ShouldBe("e20");

        (status, var patched) = await host.ScimAsync(HttpMethod.Patch, "scim/v2/Users/e20", $$"""
            {
              "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [
                { "op": "Replace", "path": "displayName", "value": "Ryan Leenay-Moss" },
                { "op": "Add", "path": "emails[type eq \"work\"].value", "value": "ryan.moss@contoso.com" },
                { "op": "Add", "path": "{{Enterprise}}:department", "value": "Engineering" },
                { "op": "Add", "path": "{{Enterprise}}:manager", "value": "e06" },
                { "op": "Replace", "path": "name.givenName", "value": "Ryan" },
                { "op": "Add", "path": "title", "value": "Engineer" }
              ]
            }
            """);
        status.ShouldBe(HttpStatusCode.OK);
        ((string)patched![Enterprise]!["manager"]!["value"]!).ShouldBe("e06");
        var moved = (await host.ReceiveEventsAsync(1)).Single();
        moved.Type.ShouldBe("transformation.directory.employee-moved.v1");
        ((string)moved.Data["previousOrgUnitId"]!).ShouldBe("sales");
        var employee = (await EmployeeAsync("e20")).Employee;
        (employee.OrgUnitId, employee.ManagerId, employee.DisplayName, employee.Email).ShouldBe(("eng", "e06", "Ryan Leenay-Moss", "ryan.moss@contoso.com"));

        // Entra ID disables with a string boolean.
        (status, var disabled) = await host.ScimAsync(HttpMethod.Patch, "scim/v2/Users/e20", """
            { "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "Replace", "path": "active", "value": "False" }] }
            """);
        status.ShouldBe(HttpStatusCode.OK);
        ((bool)disabled!["active"]!).ShouldBeFalse();
        (await host.ReceiveEventsAsync(1)).Single().Type.ShouldBe("transformation.directory.employee-left.v1");
        (await EmployeeAsync("e20")).Employee.Active.ShouldBeFalse();
        (await host.ScalarAsync("SELECT count(*) FROM employee_versions WHERE id = 'e20'")).ShouldBe(3);

        // The same patch again changes nothing and publishes nothing.
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox");
        await host.ScimAsync(HttpMethod.Patch, "scim/v2/Users/e20", """
            { "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "Replace", "path": "active", "value": "False" }] }
            """);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox);
    }

    [Fact]
    public async Task OktaCreatesReplacesAndDeactivatesAUser()
    {
        var (status, created) = await host.ScimAsync(HttpMethod.Post, "scim/v2/Users", """
            {
              "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
              "userName": "kim.lee@example.com",
              "name": { "givenName": "Kim", "familyName": "Lee" },
              "emails": [{ "primary": true, "value": "kim.lee@example.com", "type": "work" }],
              "displayName": "Kim Lee",
              "locale": "en-US",
              "externalId": "00ujl29u0le5T6Aj10h7",
              "groups": [],
              "password": "1mz050nq",
              "active": true
            }
            """);
        status.ShouldBe(HttpStatusCode.Created);
        var id = (string)created!["id"]!;
        id.ShouldStartWith("u-");

        (status, var replaced) = await host.ScimAsync(HttpMethod.Put, $"scim/v2/Users/{id}", $$"""
            {
              "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "{{Enterprise}}"],
              "id": "{{id}}",
              "userName": "kim.lee@example.com",
              "name": { "givenName": "Kim", "familyName": "Lee-Park" },
              "emails": [{ "primary": true, "value": "kim.lee@example.com", "type": "work" }],
              "displayName": "Kim Lee-Park",
              "externalId": "00ujl29u0le5T6Aj10h7",
              "active": true,
              "{{Enterprise}}": { "department": "sales-north", "manager": { "value": "e03" } }
            }
            """);
        status.ShouldBe(HttpStatusCode.OK);
        ((string)replaced!["displayName"]!).ShouldBe("Kim Lee-Park");
        var employee = (await EmployeeAsync(id)).Employee;
        (employee.OrgUnitId, employee.ManagerId).ShouldBe(("sales-north", "e03"));

        (status, var deactivated) = await host.ScimAsync(HttpMethod.Patch, $"scim/v2/Users/{id}", """
            { "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "value": { "active": false } }] }
            """);
        status.ShouldBe(HttpStatusCode.OK);
        ((bool)deactivated!["active"]!).ShouldBeFalse();
        var events = await host.ReceiveEventsAsync(3);
        events.Select(e => e.Type).ShouldBe(
        [
            "transformation.directory.employee-joined.v1",
            "transformation.directory.employee-moved.v1",
            "transformation.directory.employee-left.v1",
        ]);
        events.ShouldAllBe(e => e.Subject == id);
    }

    [Fact]
    public async Task GroupsAreRolesAndMembershipFollowsAddAndRemoveAsEntraIdAndOktaSendThem()
    {
        var (status, groups) = await host.ScimAsync(HttpMethod.Get, "scim/v2/Groups?excludedAttributes=members&filter=displayName+eq+%22change_manager%22");
        status.ShouldBe(HttpStatusCode.OK);
        ((int)groups!["totalResults"]!).ShouldBe(1);
        var group = groups["Resources"]![0]!;
        ((string)group["id"]!).ShouldBe("change_manager");
        group["members"].ShouldBeNull();

        // Entra ID adds members with a path and an array.
        (status, _) = await host.ScimAsync(HttpMethod.Patch, "scim/v2/Groups/change_manager", """
            {
              "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{ "op": "Add", "path": "members", "value": [{ "value": "e03" }, { "value": "e07" }] }]
            }
            """);
        status.ShouldBe(HttpStatusCode.NoContent);
        (await EmployeeAsync("e03")).Employee.Roles.ShouldBe([Role.ChangeManager, Role.Employee]);
        var updated = await host.ReceiveEventsAsync(2);
        updated.ShouldAllBe(e => e.Type == "transformation.directory.employee-updated.v1");

        // Okta removes one member by a value filter in the path.
        (status, _) = await host.ScimAsync(HttpMethod.Patch, "scim/v2/Groups/change_manager", """
            { "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "remove", "path": "members[value eq \"e03\"]" }] }
            """);
        status.ShouldBe(HttpStatusCode.NoContent);
        (await EmployeeAsync("e03")).Employee.Roles.ShouldBe([Role.Employee]);

        // Entra ID removes with a value array; Okta pushes a group (rename to itself is allowed) with members.
        await host.ScimAsync(HttpMethod.Patch, "scim/v2/Groups/change_manager", """
            { "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "Remove", "path": "members", "value": [{ "value": "e07" }] }] }
            """);
        (await EmployeeAsync("e07")).Employee.Roles.ShouldBe([Role.Employee]);
        (status, var pushed) = await host.ScimAsync(HttpMethod.Post, "scim/v2/Groups", """
            { "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "operator", "members": [{ "value": "e08", "display": "Hal Eng" }] }
            """);
        status.ShouldBe(HttpStatusCode.Created);
        pushed!["members"]!.AsArray().Select(m => (string)m!["value"]!).ShouldBe(["e08"]);
        await host.ScimAsync(HttpMethod.Patch, "scim/v2/Groups/operator", """
            { "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "value": { "id": "operator", "displayName": "operator" } }] }
            """);
        (_, var operators) = await host.ScimAsync(HttpMethod.Get, "scim/v2/Groups/operator");
        operators!["members"]!.AsArray().Select(m => (string)m!["value"]!).ShouldBe(["e08"]);

        (status, var unknown) = await host.ScimAsync(HttpMethod.Post, "scim/v2/Groups", """{ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Marketing" }""");
        status.ShouldBe(HttpStatusCode.BadRequest);
        ((string)unknown!["scimType"]!).ShouldBe("invalidValue");
    }

    [Fact]
    public async Task ErrorsUseTheScimErrorFormat()
    {
        var (status, error) = await host.ScimAsync(HttpMethod.Post, "scim/v2/Users", """
            { "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "e05@example.com", "displayName": "Copy of Ed" }
            """);
        status.ShouldBe(HttpStatusCode.Conflict);
        ((string)error!["scimType"]!).ShouldBe("uniqueness");
        error["schemas"]![0]!.GetValue<string>().ShouldBe("urn:ietf:params:scim:api:messages:2.0:Error");
        ((string)error["status"]!).ShouldBe("409");

        (status, error) = await host.ScimAsync(HttpMethod.Post, "scim/v2/Users", $$"""
            { "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "new@example.com", "displayName": "New", "{{Enterprise}}": { "department": "Marketing" } }
            """);
        (status, (string)error!["scimType"]!).ShouldBe((HttpStatusCode.BadRequest, "invalidValue"));
        ((string)error["detail"]!).ShouldContain("Marketing");

        (status, error) = await host.ScimAsync(HttpMethod.Get, "scim/v2/Users?filter=title+co+%22x%22");
        (status, (string)error!["scimType"]!).ShouldBe((HttpStatusCode.BadRequest, "invalidFilter"));
        (status, error) = await host.ScimAsync(HttpMethod.Get, "scim/v2/Users/nobody");
        (status, (string)error!["status"]!).ShouldBe((HttpStatusCode.NotFound, "404"));
        (await host.ScalarAsync("SELECT count(*) FROM employees")).ShouldBe(10);
    }

    [Theory]
    [InlineData("GET", "scim/v2/Users?filter=userName+eq+%22a%00b%22", null)]
    [InlineData("GET", "scim/v2/Users?filter=userName+eq+%22%FF%FE%22", null)]
    [InlineData("GET", "scim/v2/Groups?filter=displayName+eq+%22hr%00%22", null)]
    [InlineData("POST", "scim/v2/Users", """{ "userName": "nul@example.com", "displayName": "Nul\u0000Byte" }""")]
    [InlineData("PATCH", "scim/v2/Users/e01", """{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "path": "displayName", "value": "A\u0000" }] }""")]
    [InlineData("POST", "scim/v2/Users", "LATIN1")]
    public async Task ANulOrInvalidUtf8IsA400WithTheScimErrorBodyAndNoStackTrace(string method, string path, string? body)
    {
        // "LATIN1": a body whose JSON string holds a byte that is not UTF-8.
        byte[]? bytes = body == "LATIN1"
            ? [.. Encoding.UTF8.GetBytes("""{ "userName": "rene@example.com", "displayName": "Ren"""), 0xE9, .. Encoding.UTF8.GetBytes("\" }")]
            : body is null ? null : Encoding.UTF8.GetBytes(body);

        var (status, error) = await host.ScimAsync(new HttpMethod(method), path, bytes);

        status.ShouldBe(HttpStatusCode.BadRequest, error?.ToJsonString());
        error!["schemas"]![0]!.GetValue<string>().ShouldBe("urn:ietf:params:scim:api:messages:2.0:Error");
        ((string)error["status"]!).ShouldBe("400");
        ((string)error["scimType"]!).ShouldBeOneOf("invalidFilter", "invalidValue", "invalidSyntax");
        error.ToJsonString().ShouldNotContain("Exception");
        (await host.ScalarAsync("SELECT count(*) FROM employees")).ShouldBe(10);
        (await host.ScalarAsync("SELECT count(*) FROM employees WHERE display_name = 'Ada Chief'")).ShouldBe(1);
    }

    [Fact]
    public async Task ATooLongNameAWrongPatchSchemaAndAnInvalidPathAre400sThatChangeNothing()
    {
        var (status, error) = await host.ScimAsync(HttpMethod.Post, "scim/v2/Users",
            $$"""{ "userName": "long@example.com", "displayName": "{{new string('x', 30_000)}}" }""");
        (status, (string)error!["scimType"]!).ShouldBe((HttpStatusCode.BadRequest, "invalidValue"));

        (status, error) = await host.ScimAsync(HttpMethod.Patch, "scim/v2/Users/e01",
            """{ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": [{ "op": "replace", "path": "displayName", "value": "Wrong" }] }""");
        (status, (string)error!["scimType"]!).ShouldBe((HttpStatusCode.BadRequest, "invalidSyntax"));

        (status, error) = await host.ScimAsync(HttpMethod.Patch, "scim/v2/Users/e01",
            """{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "path": "displayNme", "value": "Typo" }] }""");
        (status, (string)error!["scimType"]!).ShouldBe((HttpStatusCode.BadRequest, "invalidPath"));

        (await host.ScalarAsync("SELECT count(*) FROM employees")).ShouldBe(10);
        (await host.ScalarAsync("SELECT count(*) FROM employees WHERE id = 'e01' AND display_name = 'Ada Chief' AND version = 1")).ShouldBe(1);
    }

    [Fact]
    public async Task OnlyHrOperatorsAndServicesMayProvision()
    {
        var (status, error) = await host.ScimAsync(HttpMethod.Get, "scim/v2/Users", token: host.Token(Roles.Employee, Roles.Executive));
        status.ShouldBe(HttpStatusCode.Forbidden);
        ((string)error!["status"]!).ShouldBe("403");
        (status, _) = await host.ScimAsync(HttpMethod.Get, "scim/v2/Users", token: "not-a-token");
        status.ShouldBe(HttpStatusCode.Unauthorized);
        (status, var list) = await host.ScimAsync(HttpMethod.Get, "scim/v2/Users?startIndex=3&count=2", token: host.Token(Roles.Service));
        status.ShouldBe(HttpStatusCode.OK);
        ((int)list!["totalResults"]!).ShouldBe(10);
        list["Resources"]!.AsArray().Select(u => (string)u!["id"]!).ShouldBe(["e03", "e04"]);
    }

    [Fact]
    public async Task DiscoveryEndpointsDescribeWhatIsSupported()
    {
        var (_, config) = await host.ScimAsync(HttpMethod.Get, "scim/v2/ServiceProviderConfig");
        ((bool)config!["patch"]!["supported"]!).ShouldBeTrue();
        var (_, types) = await host.ScimAsync(HttpMethod.Get, "scim/v2/ResourceTypes");
        types!["Resources"]!.AsArray().Select(t => (string)t!["id"]!).ShouldBe(["User", "Group"]);
        var (_, schemas) = await host.ScimAsync(HttpMethod.Get, "scim/v2/Schemas");
        ((int)schemas!["totalResults"]!).ShouldBe(3);
    }
}
