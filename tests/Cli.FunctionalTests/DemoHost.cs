using Microsoft.AspNetCore.Builder;
using Transformation.TestSupport;
using BaselinesApi = Transformation.Baselines.Api.Extensions;
using DirectoryApi = Transformation.Directory.Api.Extensions;
using EndStateApi = Transformation.EndState.Api.Extensions;
using IncentivesApi = Transformation.Incentives.Api.Extensions;
using InitiativesApi = Transformation.Initiatives.Api.Extensions;
using DemoLoader = Transformation.Cli.Demo.DemoLoader;
using DemoLoaderOptions = Transformation.Cli.Demo.DemoLoaderOptions;
using DemoLoadResult = Transformation.Cli.Demo.DemoLoadResult;
using DemoOrganisation = Transformation.Cli.Demo.DemoOrganisation;
using DevelopmentIssuer = Transformation.Cli.Run.DevelopmentIssuer;
using ServiceAddresses = Transformation.Cli.Services.ServiceAddresses;
using ServiceClients = Transformation.Cli.Services.ServiceClients;
using TokenIssuer = Transformation.ServiceDefaults.Identity.TokenIssuer;

namespace Transformation.Cli.FunctionalTests;

/// <summary>
/// The five services, each built with the Add…Service/Map…Service its Program uses, on free loopback ports with a database of its
/// own, all on one vhost of the real broker. They trust the local development issuer of a data folder of the test's, as services
/// started by `transform run` do, so the CLI's commands run with that folder as their --data exactly as they would locally.
/// EndState reads Baselines over gRPC with its own token.
/// </summary>
public sealed class DemoHost(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    private readonly RabbitMqVirtualHost _vhost = new(rabbitMq);
    private readonly List<PostgresDatabase> _databases = [];
    private readonly List<WebApplication> _apps = [];
    private readonly ServiceErrors _errors = new();
    private readonly Lock _loading = new();
    private Task<DemoLoadResult>? _firstLoad;

    /// <summary>The data folder whose issuer key the services trust (as `transform run`'s).</summary>
    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), TestNames.Unique("transform-data"));

    public TokenIssuer Issuer { get; private set; } = null!;

    public ServiceAddresses Addresses { get; private set; } = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Clients whose tokens the data folder's issuer signs (dispose them).</summary>
    public ServiceClients Clients() => new(Addresses, Issuer);

    /// <summary>The demo loaded once for the class (the first test to ask loads it, with the loader's code, not the command's).</summary>
    public Task<DemoLoadResult> FirstLoadAsync(DemoOrganisation organisation)
    {
        lock (_loading)
        {
            return _firstLoad ??= LoadAsync(organisation);
        }
    }

    private async Task<DemoLoadResult> LoadAsync(DemoOrganisation organisation)
    {
        using var clients = Clients();
        try
        {
            return await new DemoLoader(clients, organisation, DemoLoaderOptions.Default, TimeProvider.System).LoadAsync(force: false, progress: null, CancellationToken.None);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"The demo load failed: {e.Message}\nThe services logged:\n{string.Join('\n', _errors.All)}", e);
        }
    }

    /// <summary>The options that point a command at these services and this data folder.</summary>
    public string[] Options(params string[] services) =>
        [.. services.SelectMany(s => new[] { $"--{s}", Address(s).ToString() }), "--data", DataDirectory];

    public async ValueTask InitializeAsync()
    {
        Issuer = DevelopmentIssuer.Load(DataDirectory);
        await _vhost.InitializeAsync();

        // Consumers before producers, as `transform run` starts them; every queue exists before the demo publishes anything.
        var directoryPort = await StartAsync("directory", [], DirectoryApi.AddDirectoryService, DirectoryApi.MapDirectoryService);
        var baselinesPort = await StartAsync("baselines", [], BaselinesApi.AddBaselinesService, BaselinesApi.MapBaselinesService);
        var initiativesPort = await StartAsync("initiatives", [], InitiativesApi.AddInitiativesService, InitiativesApi.MapInitiativesService);
        var incentivesPort = await StartAsync("incentives", [], IncentivesApi.AddIncentivesService, IncentivesApi.MapIncentivesService);
        var endStatePort = await StartAsync("endstate",
            [new("EndState:BaselinesAddress", $"http://127.0.0.1:{baselinesPort}"), new("EndState:ServiceTokenKey", Issuer.PrivateKeyPem)],
            EndStateApi.AddEndStateService, EndStateApi.MapEndStateService);
        Addresses = new ServiceAddresses(Address(directoryPort), Address(baselinesPort), Address(incentivesPort), Address(initiativesPort), Address(endStatePort));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var app in Enumerable.Reverse(_apps))
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }

        foreach (var database in _databases)
        {
            await database.DisposeAsync();
        }

        await _vhost.DisposeAsync();
        Issuer.Dispose();
        if (System.IO.Directory.Exists(DataDirectory))
        {
            System.IO.Directory.Delete(DataDirectory, recursive: true);
        }
    }

    private static Uri Address(int port) => new($"http://127.0.0.1:{port}");

    private Uri Address(string service) => service switch
    {
        "directory" => Addresses.Directory,
        "baselines" => Addresses.Baselines,
        "incentives" => Addresses.Incentives,
        "initiatives" => Addresses.Initiatives,
        _ => Addresses.EndState,
    };

    private async Task<int> StartAsync(string name, KeyValuePair<string, string?>[] settings, Func<WebApplicationBuilder, WebApplicationBuilder> add,
        Func<WebApplication, WebApplication> map)
    {
        var database = new PostgresDatabase(postgres);
        await database.InitializeAsync();
        _databases.Add(database);
        var service = await InProcessService.StartAsync(name, database.ConnectionString, _vhost.AmqpUri,
            [.. settings, new("Identity:Issuer", Issuer.Issuer), new("Identity:Audience", Issuer.Audience), new("Identity:SigningKeys:0", Issuer.PublicKeyPem)],
            b => add(b), a => map(a), Ct, logs: _errors);
        var (app, grpcPort) = (service.App, service.GrpcPort);
        _apps.Add(app);
        return grpcPort;
    }
}
