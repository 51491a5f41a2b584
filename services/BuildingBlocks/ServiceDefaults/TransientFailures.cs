using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Transformation.ServiceDefaults;

/// <summary>A kind of failure that says a dependency is unavailable for a moment, not that the work is wrong.</summary>
public sealed record TransientFailure(Func<Exception, bool> Matches);

/// <summary>
/// The transient failures the service's building blocks know (a silo of the Orleans cluster dying, say): an event handler failing
/// with one is retried without using up the event's attempts (it is never dead-lettered for it), and a gRPC caller gets
/// UNAVAILABLE, which says "try again", instead of UNKNOWN.
/// </summary>
public sealed class TransientFailures(IEnumerable<TransientFailure> kinds)
{
    private readonly TransientFailure[] _kinds = [.. kinds];

    /// <summary>Whether the exception, or one it wraps, is of a transient kind.</summary>
    public bool Matches(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            foreach (var kind in _kinds)
            {
                if (kind.Matches(e))
                {
                    return true;
                }
            }
        }

        return false;
    }
}

public static class TransientFailureExtensions
{
    /// <summary>Declares a kind of transient failure (see <see cref="TransientFailures"/>).</summary>
    public static IServiceCollection AddTransientFailure(this IServiceCollection services, Func<Exception, bool> matches)
    {
        services.TryAddSingleton<TransientFailures>();
        services.AddSingleton(new TransientFailure(matches));
        return services;
    }
}
