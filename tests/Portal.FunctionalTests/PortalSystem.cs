using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Transformation.Portal.Web;
using Transformation.TestSupport;
using BaselinesApi = Transformation.Baselines.Api;
using DirectoryApi = Transformation.Directory.Api;
using EndStateApi = Transformation.EndState.Api;
using IncentivesApi = Transformation.Incentives.Api;
using InitiativesApi = Transformation.Initiatives.Api;
using NotificationsApi = Transformation.Notifications.Api;

namespace Transformation.Portal.FunctionalTests;

/// <summary>One real service of the system: its host, its gRPC address and its database.</summary>
public sealed record RunningService(string Name, WebApplication App, Uri Address, string DatabaseName, string Database) : IAsyncDisposable
{
    public GrpcTestClient Client { get; } = GrpcTestClient.Create(Address);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
    }
}

/// <summary>
/// The whole system for the browser tests: the five services in-process on free loopback ports (each with its own
/// database on the real PostgreSQL, all on one RabbitMQ vhost), a small organisation seeded through their gRPC APIs,
/// the portal (trusting the test issuer's key as its development signing key), a second portal whose Incentives
/// address answers nothing, an SMTP server receiving the Baselines service's mail (with links to the first portal), and
/// headless Chromium driven by Playwright.
/// </summary>
public sealed class PortalSystem(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    /// <summary>
    /// The launch flags of Debian's Chromium as root on a closed network. Chromium asks Google's servers for autofill
    /// hints, sign-in and component updates even with background networking off (a capture of a run showed the DNS
    /// queries), so the resolver answers "not found" for every name but loopback's and those features are off: the
    /// tests only ever browse 127.0.0.1, and no name leaves the machine.
    /// </summary>
    public static readonly string[] ChromiumArgs =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-domain-reliability", "--no-pings",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
        "--disable-features=AutofillServerCommunication,OptimizationHints,MediaRouter,DnsOverHttps,NetworkTimeServiceQuerying,Translate",
    ];

    private readonly List<RunningService> _services = [];
    private readonly List<WebApplication> _portals = [];
    private readonly string _vhost = "portal-" + Guid.NewGuid().ToString("N")[..8];
    private IPlaywright? _playwright;

    public TestIdentity Identity { get; } = new();

    /// <summary>Where the Baselines service's survey invitations and reminders, and the inbox's mail, arrive.</summary>
    public SmtpFixture Smtp { get; } = new();

    public RunningService Directory => Service("directory");

    public RunningService Incentives => Service("incentives");

    public RunningService Baselines => Service("baselines");

    public RunningService Initiatives => Service("initiatives");

    public RunningService EndState => Service("endstate");

    public RunningService Notifications => Service("notifications");

    public Uri PortalAddress { get; private set; } = null!;

    /// <summary>A portal whose Incentives address refuses connections: what people see while a service is down.</summary>
    public Uri PortalWithoutIncentivesAddress { get; private set; } = null!;

    /// <summary>A portal that signs people in with an OpenID Connect provider (and has no demo sign-in).</summary>
    public Uri PortalWithOidcAddress { get; private set; } = null!;

    public FakeOpenIdProvider OpenIdProvider { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public Seeded Seeded { get; private set; } = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var browser = LaunchBrowserAsync();
        await rabbitMq.Server.CreateVirtualHostAsync(_vhost);

        await Smtp.InitializeAsync();
        var portalPort = Ports.Free();

        // All consumers run before anything is seeded (a queue only receives what is published after it exists).
        var baselinesPort = Ports.Free();
        await Task.WhenAll(
            StartAsync("directory", [], b => DirectoryApi.Extensions.AddDirectoryService(b), a => DirectoryApi.Extensions.MapDirectoryService(a)),
            StartAsync("baselines",
                [
                    new("Baselines:MinimumGroupSize", "3"), .. Smtp.Settings("Baselines:Mail"),
                    new("Baselines:Mail:PortalAddress", $"http://127.0.0.1:{portalPort}/"), new("Baselines:Mail:PollInterval", "00:00:00.200"),
                ],
                b => BaselinesApi.Extensions.AddBaselinesService(b), a => BaselinesApi.Extensions.MapBaselinesService(a), baselinesPort),
            StartAsync("initiatives", [], b => InitiativesApi.Extensions.AddInitiativesService(b), a => InitiativesApi.Extensions.MapInitiativesService(a)),
            StartAsync("incentives", [new("Incentives:LeaderboardEnabled", "true")], b => IncentivesApi.Extensions.AddIncentivesService(b), a => IncentivesApi.Extensions.MapIncentivesService(a)),
            StartAsync("endstate",
                [new("EndState:BaselinesAddress", $"http://127.0.0.1:{baselinesPort}"), new("EndState:ServiceTokenKey", Identity.Tokens.PrivateKeyPem)],
                b => EndStateApi.Extensions.AddEndStateService(b), a => EndStateApi.Extensions.MapEndStateService(a)),
            StartAsync("notifications",
                [
                    .. Smtp.Settings("Notifications:Mail"), new("Notifications:Mail:PortalAddress", $"http://127.0.0.1:{portalPort}/"),
                    new("Notifications:Mail:PollInterval", "00:00:00.200"),
                ],
                b => NotificationsApi.Extensions.AddNotificationsService(b), a => NotificationsApi.Extensions.MapNotificationsService(a)));

        Seeded = await Seed.OrganisationAsync(this, Ct);
        PortalAddress = await StartPortalAsync(Incentives.Address, port: portalPort);
        PortalWithoutIncentivesAddress = await StartPortalAsync(new Uri($"http://127.0.0.1:{Ports.Free()}"));
        OpenIdProvider = await FakeOpenIdProvider.StartAsync(Identity, Ct);
        PortalWithOidcAddress = await StartPortalAsync(Incentives.Address, new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Portal:DevelopmentSigningKey"] = "",
            ["Oidc:Authority"] = OpenIdProvider.Authority.ToString(),
            ["Oidc:ClientId"] = FakeOpenIdProvider.ClientId,
            ["Oidc:ClientSecret"] = FakeOpenIdProvider.ClientSecret,
        });
        Browser = await browser;
    }

    private async Task<IBrowser> LaunchBrowserAsync()
    {
        _playwright = await Playwright.CreateAsync();
        return await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ChromiumArgs,
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        foreach (var portal in _portals)
        {
            await portal.DisposeAsync();
        }

        if (OpenIdProvider is not null)
        {
            await OpenIdProvider.DisposeAsync();
        }

        foreach (var service in Enumerable.Reverse(_services))
        {
            await service.DisposeAsync();
        }

        foreach (var service in _services)
        {
            await postgres.Server.DropDatabaseAsync(service.DatabaseName);
        }

        if (rabbitMq.Server.IsRunning)
        {
            await rabbitMq.Server.DeleteVirtualHostAsync(_vhost);
        }

        await Smtp.DisposeAsync();

        Identity.Dispose();
    }

    /// <summary>A valid token for a seeded person (for calls the test makes itself).</summary>
    public string Token(string subject, params string[] roles) => Identity.TokenFor(subject, roles);

    private RunningService Service(string name) => _services.Single(s => string.Equals(s.Name, name, StringComparison.Ordinal));

    private async Task StartAsync(string name, IEnumerable<KeyValuePair<string, string?>> extra, Action<WebApplicationBuilder> add, Action<WebApplication> map,
        int? port = null)
    {
        var databaseName = $"portal_{name}_{Guid.NewGuid().ToString("N")[..8]}";
        var database = await postgres.Server.CreateDatabaseAsync(databaseName, Ct);
        var service = await InProcessService.StartAsync(name, database, rabbitMq.Server.AmqpUri(_vhost), [.. Identity.Settings, .. extra], add, map, Ct, port);
        var (app, grpcPort) = (service.App, service.GrpcPort);
        lock (_services)
        {
            _services.Add(new RunningService(name, app, new Uri($"http://127.0.0.1:{grpcPort}"), databaseName, database));
        }
    }

    /// <summary>Another portal on the same services, with settings of its own.</summary>
    public Task<Uri> StartPortalAsync(IDictionary<string, string?> overrides) => StartPortalAsync(Incentives.Address, overrides);

    /// <summary>
    /// A portal as `transform run` starts it: Development, bound to loopback (the demo sign-in runs nowhere else).
    /// </summary>
    private async Task<Uri> StartPortalAsync(Uri incentives, IDictionary<string, string?>? overrides = null, int? port = null)
    {
        port ??= Ports.Free();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(App).Assembly.GetName().Name,
            EnvironmentName = Environments.Development,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "portal",
            ["Service:HttpPort"] = port.Value.ToString(CultureInfo.InvariantCulture),
            ["Service:BindAddress"] = "localhost",
            ["Service:ShutdownTimeout"] = "00:00:05",
            ["Services:Directory"] = Directory.Address.ToString(),
            ["Services:Incentives"] = incentives.ToString(),
            ["Services:Baselines"] = Baselines.Address.ToString(),
            ["Services:Initiatives"] = Initiatives.Address.ToString(),
            ["Services:EndState"] = EndState.Address.ToString(),
            ["Services:Notifications"] = Notifications.Address.ToString(),
            ["Identity:Issuer"] = TestIdentity.Issuer,
            ["Identity:Audience"] = TestIdentity.Audience,
            ["Portal:DevelopmentSigningKey"] = Identity.Tokens.PrivateKeyPem,
            ["Portal:CallTimeout"] = "00:00:05",
        });
        builder.Configuration.AddInMemoryCollection(overrides ?? new Dictionary<string, string?>(StringComparer.Ordinal));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);

        // Built, not published: the static assets (blazor.web.js, site.css) come from the build's manifest, as `dotnet run` serves them.
        builder.WebHost.UseStaticWebAssets();
        builder.AddPortal();
        var app = builder.Build();
        app.MapPortal();
        await app.StartAsync(Ct);
        _portals.Add(app);
        return new Uri($"http://127.0.0.1:{port}/");
    }
}
