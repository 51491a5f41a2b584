using Google.Rpc;
using Grpc.Core;

namespace Transformation.Portal.Web.Services;

/// <summary>
/// What a page says when a service call failed: one sentence for people (never a stack trace) and, for
/// INVALID_ARGUMENT, the service's field violations, shown next to their fields.
/// </summary>
public sealed record Problem(string Message, IReadOnlyDictionary<string, string> Fields)
{
    private static readonly Dictionary<string, string> NoFields = new(StringComparer.Ordinal);

    /// <param name="e">The failed call.</param>
    /// <param name="service">The service called, as people know it ("Incentives").</param>
    /// <param name="consequence">What that means for the page while the service is away ("recognition will show when it is back").</param>
    public static Problem From(RpcException e, string service, string consequence)
    {
        ArgumentNullException.ThrowIfNull(e);
        // The service's own words (RpcException.Message also names the status code).
        var message = e.Status.Detail;
        return e.StatusCode switch
        {
            StatusCode.InvalidArgument => new Problem(message.Length > 0 ? message : "Please correct the marked fields.", Violations(e)),
            StatusCode.Unauthenticated => new Problem("Your sign-in has expired or is missing: sign in again.", NoFields),
            StatusCode.PermissionDenied => new Problem($"{service} refused: {message}", NoFields),
            StatusCode.NotFound or StatusCode.AlreadyExists or StatusCode.FailedPrecondition or StatusCode.Aborted or StatusCode.OutOfRange
                or StatusCode.ResourceExhausted => new Problem(message, NoFields),
            _ => new Problem($"{service} is not answering; {consequence}.", NoFields),
        };
    }

    public static Problem Of(string message) => new(message, NoFields);

    /// <summary>The service's words about one field: its own violation, or the first one inside it ("targets" for "targets[0].date").</summary>
    public string? For(string field) =>
        Fields.TryGetValue(field, out var exact) ? exact
        : Fields.FirstOrDefault(f => f.Key.StartsWith(field + "[", StringComparison.Ordinal) || f.Key.StartsWith(field + ".", StringComparison.Ordinal)).Value;

    private static Dictionary<string, string> Violations(RpcException e)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var violation in e.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations ?? [])
        {
            fields[violation.Field] = fields.TryGetValue(violation.Field, out var earlier) ? $"{earlier} {violation.Description}" : violation.Description;
        }

        return fields;
    }
}
