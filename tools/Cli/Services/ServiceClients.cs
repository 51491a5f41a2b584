using System.Collections.Concurrent;
using System.CommandLine;
using Grpc.Core;
using Grpc.Net.Client;
using Transformation.Baselines.V1;
using Transformation.Cli.Run;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
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

/// <summary>One channel and generated client per service, and tokens signed by the given issuer for whoever a call is made as.</summary>
public sealed class ServiceClients : IDisposable
{
    private readonly TokenIssuer _issuer;
    private readonly ConcurrentDictionary<string, (string Token, DateTime Expires)> _tokens = new(StringComparer.Ordinal);
    private readonly GrpcChannel[] _channels;

    public ServiceClients(ServiceAddresses addresses, TokenIssuer issuer)
    {
        _issuer = issuer;
        _channels = [Channel(addresses.Directory), Channel(addresses.Baselines), Channel(addresses.Incentives), Channel(addresses.Initiatives), Channel(addresses.EndState)];
        Directory = new DirectoryService.DirectoryServiceClient(_channels[0]);
        Baselines = new BaselineService.BaselineServiceClient(_channels[1]);
        Incentives = new IncentivesService.IncentivesServiceClient(_channels[2]);
        Initiatives = new InitiativeService.InitiativeServiceClient(_channels[3]);
        EndState = new EndStateService.EndStateServiceClient(_channels[4]);
    }

    public DirectoryService.DirectoryServiceClient Directory { get; }

    public BaselineService.BaselineServiceClient Baselines { get; }

    public IncentivesService.IncentivesServiceClient Incentives { get; }

    public InitiativeService.InitiativeServiceClient Initiatives { get; }

    public EndStateService.EndStateServiceClient EndState { get; }

    /// <summary>A channel to one service; exports and demo reads can be large, hence the 64 MiB receive limit.</summary>
    public static GrpcChannel Channel(Uri address) =>
        GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 });

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

    /// <summary>The headers of a call made as the holder of <paramref name="token"/>.</summary>
    public static Metadata Headers(string token) => new() { { "authorization", "Bearer " + token } };

    /// <summary>A client-streaming call: writes every message, then reads the one response (or the status the service ended the call with).</summary>
    public static async Task<TResponse> ClientStreamAsync<TRequest, TResponse>(AsyncClientStreamingCall<TRequest, TResponse> started, IEnumerable<TRequest> requests)
    {
        using var call = started;
        try
        {
            foreach (var request in requests)
            {
                await call.RequestStream.WriteAsync(request);
            }

            await call.RequestStream.CompleteAsync();
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException)
        {
            // The service ended the call while it was still streaming (it refused a message): its status says why.
        }

        return await call.ResponseAsync;
    }

    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
    }
}
