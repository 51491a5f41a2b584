using System.Globalization;
using System.Threading.RateLimiting;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Microsoft.Extensions.Options;
using Transformation.ServiceDefaults.Identity;
using StatusCode = Grpc.Core.StatusCode;

namespace Transformation.GrpcHosting;

/// <summary>
/// Per-caller limits on the calls that change data: a token bucket per token subject (System.Threading.RateLimiting)
/// on every RPC that the proto does not mark <c>option idempotency_level = NO_SIDE_EFFECTS</c>. A refused call ends
/// with RESOURCE_EXHAUSTED, the limit named, and a google.rpc.RetryInfo. Service identities and callers without a
/// token (refused by the access check anyway) are not limited.
/// </summary>
internal sealed class WriteRateLimits : IDisposable
{
    private readonly GrpcHostingOptions _options;
    private readonly PartitionedRateLimiter<Caller> _limiter;

    public WriteRateLimits(IOptions<GrpcHostingOptions> options)
    {
        _options = options.Value;
        _limiter = PartitionedRateLimiter.Create<Caller, string>(Partition);
    }

    /// <summary>Takes one call from the caller's bucket, or throws RESOURCE_EXHAUSTED saying when to retry.</summary>
    public void Acquire(Caller? caller)
    {
        if (_options.WriteCallsPerSecond == 0 || caller is null || caller.IsService)
        {
            return;
        }

        using var lease = _limiter.AttemptAcquire(caller);
        if (lease.IsAcquired)
        {
            return;
        }

        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        var message = string.Create(CultureInfo.InvariantCulture,
            $"Too many calls that change data from '{caller.Subject}': at most {_options.WriteCallsPerSecond} a second (bursts of {_options.WriteBurst}). Retry in {seconds} s.");
        throw RpcErrors.WithDetails(StatusCode.ResourceExhausted, message,
            new RetryInfo { RetryDelay = Duration.FromTimeSpan(TimeSpan.FromSeconds(seconds)) });
    }

    public void Dispose() => _limiter.Dispose();

    private RateLimitPartition<string> Partition(Caller caller) =>
        RateLimitPartition.GetTokenBucketLimiter(caller.Subject, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = _options.WriteBurst,
            TokensPerPeriod = _options.WriteCallsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
}
