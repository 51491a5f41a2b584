using System.Text.Json.Nodes;
using Transformation.Directory.Api.Scim;
using Transformation.Directory.V1;

namespace Transformation.Directory.UnitTests;

public sealed class ScimPatchTests
{
    private static JsonObject Patch(string operations) =>
        JsonNode.Parse($$"""{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": {{operations}} }""")!.AsObject();

    [Fact]
    public void EntraIdOperationsWithPathsAndStringBooleansApply()
    {
        var user = new ScimUser { UserName = "a@contoso.com", DisplayName = "A", Active = true };

        user.ApplyPatch(Patch("""
            [
              { "op": "Replace", "path": "active", "value": "False" },
              { "op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com" },
              { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales" },
              { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "e7" },
              { "op": "Replace", "path": "displayName", "value": "Alex" },
              { "op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555" }
            ]
            """));

        (user.Active, user.Email, user.Department, user.ManagerId, user.DisplayName).ShouldBe((false, "new@contoso.com", "Sales", "e7", "Alex"));
        user.ApplyPatch(Patch("""[{ "op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager" }]"""));
        user.ManagerId.ShouldBe("");
    }

    [Fact]
    public void OktaOperationsWithoutAPathApplyEachAttribute()
    {
        var user = new ScimUser { UserName = "kim@example.com", Active = true };

        user.ApplyPatch(Patch("""[{ "op": "replace", "value": { "active": false, "name.givenName": "Kim", "name": { "familyName": "Lee" } } }]"""));

        (user.Active, user.ResolvedDisplayName).ShouldBe((false, "Kim Lee"));
    }

    [Fact]
    public void AFullResourceReadsTheEnterpriseExtensionAndThePrimaryEmail()
    {
        var user = ScimUser.FromResource(JsonNode.Parse("""
            {
              "userName": "x@example.com", "active": "True",
              "emails": [{ "value": "home@example.com", "type": "home" }, { "value": "work@example.com", "type": "work", "primary": true }],
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "eng", "manager": { "value": "m1" }, "employeeNumber": "e9" }
            }
            """)!.AsObject());

        (user.Email, user.Department, user.ManagerId, user.EmployeeNumber, user.Active).ShouldBe(("work@example.com", "eng", "m1", "e9", true));
        user.ResolvedDisplayName.ShouldBe("x@example.com");
    }

    [Fact]
    public void ABadBooleanOrOperationIsASyntaxError()
    {
        var user = new ScimUser();
        Should.Throw<ScimException>(() => user.ApplyPatch(Patch("""[{ "op": "replace", "path": "active", "value": "maybe" }]"""))).ScimType.ShouldBe("invalidValue");
        Should.Throw<ScimException>(() => user.ApplyPatch(Patch("""[{ "op": "move", "path": "active" }]"""))).ScimType.ShouldBe("invalidSyntax");
    }

    [Fact]
    public void AValueLongerThanTheGrpcLimitIsAnInvalidValue()
    {
        var name = new string('x', 30_000);
        Should.Throw<ScimException>(() => ScimUser.FromResource(JsonNode.Parse($$"""{ "userName": "a@b.c", "displayName": "{{name}}" }""")!.AsObject()))
            .ScimType.ShouldBe("invalidValue");
        Should.Throw<ScimException>(() => new ScimUser().ApplyPatch(Patch($$"""[{ "op": "replace", "path": "displayName", "value": "{{name}}" }]""")))
            .ScimType.ShouldBe("invalidValue");
        ScimUser.FromResource(JsonNode.Parse($$"""{ "displayName": "{{name[..ScimUser.MaxValueLength]}}" }""")!.AsObject()).DisplayName.Length.ShouldBe(20_000);
    }

    [Theory]
    [InlineData("""{ "Operations": [] }""")]
    [InlineData("""{ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": [] }""")]
    [InlineData("""{ "schemas": "urn:ietf:params:scim:api:messages:2.0:PatchOp", "Operations": [] }""")]
    public void APatchWhoseSchemasAreNotPatchOpIsASyntaxError(string body)
    {
        var patch = JsonNode.Parse(body)!.AsObject();
        Should.Throw<ScimException>(() => new ScimUser().ApplyPatch(patch)).ScimType.ShouldBe("invalidSyntax");
        Should.Throw<ScimException>(() => ScimEndpoints.ApplyGroupPatch(Role.Hr, patch, new HashSet<string>())).ScimType.ShouldBe("invalidSyntax");
    }

    [Theory]
    [InlineData("nonsense")]
    [InlineData("displayName.first")]
    [InlineData("name.nickname")]
    [InlineData("emails[type eq \"work\"")]
    [InlineData("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:salary")]
    [InlineData("urn:example:custom:attribute")]
    public void APatchPathThatIsNoUserAttributeIsAnInvalidPath(string path)
    {
        var user = new ScimUser { DisplayName = "A" };
        Should.Throw<ScimException>(() => user.ApplyPatch(Patch($$"""[{ "op": "replace", "path": {{JsonValue.Create(path).ToJsonString()}}, "value": "x" }]""")))
            .ScimType.ShouldBe("invalidPath");
        user.DisplayName.ShouldBe("A");
    }

    [Theory]
    [InlineData("title")]
    [InlineData("phoneNumbers[type eq \"mobile\"].value")]
    [InlineData("addresses[type eq \"work\"].locality")]
    [InlineData("name.givenName")]
    [InlineData("urn:ietf:params:scim:schemas:core:2.0:User:displayName")]
    [InlineData("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")]
    [InlineData("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter")]
    public void PathsOfUserAttributesAreAcceptedWhetherKeptOrNot(string path) => ScimUser.IsUserPath(path).ShouldBeTrue();

    [Fact]
    public void GroupMembershipFollowsAddRemoveAndReplace()
    {
        IReadOnlySet<string> members = new HashSet<string>(["a", "b"], StringComparer.Ordinal);

        members = ScimEndpoints.ApplyGroupPatch(Role.Hr, Patch("""[{ "op": "Add", "path": "members", "value": [{ "value": "c" }] }]"""), members);
        members.ShouldBe(["a", "b", "c"], ignoreOrder: true);
        members = ScimEndpoints.ApplyGroupPatch(Role.Hr, Patch("""[{ "op": "remove", "path": "members[value eq \"a\"]" }]"""), members);
        members.ShouldBe(["b", "c"], ignoreOrder: true);
        members = ScimEndpoints.ApplyGroupPatch(Role.Hr, Patch("""[{ "op": "Remove", "path": "members", "value": [{ "value": "b" }] }]"""), members);
        members.ShouldBe(["c"]);
        members = ScimEndpoints.ApplyGroupPatch(Role.Hr, Patch("""[{ "op": "replace", "path": "members", "value": [{ "value": "d" }, { "value": "e" }] }]"""), members);
        members.ShouldBe(["d", "e"], ignoreOrder: true);
        Should.Throw<ScimException>(() => ScimEndpoints.ApplyGroupPatch(Role.Hr,
            Patch("""[{ "op": "replace", "path": "displayName", "value": "People" }]"""), members)).ScimType.ShouldBe("mutability");
    }

    [Theory]
    [InlineData("userName eq \"a@b.c\"", "userName", "a@b.c")]
    [InlineData("externalId EQ \"x \\\"y\\\"\"", "externalId", "x \"y\"")]
    public void FiltersOfTheFormAttributeEqValueParse(string filter, string attribute, string value) =>
        ScimFilter.Parse(filter).ShouldBe(new ScimFilter(attribute, value));

    [Fact]
    public void OtherFiltersAreRefused() =>
        Should.Throw<ScimException>(() => ScimFilter.Parse("userName sw \"a\"")).ScimType.ShouldBe("invalidFilter");
}
