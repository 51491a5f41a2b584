using System.Globalization;
using System.Net;
using System.Text;

namespace Transformation.GrpcHosting;

/// <summary>The header-level rules of gRPC over HTTP/2 (grpc/grpc doc/PROTOCOL-HTTP2.md).</summary>
internal static class GrpcProtocol
{
    public const string ContentType = "application/grpc";
    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";
    public const string StatusDetailsHeader = "grpc-status-details-bin";
    public const string TimeoutHeader = "grpc-timeout";
    public const string EncodingHeader = "grpc-encoding";
    public const string AcceptEncodingHeader = "grpc-accept-encoding";
    public const string TraceParentHeader = "traceparent";
    public const string TraceStateHeader = "tracestate";
    public const string Identity = "identity";
    public const string Gzip = "gzip";
    public const string SupportedEncodings = "identity,gzip";

    /// <summary>Headers that belong to the protocol, not to the caller's metadata.</summary>
    private static readonly HashSet<string> ProtocolHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "content-type", "te", "host", "user-agent", "content-length", "accept-encoding", "date", "server",
        TimeoutHeader, EncodingHeader, AcceptEncodingHeader, StatusHeader, MessageHeader, "grpc-message-type",
    };

    public static bool IsMetadataHeader(string name) => !name.StartsWith(':') && !ProtocolHeaders.Contains(name);

    /// <summary>application/grpc, optionally followed by +suffix or ;parameters, matched case-insensitively.</summary>
    public static bool IsGrpcContentType(string? contentType) =>
        contentType is not null
        && contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase)
        && (contentType.Length == ContentType.Length || contentType[ContentType.Length] is '+' or ';');

    /// <summary>Parses grpc-timeout: 1 to 8 digits and one unit letter. Anything else is ignored (null), as grpc-dotnet does.</summary>
    public static TimeSpan? ParseTimeout(string? value)
    {
        if (value is null || value.Length is < 2 or > 9
            || !long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount)
            || amount <= 0)
        {
            return null;
        }

        return value[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(Math.Max(1, amount / 100)),
            _ => null,
        };
    }

    /// <summary>Formats a timeout in the finest unit that fits in 8 digits, rounding up so a call never gets less time than asked.</summary>
    public static string FormatTimeout(TimeSpan timeout)
    {
        const long max = 99_999_999;
        var ticks = Math.Max(1, timeout.Ticks);
        foreach (var (unit, perUnit) in new[] { ('m', TimeSpan.TicksPerMillisecond), ('S', TimeSpan.TicksPerSecond), ('M', TimeSpan.TicksPerMinute), ('H', TimeSpan.TicksPerHour) })
        {
            var amount = (ticks + perUnit - 1) / perUnit;
            if (amount <= max)
            {
                return amount.ToString(CultureInfo.InvariantCulture) + unit;
            }
        }

        return max.ToString(CultureInfo.InvariantCulture) + "H";
    }

    /// <summary>Percent-encodes grpc-message: printable ASCII except '%' stays, every other UTF-8 byte becomes %XX.</summary>
    public static string EncodeMessage(string message)
    {
        if (message.All(c => c is >= ' ' and <= '~' and not '%'))
        {
            return message;
        }

        var builder = new StringBuilder(message.Length * 2);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    /// <summary>Decodes grpc-message; a malformed escape is kept as it is, never an error.</summary>
    public static string DecodeMessage(string value)
    {
        if (!value.Contains('%', StringComparison.Ordinal))
        {
            return value;
        }

        var bytes = new List<byte>(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '%' && i + 2 < value.Length
                && byte.TryParse(value.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(value[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }

    /// <summary>The status a client reports when a response has no grpc-status (doc/http-grpc-status-mapping.md).</summary>
    public static StatusCode FromHttpStatus(HttpStatusCode status) => (int)status switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        431 => StatusCode.Internal,
        _ => StatusCode.Unknown,
    };
}
