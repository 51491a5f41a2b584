using Google.Protobuf;
using Transformation.GrpcHosting.Reflection.V1;
using V1Alpha = Transformation.GrpcHosting.Reflection.V1Alpha;

namespace Transformation.GrpcHosting;

/// <summary>grpc.reflection.v1 server reflection: what grpcurl's list, describe and invoke need.</summary>
internal sealed class ReflectionService(GrpcServiceRegistry registry)
{
    private const int NotFound = (int)StatusCode.NotFound;

    public async Task ServerReflectionInfo(IAsyncEnumerable<ServerReflectionRequest> requests, ServerStreamWriter<ServerReflectionResponse> responses, ServerCallContext context)
    {
        await foreach (var request in requests)
        {
            await responses.WriteAsync(Answer(request));
        }
    }

    /// <summary>Exactly one response per request; unknown names are an error_response in the stream, not an RPC error.</summary>
    internal ServerReflectionResponse Answer(ServerReflectionRequest request)
    {
        var response = new ServerReflectionResponse { ValidHost = request.Host, OriginalRequest = request };
        switch (request.MessageRequestCase)
        {
            case ServerReflectionRequest.MessageRequestOneofCase.ListServices:
                response.ListServicesResponse = new ListServiceResponse();
                response.ListServicesResponse.Service.AddRange(registry.Services.Select(s => new ServiceResponse { Name = s.FullName }));
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.FileByFilename:
                SetFile(response, registry.FindFileByName(request.FileByFilename), $"File '{request.FileByFilename}' not found.");
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.FileContainingSymbol:
                SetFile(response, registry.FindFileBySymbol(request.FileContainingSymbol), $"Symbol '{request.FileContainingSymbol}' not found.");
                break;
            default:
                response.ErrorResponse = new ErrorResponse { ErrorCode = (int)StatusCode.Unimplemented, ErrorMessage = $"{request.MessageRequestCase} is not supported." };
                break;
        }

        return response;
    }

    private static void SetFile(ServerReflectionResponse response, Google.Protobuf.Reflection.FileDescriptor? file, string notFound)
    {
        if (file is null)
        {
            response.ErrorResponse = new ErrorResponse { ErrorCode = NotFound, ErrorMessage = notFound };
            return;
        }

        response.FileDescriptorResponse = new FileDescriptorResponse();
        response.FileDescriptorResponse.FileDescriptorProto.AddRange(GrpcServiceRegistry.WithDependencies(file).Select(f => f.SerializedData));
    }
}

/// <summary>The deprecated grpc.reflection.v1alpha, which older grpcurl uses; wire-identical to v1, so it converts through bytes.</summary>
internal sealed class ReflectionV1AlphaService(ReflectionService v1)
{
    public async Task ServerReflectionInfo(IAsyncEnumerable<V1Alpha.ServerReflectionRequest> requests, ServerStreamWriter<V1Alpha.ServerReflectionResponse> responses, ServerCallContext context)
    {
        await foreach (var request in requests)
        {
            var answer = v1.Answer(ServerReflectionRequest.Parser.ParseFrom(request.ToByteString()));
            await responses.WriteAsync(V1Alpha.ServerReflectionResponse.Parser.ParseFrom(answer.ToByteString()));
        }
    }
}
