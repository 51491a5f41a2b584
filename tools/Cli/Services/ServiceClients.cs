using System.Collections.Concurrent;
using System.CommandLine;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Transformation.Cli.Run;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Cli.Services;

/// <summary>The gRPC addresses of the five services (by default those of `transform run`).</summary>
public sealed record ServiceAddresses(Uri Directory, Uri Baselines, Uri Incentives, Uri Initiatives, Uri EndState)
{
    /// <summary>The addresses `transform run` serves on, unless TRANSFORM_&lt;SERVICE&gt;_URL says otherwise.</summary>
    public static ServiceAddresses Default => new(Address("directory"), Address("baselines"), Address("incentives"), Address("initiatives"), Address("endstate"));

    private static Uri Address(string service) =>
        new(Environment.GetEnvironmentVariable($"TRANSFORM_{service.ToUpperInvariant()}_URL") is { Length: > 0 } url
            ? url
            : LocalService.Named(service).GrpcAddress);
}

/// <summary>The options every command that calls the services shares: their addresses and where the local issuer's key is.</summary>
public sealed class ServiceAddressOptions
{
    private readonly Dictionary<string, Option<string>> _addresses = new(StringComparer.Ordinal);

    public ServiceAddressOptions(params string[] services)
    {
        foreach (var service in services)
        {
            var option = new Option<string>($"--{service}")
            {
                Description = $"The {service} service's gRPC address (env TRANSFORM_{service.ToUpperInvariant()}_URL; default: `transform run`'s).",
                DefaultValueFactory = _ => Default(service).ToString(),
            };
            option.Validators.Add(result =>
            {
                if (!Uri.TryCreate(result.GetValueOrDefault<string>(), UriKind.Absolute, out _))
                {
                    result.AddError($"--{service} must be an absolute address such as http://127.0.0.1:5060.");
                }
            });
            _addresses[service] = option;
        }

        Data = new Option<DirectoryInfo>("--data")
        {
            Description = "The data folder of `transform run`: its local token issuer's key signs the calls' tokens.",
            DefaultValueFactory = _ => new DirectoryInfo(LocalSystem.DefaultDataDirectory),
        };
    }

    public Option<DirectoryInfo> Data { get; }

    public IEnumerable<Option> All => [.. _addresses.Values, Data];

    public ServiceAddresses Addresses(ParseResult parsed)
    {
        Uri Get(string service) => _addresses.TryGetValue(service, out var option) ? new Uri(parsed.GetValue(option)!) : Default(service);
        return new ServiceAddresses(Get("directory"), Get("baselines"), Get("incentives"), Get("initiatives"), Get("endstate"));
    }

    /// <summary>The local issuer of the data folder; an error (null) when the folder has no key yet.</summary>
    public TokenIssuer? Issuer(ParseResult parsed)
    {
        var data = parsed.GetValue(Data)!.FullName;
        return File.Exists(DevelopmentIssuer.KeyFile(data)) ? DevelopmentIssuer.Load(data) : null;
    }

    private static Uri Default(string service)
    {
        var all = ServiceAddresses.Default;
        return service switch
        {
            "directory" => all.Directory,
            "baselines" => all.Baselines,
            "incentives" => all.Incentives,
            "initiatives" => all.Initiatives,
            _ => all.EndState,
        };
    }
}

/// <summary>One gRPC client per service and tokens signed by the given issuer for whoever a call is made as.</summary>
public sealed class ServiceClients : IDisposable
{
    private readonly TokenIssuer _issuer;
    private readonly ConcurrentDictionary<string, (string Token, DateTime Expires)> _tokens = new(StringComparer.Ordinal);

    public ServiceClients(ServiceAddresses addresses, TokenIssuer issuer)
    {
        _issuer = issuer;
        Directory = GrpcClient.Create(addresses.Directory, maxReceiveMessageSize: 64 * 1024 * 1024);
        Baselines = GrpcClient.Create(addresses.Baselines, maxReceiveMessageSize: 64 * 1024 * 1024);
        Incentives = GrpcClient.Create(addresses.Incentives, maxReceiveMessageSize: 64 * 1024 * 1024);
        Initiatives = GrpcClient.Create(addresses.Initiatives, maxReceiveMessageSize: 64 * 1024 * 1024);
        EndState = GrpcClient.Create(addresses.EndState, maxReceiveMessageSize: 64 * 1024 * 1024);
    }

    public GrpcClient Directory { get; }

    public GrpcClient Baselines { get; }

    public GrpcClient Incentives { get; }

    public GrpcClient Initiatives { get; }

    public GrpcClient EndState { get; }

    /// <summary>A token for the subject with these roles (reused while it has more than ten minutes left).</summary>
    public string Token(string subject, IEnumerable<string> roles)
    {
        var list = roles.ToList();
        var key = subject + "\n" + string.Join(",", list);
        var now = DateTime.UtcNow;
        if (_tokens.TryGetValue(key, out var cached) && cached.Expires > now.AddMinutes(10))
        {
            return cached.Token;
        }

        var token = _issuer.Issue(subject, list, TimeSpan.FromHours(1));
        _tokens[key] = (token, now.AddHours(1));
        return token;
    }

    public static CallOptions Options(string token, CancellationToken cancellationToken) => new()
    {
        Headers = new Metadata { { "authorization", "Bearer " + token } },
        CancellationToken = cancellationToken,
    };

    public static Task<TResponse> UnaryAsync<TRequest, TResponse>(GrpcClient client, FileDescriptor file, string method, TRequest request, string token,
        CancellationToken cancellationToken)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        client.UnaryAsync<TRequest, TResponse>(file.Services[0].FindMethodByName(method), request, Options(token, cancellationToken));

    /// <summary>A client-streaming call: writes every message, then reads the one response (or the status the service ended the call with).</summary>
    public static async Task<TResponse> ClientStreamAsync<TRequest, TResponse>(GrpcClient client, FileDescriptor file, string method,
        IEnumerable<TRequest> requests, string token, CancellationToken cancellationToken)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        await using var call = client.Streaming<TRequest, TResponse>(file.Services[0].FindMethodByName(method), Options(token, cancellationToken));
        try
        {
            foreach (var request in requests)
            {
                await call.WriteAsync(request);
            }
        }
        catch (RpcException) when (call.Status is null)
        {
            // The service ended the call while it was still streaming (it refused a message): its status says why.
        }

        call.CompleteRequest();
        return await call.ReadSingleAsync();
    }

    public void Dispose()
    {
        Directory.Dispose();
        Baselines.Dispose();
        Incentives.Dispose();
        Initiatives.Dispose();
        EndState.Dispose();
    }
}
