using Transformation.ServiceDefaults.Identity;

namespace Transformation.Notifications.Api.Model;

/// <summary>Who may call what: webhooks are hr's and the operator's (they decide what leaves the system).</summary>
public static class Access
{
    public static readonly string[] WebhookOperators = [Roles.Hr, Roles.Operator];
}
