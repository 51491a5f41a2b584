using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Transformation.Deployment.UnitTests;

/// <summary>How each deployable project wires itself: the same Add/Map extension methods its Program.cs calls.</summary>
internal sealed record ServiceHost(bool ServesGrpc, Action<WebApplicationBuilder> Add, Action<WebApplication> Map);

/// <summary>A service's real host, built (not started) from its appsettings.json and the environment a manifest gives it.</summary>
internal sealed class BuiltService(WebApplication app, IReadOnlyDictionary<string, Type> sections, ISet<string> appSettingsKeys) : IAsyncDisposable
{
    public WebApplication App { get; } = app;

    /// <summary>Options sections the service binds ("Service", "EventBus", …), to the options type bound.</summary>
    public IReadOnlyDictionary<string, Type> Sections { get; } = sections;

    /// <summary>Every key of the project's appsettings.json, as configuration paths (A:B:0).</summary>
    public ISet<string> AppSettingsKeys { get; } = appSettingsKeys;

    public ValueTask DisposeAsync() => App.DisposeAsync();

    /// <summary>
    /// Whether the service reads a configuration key: a property path of an options type it binds, or a key its own
    /// appsettings.json has (a few settings are read without an options class).
    /// </summary>
    public bool Reads(string key)
    {
        if (AppSettingsKeys.Contains(key))
        {
            return true;
        }

        var parts = key.Split(':');
        return Sections.TryGetValue(parts[0], out var type) && PathExists(type, parts.AsSpan(1));
    }

    private static bool PathExists(Type type, ReadOnlySpan<string> rest)
    {
        if (rest.IsEmpty)
        {
            return true;
        }

        if (IsScalar(type))
        {
            return false;
        }

        if (Implements(type, typeof(IDictionary<,>)) is { } dictionary)
        {
            return PathExists(dictionary.GetGenericArguments()[1], rest[1..]);
        }

        if (Implements(type, typeof(IEnumerable<>)) is { } sequence)
        {
            return int.TryParse(rest[0], out _) && PathExists(sequence.GetGenericArguments()[0], rest[1..]);
        }

        var property = type.GetProperty(rest[0], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        return property is not null && (property.CanWrite || !IsScalar(property.PropertyType)) && PathExists(property.PropertyType, rest[1..]);
    }

    private static Type? Implements(Type type, Type generic) =>
        (type.IsGenericType && type.GetGenericTypeDefinition() == generic ? type : null)
        ?? type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == generic);

    private static bool IsScalar(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(Uri) || type == typeof(TimeSpan)
            || type == typeof(DateTime) || type == typeof(DateTimeOffset) || type == typeof(Guid);
    }
}

internal static class ServiceHosts
{
    /// <summary>Every deployable project, by app id. <see cref="CodeTests"/> checks that this covers services/.</summary>
    public static IReadOnlyDictionary<string, ServiceHost> All { get; } = new Dictionary<string, ServiceHost>(StringComparer.Ordinal)
    {
        ["directory"] = new(true, b => Directory.Api.Extensions.AddDirectoryService(b), a => Directory.Api.Extensions.MapDirectoryService(a)),
        ["incentives"] = new(true, b => Incentives.Api.Extensions.AddIncentivesService(b), a => Incentives.Api.Extensions.MapIncentivesService(a)),
        ["baselines"] = new(true, b => Baselines.Api.Extensions.AddBaselinesService(b), a => Baselines.Api.Extensions.MapBaselinesService(a)),
        ["initiatives"] = new(true, b => Initiatives.Api.Extensions.AddInitiativesService(b), a => Initiatives.Api.Extensions.MapInitiativesService(a)),
        ["endstate"] = new(true, b => EndState.Api.Extensions.AddEndStateService(b), a => EndState.Api.Extensions.MapEndStateService(a)),
        ["notifications"] = new(true, b => Notifications.Api.Extensions.AddNotificationsService(b), a => Notifications.Api.Extensions.MapNotificationsService(a)),
        ["portal"] = new(false, b => Portal.Web.Extensions.AddPortal(b), a => Portal.Web.Extensions.MapPortal(a)),
    };

    private static readonly Lazy<(string Private, string Public)> ServiceTokenKey = new(() =>
    {
        using var rsa = RSA.Create(2048);
        return (rsa.ExportPkcs8PrivateKeyPem(), rsa.ExportSubjectPublicKeyInfoPem());
    });

    /// <summary>
    /// Stand-ins for the values of the Secrets the operator creates (k8s/README.md lists them), of the right shape for
    /// the settings that read them. A reference to any other secret fails here: document it, then add it.
    /// </summary>
    public static string SecretStandIn(string secret, string key) => (secret, key) switch
    {
        ("postgres", _) => $"Host=transformation-db-rw;Database={key};Username={key};Password=stand-in",
        ("rabbitmq", "connectionString") => "amqp://transformation:stand-in@transformation-mq:5672/",
        ("redis", "connectionString") => "transformation-redis:6379,password=stand-in",
        ("service-token", "privateKey") => ServiceTokenKey.Value.Private,
        ("service-token", "publicKey") => ServiceTokenKey.Value.Public,
        ("portal-oidc", "clientSecret") => "stand-in",
        _ => throw new InvalidOperationException($"The manifests refer to secret {secret}/{key}, which the manifest test (and k8s/README.md) do not know."),
    };

    /// <summary>
    /// Builds the project's host as its Program.cs does, with its appsettings.json and the given environment
    /// (Kubernetes-style names: Service__Name), then runs the start-up validation of its options and maps its endpoints.
    /// </summary>
    public static BuiltService Build(string appId, string projectDirectory, IReadOnlyDictionary<string, string> environment)
    {
        var host = All[appId];
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ContentRootPath = projectDirectory,
            EnvironmentName = Environments.Production,
            ApplicationName = "Transformation." + Path.GetFileName(projectDirectory),
        });
        builder.Configuration.AddInMemoryCollection(environment.Select(e => KeyValuePair.Create(ConfigurationKey(e.Key), (string?)e.Value)));
        builder.Logging.ClearProviders();
        host.Add(builder);
        builder.Logging.ClearProviders();

        var sections = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase);
        foreach (var descriptor in builder.Services.Where(d => d.ServiceType.IsGenericType && d.ServiceType.GetGenericTypeDefinition() == typeof(IConfigureOptions<>)))
        {
            var options = descriptor.ServiceType.GetGenericArguments()[0];
            if (options.GetField("Section", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } field)
            {
                sections[(string)field.GetRawConstantValue()!] = options;
            }
        }

        var app = builder.Build();
        try
        {
            app.Services.GetRequiredService<IStartupValidator>().Validate();
            host.Map(app);
        }
        catch
        {
            ((IDisposable)app).Dispose();
            throw;
        }

        return new BuiltService(app, sections, AppSettingsKeys(Path.Combine(projectDirectory, "appsettings.json")));
    }

    /// <summary>An environment variable's name as a configuration key: Service__GrpcPort → Service:GrpcPort.</summary>
    public static string ConfigurationKey(string variable) => variable.Replace("__", ":", StringComparison.Ordinal);

    public static ISet<string> AppSettingsKeys(string path)
    {
        var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (File.Exists(path))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            Flatten(document.RootElement, "", keys);
        }

        return keys;
    }

    /// <summary>The appsettings.json value of a key, or null.</summary>
    public static string? AppSetting(string projectDirectory, string key)
    {
        var path = Path.Combine(projectDirectory, "appsettings.json");
        return File.Exists(path) ? new ConfigurationBuilder().AddJsonFile(path).Build()[key] : null;
    }

    private static void Flatten(JsonElement element, string prefix, HashSet<string> keys)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Flatten(property.Value, prefix.Length == 0 ? property.Name : $"{prefix}:{property.Name}", keys);
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Flatten(item, $"{prefix}:{index++}", keys);
                }

                break;
            default:
                keys.Add(prefix);
                break;
        }
    }
}
