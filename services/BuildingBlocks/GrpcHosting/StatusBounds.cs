using System.Globalization;
using Google.Rpc;
using Grpc.Core;
using Status = Google.Rpc.Status;

namespace Transformation.GrpcHosting;

/// <summary>
/// Bounds what a failed call sends back: its message and its details travel in HTTP/2 headers, which clients cap
/// (grpc-dotnet 64 KiB, gRPC C 8-16 KiB) and a larger answer breaks the whole connection, every call on it included.
/// Handlers often quote what was wrong, and a request may hold 20,000-character strings and thousands of rows, so
/// the message is cut to <see cref="MaxMessageLength"/> characters and a <c>google.rpc.BadRequest</c> keeps each
/// violation's text short and as many violations as fit in <see cref="MaxDetailsSize"/> bytes, then says how many more there were.
/// </summary>
public static class StatusBounds
{
    public const int MaxMessageLength = 1_000;
    public const int MaxDetailsSize = 8 * 1024;
    private const int MaxViolationTextLength = 300;

    /// <summary><paramref name="text"/>, or its first <paramref name="maxLength"/> characters and how long it was.</summary>
    public static string Shorten(string text, int maxLength = MaxMessageLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length <= maxLength ? text
            : string.Create(CultureInfo.InvariantCulture, $"{text.AsSpan(0, maxLength)}… ({text.Length} characters)");
    }

    /// <summary>
    /// <paramref name="exception"/> if its message and details are within the bounds, else the same failure cut to fit,
    /// its details' code and message still equal to the status's.
    /// </summary>
    public static RpcException Bound(RpcException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var details = exception.GetRpcStatus();
        var detail = exception.Status.Detail;
        if (detail.Length <= MaxMessageLength && (details is null || details.CalculateSize() <= MaxDetailsSize))
        {
            return exception;
        }

        var message = Shorten(detail);
        if (details is null)
        {
            return new RpcException(new Grpc.Core.Status(exception.StatusCode, message), exception.Trailers);
        }

        var bounded = Bound(details).Clone();
        bounded.Message = message;
        return bounded.ToRpcException();
    }

    /// <summary><paramref name="details"/> if it is within the bound, else a copy whose BadRequest violations fit it.</summary>
    public static Status Bound(Status details)
    {
        ArgumentNullException.ThrowIfNull(details);
        if (details.CalculateSize() <= MaxDetailsSize)
        {
            return details;
        }

        var bounded = new Status { Code = details.Code, Message = details.Message };
        foreach (var detail in details.Details)
        {
            bounded.Details.Add(detail.TryUnpack<BadRequest>(out var badRequest) ? Google.Protobuf.WellKnownTypes.Any.Pack(Bound(badRequest)) : detail);
        }

        return bounded;
    }

    private static BadRequest Bound(BadRequest badRequest)
    {
        var bounded = new BadRequest();
        var size = 0;
        foreach (var violation in badRequest.FieldViolations)
        {
            var shortened = new BadRequest.Types.FieldViolation
            {
                Field = Shorten(violation.Field, MaxViolationTextLength),
                Description = Shorten(violation.Description, MaxViolationTextLength),
            };
            size += shortened.CalculateSize() + 4;
            if (size > MaxDetailsSize - 200)
            {
                var left = badRequest.FieldViolations.Count - bounded.FieldViolations.Count;
                bounded.FieldViolations.Add(new BadRequest.Types.FieldViolation
                {
                    Field = "…", Description = string.Create(CultureInfo.InvariantCulture, $"{left} more violations not shown."),
                });
                break;
            }

            bounded.FieldViolations.Add(shortened);
        }

        return bounded;
    }
}
