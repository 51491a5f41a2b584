using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Transformation.Csv;
using Transformation.Directory.V1;
using Transformation.ServiceDefaults;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Directory.Api.Scim;

/// <summary>
/// SCIM 2.0 (RFC 7643/7644) on the HTTP/1.1 port, as Entra ID and Okta provisioning use it: /scim/v2/Users and
/// /scim/v2/Groups (GET with filter, POST, PUT, PATCH, DELETE) and the discovery endpoints. Bearer tokens with the hr,
/// operator or service role. Deactivation (active false, or DELETE) makes the employee leave; history is kept.
/// </summary>
public static partial class ScimEndpoints
{
    public const string ContentType = "application/scim+json";
    private const string ListSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    private const string GroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group";

    public static WebApplication MapScim(this WebApplication app)
    {
        var scim = app.MapGroup("/scim/v2");
        var httpPort = app.Services.GetRequiredService<IOptions<ServiceOptions>>().Value.HttpPort;
        if (httpPort != 0)
        {
            scim.RequireHost($"*:{httpPort}");
        }

        scim.AddEndpointFilter(async (context, next) =>
        {
            var caller = context.HttpContext.User.ToCaller();
            if (caller is null)
            {
                return Result(401, ScimDirectory.Error(401, null, "A valid bearer token is required."));
            }

            if (!caller.IsInAnyRole(Roles.Hr, Roles.Operator, Roles.Service))
            {
                return Result(403, ScimDirectory.Error(403, null, "SCIM provisioning needs the hr, operator or service role."));
            }

            // Escapes that are not UTF-8 (%FF) stay undecoded in the query's values: refused rather than searched for.
            if (context.HttpContext.Request.QueryString.Value is { Length: > 0 } query
                && !System.Text.Unicode.Utf8.IsValid(WebUtility.UrlDecodeToBytes(Encoding.UTF8.GetBytes(query), 0, Encoding.UTF8.GetByteCount(query))))
            {
                return Result(400, ScimDirectory.Error(400, "invalidFilter", "The query string is not valid UTF-8."));
            }

            try
            {
                return await next(context);
            }
            catch (ScimException e)
            {
                return Result(e.Status, ScimDirectory.Error(e.Status, e.ScimType, e.Message));
            }
            catch (JsonException e)
            {
                return Result(400, ScimDirectory.Error(400, "invalidSyntax", $"The body is not valid JSON: {e.Message}"));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // No exception text reaches the client: it is logged.
                context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ScimEndpoints))
                    .LogError(e, "SCIM {Method} {Path} failed", context.HttpContext.Request.Method, context.HttpContext.Request.Path);
                return Result(500, ScimDirectory.Error(500, null, "An unexpected error occurred; it has been logged."));
            }
        });

        scim.MapGet("/Users", async (HttpContext http, ScimDirectory directory, string? filter, int? startIndex, int? count) =>
        {
            var (total, users) = await directory.ListUsersAsync(ScimFilter.Parse(filter), startIndex ?? 1, count ?? 100, http.RequestAborted);
            return Result(200, List(total, startIndex ?? 1, users.Select(u => UserResource(http, u))));
        });
        scim.MapGet("/Users/{id}", async (HttpContext http, ScimDirectory directory, string id) =>
            await directory.FindUserAsync(id, http.RequestAborted) is { } user ? Result(200, UserResource(http, user)) : NotFound("User", id));
        scim.MapPost("/Users", async (HttpContext http, ScimDirectory directory) =>
        {
            var user = ScimUser.FromResource(await ReadAsync(http));
            var created = await directory.CreateUserAsync(user, http.RequestAborted);
            http.Response.Headers.Location = Location(http, "Users", created.Employee.Id);
            return Result(201, UserResource(http, created));
        });
        scim.MapPut("/Users/{id}", async (HttpContext http, ScimDirectory directory, string id) =>
        {
            var replacement = ScimUser.FromResource(await ReadAsync(http));
            // PUT replaces the whole resource; the roles stay with the groups.
            var updated = await directory.UpdateUserAsync(id, user => Copy(replacement, user), http.RequestAborted);
            return updated is null ? NotFound("User", id) : Result(200, UserResource(http, updated));
        });
        scim.MapPatch("/Users/{id}", async (HttpContext http, ScimDirectory directory, string id) =>
        {
            var patch = await ReadAsync(http);
            var updated = await directory.UpdateUserAsync(id, user => user.ApplyPatch(patch), http.RequestAborted);
            return updated is null ? NotFound("User", id) : Result(200, UserResource(http, updated));
        });
        scim.MapDelete("/Users/{id}", async (HttpContext http, ScimDirectory directory, string id) =>
            await directory.UpdateUserAsync(id, user => user.Active = false, http.RequestAborted) is null ? NotFound("User", id) : Results.NoContent());

        scim.MapGet("/Groups", async (HttpContext http, ScimDirectory directory, string? filter, string? excludedAttributes) =>
        {
            var parsed = ScimFilter.Parse(filter);
            var names = parsed?.Attribute.ToLowerInvariant() switch
            {
                null => DirectoryNames.RoleNames,
                "displayname" or "id" => DirectoryNames.RoleNames.Where(n => string.Equals(n, parsed.Value, StringComparison.OrdinalIgnoreCase)).ToList(),
                "externalid" => [],
                _ => throw new ScimException(400, "invalidFilter", $"Groups cannot be filtered by '{parsed.Attribute}'."),
            };
            var groups = new List<JsonObject>();
            foreach (var name in names)
            {
                groups.Add(await GroupResourceAsync(http, directory, ScimDirectory.RoleOf(name)!.Value, WithMembers(excludedAttributes)));
            }

            return Result(200, List(groups.Count, 1, groups));
        });
        scim.MapGet("/Groups/{id}", async (HttpContext http, ScimDirectory directory, string id, string? excludedAttributes) =>
            ScimDirectory.RoleOf(id) is { } role ? Result(200, await GroupResourceAsync(http, directory, role, WithMembers(excludedAttributes))) : NotFound("Group", id));
        scim.MapPost("/Groups", async (HttpContext http, ScimDirectory directory) =>
        {
            var body = await ReadAsync(http);
            var name = ScimUser.Text(ScimUser.Get(body, "displayName")) ?? "";
            var role = ScimDirectory.RoleOf(name)
                ?? throw new ScimException(400, "invalidValue", $"Groups are the roles {string.Join(", ", DirectoryNames.RoleNames)}; '{name}' is not one.");
            var members = MemberIds(ScimUser.Get(body, "members"));
            if (members.Count > 0)
            {
                await directory.ChangeGroupAsync(role, current => current.Union(members, StringComparer.Ordinal).ToHashSet(StringComparer.Ordinal), http.RequestAborted);
            }

            http.Response.Headers.Location = Location(http, "Groups", DirectoryNames.Of(role));
            return Result(201, await GroupResourceAsync(http, directory, role, withMembers: true));
        });
        scim.MapPut("/Groups/{id}", async (HttpContext http, ScimDirectory directory, string id) =>
        {
            if (ScimDirectory.RoleOf(id) is not { } role)
            {
                return NotFound("Group", id);
            }

            var members = MemberIds(ScimUser.Get(await ReadAsync(http), "members"));
            await directory.ChangeGroupAsync(role, _ => members, http.RequestAborted);
            return Result(200, await GroupResourceAsync(http, directory, role, withMembers: true));
        });
        scim.MapPatch("/Groups/{id}", async (HttpContext http, ScimDirectory directory, string id) =>
        {
            if (ScimDirectory.RoleOf(id) is not { } role)
            {
                return NotFound("Group", id);
            }

            var patch = await ReadAsync(http);
            await directory.ChangeGroupAsync(role, current => ApplyGroupPatch(role, patch, current), http.RequestAborted);
            // Entra ID and Okta accept 204 for a group PATCH; members can be many.
            return Results.NoContent();
        });
        scim.MapDelete("/Groups/{id}", async (HttpContext http, ScimDirectory directory, string id) =>
        {
            if (ScimDirectory.RoleOf(id) is not { } role)
            {
                return NotFound("Group", id);
            }

            await directory.ChangeGroupAsync(role, _ => new HashSet<string>(StringComparer.Ordinal), http.RequestAborted);
            return Results.NoContent();
        });

        scim.MapGet("/ServiceProviderConfig", () => Result(200, ServiceProviderConfig()));
        scim.MapGet("/ResourceTypes", (HttpContext http) => Result(200, List(2, 1, ResourceTypes(http))));
        scim.MapGet("/Schemas", () => Result(200, List(3, 1, Schemas())));
        return app;
    }

    /// <summary>The member ids after a group PatchOp: members add/remove/replace, with a path, a value filter, or none.</summary>
    public static IReadOnlySet<string> ApplyGroupPatch(Role role, JsonObject patch, IReadOnlySet<string> current)
    {
        var members = current.ToHashSet(StringComparer.Ordinal);
        foreach (var operation in ScimUser.Operations(patch).OfType<JsonObject>())
        {
            var op = (ScimUser.Text(ScimUser.Get(operation, "op")) ?? "").ToLowerInvariant();
            var path = ScimUser.Text(ScimUser.Get(operation, "path")) ?? "";
            var value = ScimUser.Get(operation, "value");
            if (path.Length == 0 && op is "add" or "replace" && value is JsonObject attributes)
            {
                foreach (var (name, attribute) in attributes)
                {
                    ApplyMemberOperation(role, op, name, attribute, members);
                }
            }
            else
            {
                ApplyMemberOperation(role, op, path, value, members);
            }
        }

        return members;
    }

    private static void ApplyMemberOperation(Role role, string op, string path, JsonNode? value, HashSet<string> members)
    {
        var filtered = MemberFilter().Match(path);
        if (filtered.Success && string.Equals(op, "remove", StringComparison.Ordinal))
        {
            members.Remove(filtered.Groups["id"].Value);
            return;
        }

        switch (path.ToLowerInvariant(), op)
        {
            case ("members", "add"):
                members.UnionWith(MemberIds(value));
                break;
            case ("members", "remove") when value is null:
                members.Clear();
                break;
            case ("members", "remove"):
                members.ExceptWith(MemberIds(value));
                break;
            case ("members", "replace"):
                members.Clear();
                members.UnionWith(MemberIds(value));
                break;
            case ("displayname", _) when string.Equals(ScimUser.Text(value), DirectoryNames.Of(role), StringComparison.OrdinalIgnoreCase):
            case ("externalid" or "id", _):
                break;
            case ("displayname", _):
                throw new ScimException(400, "mutability", $"The group '{DirectoryNames.Of(role)}' is a role: it cannot be renamed.");
            default:
                throw new ScimException(400, "invalidPath", $"'{op}' of '{path}' is not supported on a group.");
        }
    }

    private static HashSet<string> MemberIds(JsonNode? value) => value switch
    {
        JsonArray array => array.OfType<JsonObject>().Select(m => ScimUser.Text(ScimUser.Get(m, "value")) ?? "").Where(id => id.Length > 0)
            .ToHashSet(StringComparer.Ordinal),
        JsonObject single => [ScimUser.Text(ScimUser.Get(single, "value")) ?? ""],
        _ => new HashSet<string>(StringComparer.Ordinal),
    };

    private static void Copy(ScimUser from, ScimUser to)
    {
        to.UserName = from.UserName;
        to.ExternalId = from.ExternalId;
        to.DisplayName = from.DisplayName;
        to.GivenName = from.GivenName;
        to.FamilyName = from.FamilyName;
        to.FormattedName = from.FormattedName;
        to.Email = from.Email;
        to.Active = from.Active;
        to.Department = from.Department;
        to.ManagerId = from.ManagerId;
    }

    private static bool WithMembers(string? excludedAttributes) =>
        excludedAttributes is null || !excludedAttributes.Split(',').Any(a => string.Equals(a.Trim(), "members", StringComparison.OrdinalIgnoreCase));

    private static async Task<JsonObject> ReadAsync(HttpContext http)
    {
        // JSON strings are decoded only when read: invalid UTF-8 is refused here, before any of it is used.
        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body, http.RequestAborted);
        if (!System.Text.Unicode.Utf8.IsValid(body.GetBuffer().AsSpan(0, (int)body.Length)))
        {
            throw new ScimException(400, "invalidSyntax", "The body is not valid UTF-8.");
        }

        body.Position = 0;
        var node = await JsonNode.ParseAsync(body, cancellationToken: http.RequestAborted);
        return node as JsonObject ?? throw new ScimException(400, "invalidSyntax", "The body must be a JSON object.");
    }

    private static IResult Result(int status, JsonObject body) => Results.Text(body.ToJsonString(), ContentType, statusCode: status);

    private static IResult NotFound(string type, string id) => Result(404, ScimDirectory.Error(404, null, $"{type} '{id}' does not exist."));

    private static string Location(HttpContext http, string type, string id) =>
        $"{http.Request.Scheme}://{http.Request.Host}/scim/v2/{type}/{Uri.EscapeDataString(id)}";

    private static JsonObject List(int total, int startIndex, IEnumerable<JsonObject> resources)
    {
        var array = new JsonArray([.. resources]);
        return new JsonObject
        {
            ["schemas"] = new JsonArray(ListSchema),
            ["totalResults"] = total,
            ["startIndex"] = Math.Max(startIndex, 1),
            ["itemsPerPage"] = array.Count,
            ["Resources"] = array,
        };
    }

    private static JsonObject UserResource(HttpContext http, ScimUserRow row)
    {
        var employee = row.Employee;
        var enterprise = new JsonObject { ["employeeNumber"] = employee.Id };
        if (row.UnitName.Length > 0)
        {
            enterprise["department"] = row.UnitName;
        }

        if (employee.ManagerId.Length > 0)
        {
            enterprise["manager"] = new JsonObject { ["value"] = employee.ManagerId, ["$ref"] = Location(http, "Users", employee.ManagerId) };
        }

        var user = new JsonObject
        {
            ["schemas"] = new JsonArray(ScimUser.UserSchema, ScimUser.EnterpriseSchema),
            ["id"] = employee.Id,
            ["userName"] = row.UserName,
            ["displayName"] = employee.DisplayName,
            ["name"] = new JsonObject { ["formatted"] = employee.DisplayName },
            ["active"] = employee.Active,
            ["emails"] = new JsonArray(new JsonObject { ["value"] = employee.Email, ["type"] = "work", ["primary"] = true }),
            ["groups"] = new JsonArray([.. employee.Roles.Select(r => (JsonNode)new JsonObject { ["value"] = DirectoryNames.Of(r), ["display"] = DirectoryNames.Of(r) })]),
            [ScimUser.EnterpriseSchema] = enterprise,
            ["meta"] = Meta(http, "User", "Users", employee.Id, employee.EffectiveFrom, employee.Version),
        };
        if (row.ExternalId.Length > 0)
        {
            user["externalId"] = row.ExternalId;
        }

        return user;
    }

    private static async Task<JsonObject> GroupResourceAsync(HttpContext http, ScimDirectory directory, Role role, bool withMembers)
    {
        var name = DirectoryNames.Of(role);
        var group = new JsonObject
        {
            ["schemas"] = new JsonArray(GroupSchema),
            ["id"] = name,
            ["displayName"] = name,
            ["meta"] = new JsonObject { ["resourceType"] = "Group", ["location"] = Location(http, "Groups", name) },
        };
        if (withMembers)
        {
            var members = await directory.GroupMembersAsync(role, http.RequestAborted);
            group["members"] = new JsonArray([.. members.Select(m => (JsonNode)new JsonObject
            {
                ["value"] = m.Id,
                ["display"] = m.Display,
                ["$ref"] = Location(http, "Users", m.Id),
            })]);
        }

        return group;
    }

    private static JsonObject Meta(HttpContext http, string resourceType, string path, string id, DateTimeOffset lastModified, long version) => new()
    {
        ["resourceType"] = resourceType,
        ["lastModified"] = lastModified.ToString("O", CultureInfo.InvariantCulture),
        ["version"] = $"W/\"{version}\"",
        ["location"] = Location(http, path, id),
    };

    private static JsonObject ServiceProviderConfig() => new()
    {
        ["schemas"] = new JsonArray("urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"),
        ["patch"] = new JsonObject { ["supported"] = true },
        ["bulk"] = new JsonObject { ["supported"] = false, ["maxOperations"] = 0, ["maxPayloadSize"] = 0 },
        ["filter"] = new JsonObject { ["supported"] = true, ["maxResults"] = 1000 },
        ["changePassword"] = new JsonObject { ["supported"] = false },
        ["sort"] = new JsonObject { ["supported"] = false },
        ["etag"] = new JsonObject { ["supported"] = false },
        ["authenticationSchemes"] = new JsonArray(new JsonObject
        {
            ["type"] = "oauthbearertoken",
            ["name"] = "OAuth Bearer Token",
            ["description"] = "A bearer token with the hr, operator or service role.",
        }),
    };

    private static IEnumerable<JsonObject> ResourceTypes(HttpContext http) =>
    [
        new JsonObject
        {
            ["schemas"] = new JsonArray("urn:ietf:params:scim:schemas:core:2.0:ResourceType"),
            ["id"] = "User",
            ["name"] = "User",
            ["endpoint"] = "/Users",
            ["schema"] = ScimUser.UserSchema,
            ["schemaExtensions"] = new JsonArray(new JsonObject { ["schema"] = ScimUser.EnterpriseSchema, ["required"] = false }),
            ["meta"] = new JsonObject { ["resourceType"] = "ResourceType", ["location"] = $"{http.Request.Scheme}://{http.Request.Host}/scim/v2/ResourceTypes/User" },
        },
        new JsonObject
        {
            ["schemas"] = new JsonArray("urn:ietf:params:scim:schemas:core:2.0:ResourceType"),
            ["id"] = "Group",
            ["name"] = "Group",
            ["endpoint"] = "/Groups",
            ["schema"] = GroupSchema,
            ["meta"] = new JsonObject { ["resourceType"] = "ResourceType", ["location"] = $"{http.Request.Scheme}://{http.Request.Host}/scim/v2/ResourceTypes/Group" },
        },
    ];

    private static IEnumerable<JsonObject> Schemas() =>
    [
        Schema(ScimUser.UserSchema, "User", ["userName", "externalId", "displayName", "name", "emails", "active", "groups"]),
        Schema(ScimUser.EnterpriseSchema, "EnterpriseUser", ["employeeNumber", "department", "manager"]),
        Schema(GroupSchema, "Group", ["displayName", "members"]),
    ];

    private static JsonObject Schema(string id, string name, IEnumerable<string> attributes) => new()
    {
        ["schemas"] = new JsonArray("urn:ietf:params:scim:schemas:core:2.0:Schema"),
        ["id"] = id,
        ["name"] = name,
        ["attributes"] = new JsonArray([.. attributes.Select(a => (JsonNode)new JsonObject { ["name"] = a })]),
    };

    [GeneratedRegex("""^members\[\s*value\s+eq\s+"(?<id>[^"]+)"\s*\]$""", RegexOptions.IgnoreCase, matchTimeoutMilliseconds: 1000)]
    private static partial Regex MemberFilter();
}
