using Google.Protobuf;
using Grpc.Core;

namespace Transformation.Grains;

/// <summary>
/// A domain failure as it crosses a grain call: the gRPC status (code, message, details such as <c>BadRequest</c>) the grain's
/// rules refused the call with. An <see cref="RpcException"/> leaving a grain becomes one (an RpcException does not survive
/// Orleans' serializer), and the caller's side turns it back into the same RpcException, so the gRPC layer answers with the
/// status the rules chose.
/// </summary>
[GenerateSerializer]
public sealed class DomainException : Exception
{
    public DomainException()
    {
    }

    public DomainException(string message)
        : base(message)
    {
    }

    public DomainException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    private DomainException(Google.Rpc.Status status)
        : base(status.Message) => Status = status.ToByteArray();

    /// <summary>The <c>google.rpc.Status</c> (its protobuf encoding).</summary>
    [Id(0)]
    public byte[] Status { get; private set; } = [];

    public StatusCode Code => (StatusCode)Google.Rpc.Status.Parser.ParseFrom(Status).Code;

    public static DomainException From(RpcException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return new DomainException(exception.GetRpcStatus() ?? new Google.Rpc.Status { Code = (int)exception.StatusCode, Message = exception.Status.Detail });
    }

    public RpcException ToRpcException()
    {
        var status = Google.Rpc.Status.Parser.ParseFrom(Status);
        return status.Details.Count == 0 ? new RpcException(new Grpc.Core.Status((StatusCode)status.Code, status.Message)) : status.ToRpcException();
    }
}

/// <summary>Carries <see cref="RpcException"/>s across grain calls as <see cref="DomainException"/>s (see there).</summary>
internal sealed class DomainFailures : IIncomingGrainCallFilter, IOutgoingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (RpcException e)
        {
            throw DomainException.From(e);
        }
    }

    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (DomainException e)
        {
            throw e.ToRpcException();
        }
    }
}
