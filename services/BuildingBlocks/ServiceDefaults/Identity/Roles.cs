namespace Transformation.ServiceDefaults.Identity;

/// <summary>The roles a token's "role" claim may carry.</summary>
public static class Roles
{
    public const string Hr = "hr";
    public const string Executive = "executive";
    public const string ChangeManager = "change_manager";
    public const string Employee = "employee";
    public const string Operator = "operator";

    /// <summary>Another Transformation service, or this service's own event handlers.</summary>
    public const string Service = "service";

    public static IReadOnlyList<string> People { get; } = [Hr, Executive, ChangeManager, Employee, Operator];
}

/// <summary>Who is calling: the token's subject (an employee id, or a service's name) and roles.</summary>
public sealed record Caller(string Subject, IReadOnlySet<string> Roles)
{
    public bool IsInRole(string role) => Roles.Contains(role);

    public bool IsInAnyRole(params ReadOnlySpan<string> roles)
    {
        foreach (var role in roles)
        {
            if (Roles.Contains(role))
            {
                return true;
            }
        }

        return false;
    }

    public bool IsService => Roles.Contains(Identity.Roles.Service);
}
