using Transformation.ServiceDefaults.Identity;

namespace Transformation.Notifications.Api.Model;

/// <summary>
/// Who may call what: webhooks are hr's and the operator's (they decide what leaves the system); an inbox and its
/// preferences are their person's alone, whatever the roles (hr reads no one else's either).
/// </summary>
public static class Access
{
    public static readonly string[] WebhookOperators = [Roles.Hr, Roles.Operator];

    public static readonly string[] People = [.. Roles.People];

    public static bool MayReadInbox(Caller caller, string recipientId) => string.Equals(caller.Subject, recipientId, StringComparison.Ordinal);
}
