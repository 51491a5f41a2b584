using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Reflection.V1;

namespace Transformation.TestSupport;

/// <summary>
/// What grpcurl does against a server it knows nothing of, over reflection (grpc.reflection.v1): list the services,
/// describe one from the files the server sends, and invoke one of its methods with a message built from that description.
/// </summary>
public static class ReflectionProbe
{
    /// <summary>
    /// Lists, describes and invokes <paramref name="expected"/> at <paramref name="address"/> as grpcurl would; every
    /// difference from the compiled contract, one line each (empty: reflection tells a stranger the whole service). Each
    /// unary method is invoked without a token, so it answers UNAUTHENTICATED if it exists and changes nothing.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ProblemsAsync(Uri address, ServiceDescriptor expected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expected);
        using var channel = GrpcChannel.ForAddress(address);
        var problems = new List<string>();
        var listed = await ListAsync(channel, cancellationToken);
        if (!listed.Contains(expected.FullName, StringComparer.Ordinal))
        {
            problems.Add($"list: {expected.FullName} is not among {string.Join(", ", listed)}");
            return problems;
        }

        var described = await DescribeAsync(channel, expected.FullName, cancellationToken);
        foreach (var method in expected.Methods)
        {
            var found = described.FindMethodByName(method.Name);
            if (found is null || found.InputType.FullName != method.InputType.FullName || found.OutputType.FullName != method.OutputType.FullName)
            {
                problems.Add($"describe: {method.FullName} is missing or differs");
            }
            else if (!found.IsClientStreaming && !found.IsServerStreaming
                && await InvokeEmptyAsync(channel, found, cancellationToken) is var status and not StatusCode.Unauthenticated)
            {
                problems.Add($"invoke: {method.FullName} without a token answered {status}");
            }
        }

        return problems;
    }

    public static async Task<IReadOnlyList<string>> ListAsync(GrpcChannel channel, CancellationToken cancellationToken)
    {
        var answer = await AskAsync(channel, new ServerReflectionRequest { ListServices = "" }, cancellationToken);
        return [.. answer.ListServicesResponse.Service.Select(s => s.Name)];
    }

    /// <summary>The service named <paramref name="serviceName"/>, built from the file (and imports) the server describes it with.</summary>
    public static async Task<ServiceDescriptor> DescribeAsync(GrpcChannel channel, string serviceName, CancellationToken cancellationToken)
    {
        var answer = await AskAsync(channel, new ServerReflectionRequest { FileContainingSymbol = serviceName }, cancellationToken);
        var files = answer.FileDescriptorResponse.FileDescriptorProto.Select(FileDescriptorProto.Parser.ParseFrom).ToList();

        // Imports before the files that import them, as BuildFromByteStrings needs.
        var ordered = new List<FileDescriptorProto>();
        while (ordered.Count < files.Count)
        {
            var next = files.First(f => !ordered.Contains(f) && f.Dependency.All(d => ordered.Any(o => string.Equals(o.Name, d, StringComparison.Ordinal))));
            ordered.Add(next);
        }

        return FileDescriptor.BuildFromByteStrings([.. ordered.Select(f => f.ToByteString())])
            .SelectMany(f => f.Services).Single(s => string.Equals(s.FullName, serviceName, StringComparison.Ordinal));
    }

    /// <summary>Calls <paramref name="method"/> (unary) with an empty message of its described input type; returns the status.</summary>
    public static async Task<StatusCode> InvokeEmptyAsync(GrpcChannel channel, MethodDescriptor method, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(method);
        var bytes = Marshallers.Create((byte[] b) => b, b => b);
        var call = new Method<byte[], byte[]>(MethodType.Unary, method.Service.FullName, method.Name, bytes, bytes);
        try
        {
            await channel.CreateCallInvoker().AsyncUnaryCall(call, null, new CallOptions(cancellationToken: cancellationToken), []);
            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
    }

    private static async Task<ServerReflectionResponse> AskAsync(GrpcChannel channel, ServerReflectionRequest request, CancellationToken cancellationToken)
    {
        using var call = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo(cancellationToken: cancellationToken);
        await call.RequestStream.WriteAsync(request, cancellationToken);
        await call.RequestStream.CompleteAsync();
        return await call.ResponseStream.MoveNext(cancellationToken) ? call.ResponseStream.Current
            : throw new InvalidOperationException("The server sent no reflection answer.");
    }
}
