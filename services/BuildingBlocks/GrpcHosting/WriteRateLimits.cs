using System.Globalization;
using System.Threading.RateLimiting;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.GrpcHosting;

/// <summary>
/// Per-caller limits on the calls that change data, with ASP.NET Core rate limiting: a token bucket per token subject
/// on every RPC that the proto does not mark <c>option idempotency_level = NO_SIDE_EFFECTS</c>. A refused call ends
/// with RESOURCE_EXHAUSTED, the limit named, and a google.rpc.RetryInfo. Service identities (role "service") and
/// callers without a token (refused by the access check anyway) are not limited.
/// </summary>
internal static class WriteRateLimits
{
    public const string Policy = "grpc-writes";

    public static void Add(IServiceCollection services) =>
        services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(Policy, Partition);
            limiter.OnRejected = (context, _) => RefuseAsync(context);
        });

    /// <summary>Reads: the proto's own marking, so the contract says which calls change nothing.</summary>
    public static bool ChangesData(MethodDescriptor method) =>
        method.GetOptions()?.IdempotencyLevel is not MethodOptions.Types.IdempotencyLevel.NoSideEffects;

    private static RateLimitPartition<string> Partition(HttpContext http)
    {
        var options = http.RequestServices.GetRequiredService<IOptions<GrpcHostingOptions>>().Value;
        var caller = http.User.ToCaller();
        if (options.WriteCallsPerSecond == 0 || caller is null || caller.IsService)
        {
            return RateLimitPartition.GetNoLimiter("unlimited");
        }

        return RateLimitPartition.GetTokenBucketLimiter(caller.Subject, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.WriteBurst,
            TokensPerPeriod = options.WriteCallsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    private static ValueTask RefuseAsync(OnRejectedContext context)
    {
        var http = context.HttpContext;
        var options = http.RequestServices.GetRequiredService<IOptions<GrpcHostingOptions>>().Value;
        var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        var message = string.Create(CultureInfo.InvariantCulture,
            $"Too many calls that change data from '{http.User.ToCaller()?.Subject}': at most {options.WriteCallsPerSecond} a second (bursts of {options.WriteBurst}). Retry in {seconds} s.");
        var details = new Google.Rpc.Status
        {
            Code = (int)StatusCode.ResourceExhausted,
            Message = message,
            Details = { Any.Pack(new Google.Rpc.RetryInfo { RetryDelay = Duration.FromTimeSpan(TimeSpan.FromSeconds(seconds)) }) },
        };

        // Trailers-Only: HTTP 200 with the status in the headers, as for any call refused before its handler runs.
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = GrpcProtocol.ContentType;
        http.Response.Headers[GrpcProtocol.StatusHeader] = ((int)StatusCode.ResourceExhausted).ToString(CultureInfo.InvariantCulture);
        http.Response.Headers[GrpcProtocol.MessageHeader] = GrpcProtocol.EncodeMessage(message);
        http.Response.Headers[GrpcProtocol.StatusDetailsHeader] = Convert.ToBase64String(details.ToByteArray()).TrimEnd('=');
        return ValueTask.CompletedTask;
    }
}
