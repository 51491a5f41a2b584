using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Transformation.Directory.Api.Scim;

/// <summary>A SCIM protocol error: HTTP status, scimType and detail (RFC 7644 §3.12).</summary>
public sealed class ScimException(int status, string? scimType, string detail) : Exception(detail)
{
    public ScimException()
        : this(400, null, "Bad request.")
    {
    }

    public ScimException(string message)
        : this(400, null, message)
    {
    }

    public ScimException(string message, Exception innerException)
        : this(400, null, message) => _ = innerException;

    public int Status { get; } = status;

    public string? ScimType { get; } = scimType;
}

/// <summary>
/// The attributes of a SCIM User that the directory keeps, and the PATCH operations Entra ID and Okta send:
/// add/replace/remove, with a path (attribute, sub-attribute, value filter, enterprise extension URN) or without
/// (an object of attributes); booleans as JSON booleans or as the strings Entra sends ("False"). Attributes the
/// directory does not keep (title, phone numbers, addresses…) are accepted and ignored.
/// </summary>
public sealed partial class ScimUser
{
    public const string UserSchema = "urn:ietf:params:scim:schemas:core:2.0:User";
    public const string EnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    public const string PatchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

    /// <summary>The longest value kept, in characters: the gRPC API's limit (GrpcHosting:MaxStringLength's default).</summary>
    public const int MaxValueLength = 20_000;

    public string UserName { get; set; } = "";

    public string ExternalId { get; set; } = "";

    public string DisplayName { get; set; } = "";

    public string GivenName { get; set; } = "";

    public string FamilyName { get; set; } = "";

    public string FormattedName { get; set; } = "";

    public string Email { get; set; } = "";

    public bool Active { get; set; } = true;

    public string Department { get; set; } = "";

    public string ManagerId { get; set; } = "";

    public string EmployeeNumber { get; set; } = "";

    /// <summary>The display name to store: displayName, else the given and family names, else the user name.</summary>
    public string ResolvedDisplayName =>
        DisplayName.Length > 0 ? DisplayName
        : $"{GivenName} {FamilyName}".Trim() is { Length: > 0 } name ? name
        : FormattedName.Length > 0 ? FormattedName
        : UserName;

    /// <summary>The email to store: the (primary) email, else the user name when it is an address.</summary>
    public string ResolvedEmail => Email.Length > 0 ? Email : UserName.Contains('@', StringComparison.Ordinal) ? UserName : "";

    /// <summary>A user from a POST or PUT body.</summary>
    public static ScimUser FromResource(JsonObject resource)
    {
        var user = new ScimUser { Active = true };
        foreach (var (name, value) in resource)
        {
            user.Set(name, value);
        }

        return user;
    }

    /// <summary>Applies the operations of a PatchOp body in order.</summary>
    public void ApplyPatch(JsonObject patch)
    {
        foreach (var operation in Operations(patch).OfType<JsonObject>())
        {
            var op = (Text(Get(operation, "op")) ?? "").ToLowerInvariant();
            var path = Text(Get(operation, "path"));
            if (!string.IsNullOrEmpty(path) && !IsUserPath(path))
            {
                throw new ScimException(400, "invalidPath", $"'{path}' is not an attribute of a User.");
            }

            var value = Get(operation, "value");
            switch (op)
            {
                case "add" or "replace" when string.IsNullOrEmpty(path):
                    if (value is not JsonObject attributes)
                    {
                        throw new ScimException(400, "invalidSyntax", $"'{op}' without a path needs an object value.");
                    }

                    foreach (var (name, attribute) in attributes)
                    {
                        Set(name, attribute);
                    }

                    break;
                case "add" or "replace":
                    Set(path!, value);
                    break;
                case "remove" when !string.IsNullOrEmpty(path):
                    Set(path, null);
                    break;
                case "remove":
                    throw new ScimException(400, "noTarget", "'remove' needs a path.");
                default:
                    throw new ScimException(400, "invalidSyntax", $"Unknown operation '{op}'.");
            }
        }
    }

    /// <summary>The operations of a PatchOp body: its schemas must name the PatchOp message (RFC 7644 §3.5.2).</summary>
    public static JsonArray Operations(JsonObject patch)
    {
        ArgumentNullException.ThrowIfNull(patch);
        if (Get(patch, "schemas") is not JsonArray schemas
            || !schemas.Any(s => string.Equals(Text(s), PatchOpSchema, StringComparison.Ordinal)))
        {
            throw new ScimException(400, "invalidSyntax", $"A PATCH body's schemas must be [\"{PatchOpSchema}\"].");
        }

        return Get(patch, "Operations") as JsonArray ?? throw new ScimException(400, "invalidSyntax", "A PatchOp needs an 'Operations' array.");
    }

    /// <summary>
    /// Whether a PATCH path names an attribute of the User schemas (RFC 7643 §4.1, the enterprise extension §4.3), kept or not:
    /// attribute, attribute[filter], attribute.sub, attribute[filter].sub, optionally prefixed by its schema's URN.
    /// </summary>
    public static bool IsUserPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.StartsWith(EnterpriseSchema, StringComparison.OrdinalIgnoreCase))
        {
            var rest = path[EnterpriseSchema.Length..];
            return rest.Length == 0 || (rest[0] == ':' && PathPattern().Match(rest[1..]) is { Success: true } match
                && EnterpriseAttributes.Contains(match.Groups["attribute"].Value)
                && (string.Equals(match.Groups["attribute"].Value, "manager", StringComparison.OrdinalIgnoreCase) || match.Groups["attribute"].Value.Length == rest.Length - 1));
        }

        if (path.StartsWith(UserSchema + ":", StringComparison.OrdinalIgnoreCase))
        {
            path = path[(UserSchema.Length + 1)..];
        }

        var parts = PathPattern().Match(path);
        var attribute = parts.Groups["attribute"].Value;
        if (!parts.Success || !(SimpleAttributes.Contains(attribute) || ComplexAttributes.Contains(attribute)))
        {
            return false;
        }

        // A simple attribute has no sub-attributes or filter; name has its parts; the multi-valued ones any sub-attribute.
        return SimpleAttributes.Contains(attribute) ? attribute.Length == path.Length
            : !string.Equals(attribute, "name", StringComparison.OrdinalIgnoreCase) || !parts.Groups["sub"].Success || NameParts.Contains(parts.Groups["sub"].Value);
    }

    private static readonly HashSet<string> SimpleAttributes = new(StringComparer.OrdinalIgnoreCase)
    {
        "id", "externalId", "userName", "displayName", "nickName", "profileUrl", "title", "userType", "preferredLanguage", "locale", "timezone", "active",
        "password",
    };

    private static readonly HashSet<string> ComplexAttributes = new(StringComparer.OrdinalIgnoreCase)
    {
        "meta", "name", "emails", "phoneNumbers", "ims", "photos", "addresses", "groups", "entitlements", "roles", "x509Certificates",
    };

    private static readonly HashSet<string> NameParts = new(StringComparer.OrdinalIgnoreCase)
    {
        "formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix",
    };

    private static readonly HashSet<string> EnterpriseAttributes = new(StringComparer.OrdinalIgnoreCase)
    {
        "employeeNumber", "costCenter", "organization", "division", "department", "manager",
    };

    /// <summary>Sets an attribute by its name or path (null removes it).</summary>
    public void Set(string path, JsonNode? value)
    {
        // The enterprise extension: as a URN-prefixed path, or as an object under the URN.
        if (path.StartsWith(EnterpriseSchema, StringComparison.OrdinalIgnoreCase))
        {
            var rest = path[EnterpriseSchema.Length..].TrimStart(':', '.');
            if (rest.Length == 0)
            {
                if (value is JsonObject extension)
                {
                    foreach (var (name, attribute) in extension)
                    {
                        SetEnterprise(name, attribute);
                    }
                }

                return;
            }

            SetEnterprise(rest, value);
            return;
        }

        if (path.StartsWith(UserSchema + ":", StringComparison.OrdinalIgnoreCase))
        {
            path = path[(UserSchema.Length + 1)..];
        }

        var filtered = FilteredPath().Match(path);
        var attributeName = filtered.Success ? filtered.Groups["attribute"].Value : path;
        switch (attributeName.ToLowerInvariant())
        {
            case "username":
                UserName = Text(value) ?? "";
                break;
            case "externalid":
                ExternalId = Text(value) ?? "";
                break;
            case "displayname":
                DisplayName = Text(value) ?? "";
                break;
            case "active":
                Active = value is not null && Bool(value);
                break;
            case "name":
                if (value is JsonObject name)
                {
                    foreach (var (part, partValue) in name)
                    {
                        Set($"name.{part}", partValue);
                    }
                }
                else if (value is null)
                {
                    (GivenName, FamilyName, FormattedName) = ("", "", "");
                }

                break;
            case "name.givenname":
                GivenName = Text(value) ?? "";
                break;
            case "name.familyname":
                FamilyName = Text(value) ?? "";
                break;
            case "name.formatted":
                FormattedName = Text(value) ?? "";
                break;
            case "emails" when filtered.Success || value is not JsonArray:
                // emails[type eq "work"].value, emails[primary eq true].value, or emails.value
                Email = Text(value is JsonObject email ? Get(email, "value") : value) ?? "";
                break;
            case "emails":
                Email = PrimaryValue((JsonArray)value!);
                break;
            case "emails.value":
                Email = Text(value) ?? "";
                break;
            default:
                // Attributes the directory does not keep.
                break;
        }
    }

    private void SetEnterprise(string attribute, JsonNode? value)
    {
        switch (attribute.ToLowerInvariant())
        {
            case "department":
                Department = Text(value) ?? "";
                break;
            case "employeenumber":
                EmployeeNumber = Text(value) ?? "";
                break;
            case "manager":
                // Entra sends the manager's id as a string in PATCH, Okta and full resources as {"value": id}.
                ManagerId = Text(value is JsonObject manager ? Get(manager, "value") : value) ?? "";
                break;
            case "manager.value":
                ManagerId = Text(value) ?? "";
                break;
            default:
                break;
        }
    }

    private static string PrimaryValue(JsonArray values)
    {
        var objects = values.OfType<JsonObject>().ToList();
        var chosen = objects.FirstOrDefault(v => Get(v, "primary") is { } primary && Bool(primary))
            ?? objects.FirstOrDefault(v => string.Equals(Text(Get(v, "type")), "work", StringComparison.OrdinalIgnoreCase))
            ?? objects.FirstOrDefault();
        return chosen is null ? "" : Text(Get(chosen, "value")) ?? "";
    }

    /// <summary>An attribute of an object by case-insensitive name, as SCIM attribute names are.</summary>
    public static JsonNode? Get(JsonObject json, string name) =>
        json.FirstOrDefault(p => string.Equals(p.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    /// <summary>A value as text; a NUL or other control character is refused (400 invalidValue).</summary>
    public static string? Text(JsonNode? value) => value switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => Checked(v.GetValue<string>()),
        JsonValue v => v.ToJsonString(),
        JsonArray { Count: > 0 } array => Text(array[0] is JsonObject o ? Get(o, "value") : array[0]),
        _ => null,
    };

    private static string Checked(string text)
    {
        if (text.Length > MaxValueLength)
        {
            throw new ScimException(400, "invalidValue", $"A value has {text.Length} characters; at most {MaxValueLength} are allowed.");
        }

        return text.AsSpan().IndexOfAnyInRange('\0', '\u001F') < 0
            ? text
            : throw new ScimException(400, "invalidValue", "A value contains a NUL, a line break or another control character.");
    }

    /// <summary>true/false, or the strings "True"/"False" Entra ID sends.</summary>
    public static bool Bool(JsonNode value) => value switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.True => true,
        JsonValue v when v.GetValueKind() == JsonValueKind.False => false,
        JsonValue v when v.GetValueKind() == JsonValueKind.String && bool.TryParse(v.GetValue<string>(), out var parsed) => parsed,
        _ => throw new ScimException(400, "invalidValue", $"'{value.ToJsonString()}' is not a boolean."),
    };

    [GeneratedRegex(@"^(?<attribute>[A-Za-z]+)\[[^\]]*\](\.(?<sub>[A-Za-z]+))?$", RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 1000)]
    private static partial Regex FilteredPath();

    [GeneratedRegex(@"^(?<attribute>[A-Za-z][A-Za-z0-9]*)(\[[^\]]+\])?(\.(?<sub>[A-Za-z$][A-Za-z0-9]*))?$", RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 1000)]
    private static partial Regex PathPattern();
}

/// <summary>A SCIM filter of the form <c>attribute eq "value"</c> (the ones provisioning clients send).</summary>
public sealed partial record ScimFilter(string Attribute, string Value)
{
    public static ScimFilter? Parse(string? filter)
    {
        if (string.IsNullOrWhiteSpace(filter))
        {
            return null;
        }

        if (filter.AsSpan().IndexOfAnyInRange('\0', '\u001F') >= 0 || filter.Contains('\uFFFD', StringComparison.Ordinal))
        {
            throw new ScimException(400, "invalidFilter", "The filter contains a NUL or another control character, or is not valid UTF-8.");
        }

        var match = Pattern().Match(filter.Trim());
        return match.Success
            ? new ScimFilter(match.Groups["attribute"].Value, match.Groups["value"].Value.Replace("\\\"", "\"", StringComparison.Ordinal))
            : throw new ScimException(400, "invalidFilter", $"Unsupported filter '{filter}': use 'attribute eq \"value\"'.");
    }

    [GeneratedRegex("""^(?<attribute>[A-Za-z.:0-9]+)\s+eq\s+"(?<value>(?:[^"\\]|\\.)*)"$""", RegexOptions.IgnoreCase, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Pattern();
}
