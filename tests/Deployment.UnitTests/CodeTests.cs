using System.Diagnostics;
using System.Globalization;
using Dapr;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Hosting.Kubernetes;
using Transformation.EventBus;
using Transformation.ServiceDefaults;
using DefaultEndpoints = Transformation.ServiceDefaults.Extensions;

namespace Transformation.Deployment.UnitTests;

/// <summary>The manifests against the code: names, ports, probes, settings, for every deployable project.</summary>
public sealed class CodeTests
{
    public static TheoryData<string, string> OverlaysAndServices()
    {
        var data = new TheoryData<string, string>();
        foreach (var overlay in Manifests.Overlays)
        {
            foreach (var (appId, _) in Repository.DeployableProjects())
            {
                data.Add(overlay, appId);
            }
        }

        return data;
    }

    public static TheoryData<string> Overlays() => [.. Manifests.Overlays];

    [Fact]
    public void TheTestKnowsHowToHostEveryDeployableProject()
    {
        Repository.DeployableProjects().Select(p => p.AppId).ShouldBe(ServiceHosts.All.Keys.Order(StringComparer.Ordinal), ignoreOrder: false,
            "services/ and ServiceHosts.All differ: add the new project's Add/Map methods to ServiceHosts.All (and its manifests to k8s/base/services).");
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void EveryProjectHasADeploymentAndEveryDeploymentRunsAProject(string overlay)
    {
        var manifests = Manifests.Overlay(overlay);
        var projects = Repository.DeployableProjects().Select(p => p.AppId).ToList();

        manifests.OfKind("Deployment").Select(d => d.Text("metadata", "name")!).Order(StringComparer.Ordinal).ShouldBe(projects);
        foreach (var appId in projects)
        {
            manifests.Find("Service", appId).ShouldNotBeNull($"{overlay}: no Service for {appId}");
            manifests.Find("ConfigMap", appId + "-settings").ShouldNotBeNull($"{overlay}: no ConfigMap for {appId}");
            manifests.Find("PodDisruptionBudget", appId).ShouldNotBeNull($"{overlay}: no PodDisruptionBudget for {appId}");
        }
    }

    [Fact]
    public async Task EveryImageTheBaseManifestsRunIsOneThatToolsImagesBuildsForItsProject()
    {
        var manifests = Manifests.Overlay("dev");
        foreach (var (appId, _) in Repository.DeployableProjects())
        {
            var image = Manifests.Container(manifests.Get("Deployment", appId), "app").Text("image")!;
            image.ShouldBe($"transformation/{appId}:dev");

            // What ServiceImagesScenario runs: tools/images/build.sh builds transformation/APPID from the project.
            var start = new ProcessStartInfo(Path.Combine(Repository.Root, "tools", "images", "build.sh"), ["--tag", appId])
            {
                UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            using var build = Process.Start(start)!;
            var errors = build.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            var tag = await build.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            await build.WaitForExitAsync(TestContext.Current.CancellationToken);
            build.ExitCode.ShouldBe(0, $"tools/images/build.sh --tag {appId}: {await errors}");
            tag.Trim().ShouldMatch($"^transformation/{appId}:[0-9a-f]{{12}}$");
        }
    }

    [Theory]
    [MemberData(nameof(OverlaysAndServices))]
    public async Task TheDeploymentRunsTheServiceOnThePortsProbesAndSettingsOfItsCode(string overlay, string appId)
    {
        var manifests = Manifests.Overlay(overlay);
        var project = Repository.DeployableProjects().Single(p => p.AppId == appId).ProjectDirectory;
        var deployment = manifests.Get("Deployment", appId);
        var container = Manifests.Container(deployment, "app");
        var environment = manifests.Environment(container, ServiceHosts.SecretStandIn);

        // The service's own start-up validation accepts what the manifests give it (a missing or invalid setting throws here).
        await using var service = ServiceHosts.Build(appId, project, environment);
        var options = service.App.Services.GetRequiredService<IOptions<ServiceOptions>>().Value;
        var host = ServiceHosts.All[appId];

        // Names: the app id is the service's Service:Name, the Deployment's and the Service's name, Dapr's app id.
        options.Name.ShouldBe(appId);
        if (ServiceHosts.AppSetting(project, "Service:Name") is { } declared)
        {
            declared.ShouldBe(appId, $"{appId}'s appsettings.json names it {declared}");
        }

        var annotations = deployment.Strings("spec", "template", "metadata", "annotations");
        annotations["dapr.io/enabled"].ShouldBe("true");
        annotations["dapr.io/app-id"].ShouldBe(options.Name);

        // Ports: the ones the service listens on (as configured here) are the container's, the Service's and Dapr's.
        var ports = container.Maps("ports").ToDictionary(p => p.Text("name")!, p => int.Parse(p.Text("containerPort")!, CultureInfo.InvariantCulture), StringComparer.Ordinal);
        ports["http"].ShouldBe(options.HttpPort);
        if (host.ServesGrpc)
        {
            ports["grpc"].ShouldBe(options.GrpcPort);
        }
        else
        {
            ports.Keys.ShouldBe(["http"]);
        }

        foreach (var (key, port) in new[] { ("Service:GrpcPort", options.GrpcPort), ("Service:HttpPort", options.HttpPort) })
        {
            if (ServiceHosts.AppSetting(project, key) is { } declaredPort && (host.ServesGrpc || key == "Service:HttpPort"))
            {
                int.Parse(declaredPort, CultureInfo.InvariantCulture).ShouldBe(port, $"{appId}'s appsettings.json has {key} {declaredPort}");
            }
        }

        var servicePorts = manifests.Get("Service", appId).Maps("spec", "ports").ToList();
        servicePorts.Select(p => (p.Text("targetPort"), p.Text("port"))).ShouldBe(
            ports.Select(p => ((string?)p.Key, (string?)p.Value.ToString(CultureInfo.InvariantCulture))), ignoreOrder: true);

        // Probes: the paths ServiceDefaults maps, on the HTTP/1.1 port, and the service really maps them there.
        var endpoints = ((IEndpointRouteBuilder)service.App).DataSources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>().ToList();
        foreach (var (probe, path) in new[] { ("startupProbe", DefaultEndpoints.LivePath), ("livenessProbe", DefaultEndpoints.LivePath), ("readinessProbe", DefaultEndpoints.ReadyPath) })
        {
            container.Text(probe, "httpGet", "path").ShouldBe(path, $"{overlay}/{appId} {probe}");
            container.Text(probe, "httpGet", "port").ShouldBe("http", $"{overlay}/{appId} {probe}");
            var mapped = endpoints.Where(e => e.RoutePattern.RawText == path).ToList();
            mapped.ShouldNotBeEmpty($"{appId} maps no {path}");
            mapped.ShouldAllBe(e => e.Metadata.GetMetadata<IHostMetadata>()!.Hosts.Contains($"*:{options.HttpPort}"), $"{appId}'s {path} is not on its HTTP port");
        }

        // Shutdown: the pod is given longer than the service waits for its work to drain.
        int.Parse(deployment.Text("spec", "template", "spec", "terminationGracePeriodSeconds")!, CultureInfo.InvariantCulture)
            .ShouldBeGreaterThan((int)options.ShutdownTimeout.TotalSeconds);

        // Settings: every key the manifests set is one the service reads.
        UnreadKeys(service, container, manifests).ShouldBeEmpty($"{overlay}/{appId}: settings the service does not read");
    }

    public static TheoryData<string, string, EventBusMode> OverlaysServicesAndModes()
    {
        var data = new TheoryData<string, string, EventBusMode>();
        foreach (var overlay in Manifests.Overlays)
        {
            foreach (var (appId, _) in Repository.DeployableProjects())
            {
                foreach (var mode in Enum.GetValues<EventBusMode>())
                {
                    data.Add(overlay, appId, mode);
                }
            }
        }

        return data;
    }

    /// <summary>
    /// The sidecar calls the app on <c>dapr.io/app-port</c> speaking <c>dapr.io/app-protocol</c>: that must be what the service
    /// serves there, in the mode its ConfigMap sets and in the other one (switching EventBus__Mode is all it takes). Only the
    /// HTTP port speaks what Dapr's "http" protocol does (HTTP/1.1); the gRPC port is h2c only, and Dapr's "grpc" protocol would
    /// ask it for Dapr's AppCallback service, which no service serves, so the sidecar would never read /dapr/subscribe.
    /// In DaprSidecar mode the service serves the subscription list and a route per subscription on that port; in RabbitMq
    /// mode neither (the sidecar reads a 404 as "no subscriptions", and the service consumes its queues itself).
    /// </summary>
    [Theory]
    [MemberData(nameof(OverlaysServicesAndModes))]
    public async Task TheDaprAnnotationsPointTheSidecarAtWhatTheServiceServesInEachMode(string overlay, string appId, EventBusMode mode)
    {
        var manifests = Manifests.Overlay(overlay);
        var project = Repository.DeployableProjects().Single(p => p.AppId == appId).ProjectDirectory;
        var deployment = manifests.Get("Deployment", appId);
        var environment = manifests.Environment(Manifests.Container(deployment, "app"), ServiceHosts.SecretStandIn);
        var configured = environment.TryGetValue("EventBus__Mode", out var setting) ? Enum.Parse<EventBusMode>(setting) : new EventBusOptions().Mode;
        environment["EventBus__Mode"] = mode.ToString();
        await using var service = ServiceHosts.Build(appId, project, environment);
        var options = service.App.Services.GetRequiredService<IOptions<ServiceOptions>>().Value;
        var hasEventBus = service.Sections.ContainsKey(EventBusOptions.Section);
        if (!hasEventBus && mode != configured)
        {
            return; // The portal has no event bus: nothing changes with the mode.
        }

        var annotations = deployment.Strings("spec", "template", "metadata", "annotations");
        var appPort = int.Parse(annotations["dapr.io/app-port"], CultureInfo.InvariantCulture);
        appPort.ShouldBe(options.HttpPort, $"{overlay}/{appId}: dapr.io/app-port must be the HTTP/1.1 port {options.HttpPort} (Service__HttpPort), not {appPort}");
        annotations["dapr.io/app-protocol"].ShouldBe("http", $"{overlay}/{appId}: the sidecar speaks HTTP/1.1 to port {appPort}");

        var endpoints = ((IEndpointRouteBuilder)service.App).DataSources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>().ToList();
        var subscribe = endpoints.Where(e => e.RoutePattern.RawText?.Trim('/') == "dapr/subscribe").ToList();
        var deliveries = endpoints.Where(e => e.Metadata.GetMetadata<ITopicMetadata>() is not null).ToList();
        var topics = service.App.Services.GetServices<Subscription>().Select(s => s.Topic).ToList();
        if (mode == EventBusMode.RabbitMq || !hasEventBus)
        {
            subscribe.ShouldBeEmpty($"{appId} in {mode} mode must not offer the sidecar subscriptions");
            deliveries.ShouldBeEmpty();
            return;
        }

        subscribe.ShouldHaveSingleItem($"{appId} in DaprSidecar mode serves no /dapr/subscribe");
        deliveries.Select(e => e.Metadata.GetMetadata<ITopicMetadata>()!.Name).ShouldBe(topics, ignoreOrder: true, $"{appId}: a delivery route per subscription");
        deliveries.ShouldAllBe(e => e.RoutePattern.Parameters.Count == 0); // Dapr.AspNetCore lists only routes without parameters.
        foreach (var delivery in deliveries)
        {
            // What the sidecar drops or gives up on goes where the broker dead-letters the queue (DaprComponentTests).
            var topic = delivery.Metadata.GetMetadata<ITopicMetadata>()!.Name;
            delivery.Metadata.GetMetadata<IDeadLetterTopicMetadata>()?.DeadLetterTopic.ShouldBe(EventNames.DeadLetterExchange(EventNames.Queue(appId, topic)), $"{appId}: {topic}");
        }

        foreach (var endpoint in subscribe.Concat(deliveries))
        {
            endpoint.Metadata.GetMetadata<IHostMetadata>().ShouldNotBeNull().Hosts.ShouldBe([$"*:{appPort}"], $"{appId}: {endpoint.RoutePattern.RawText} is not on dapr.io/app-port");
        }
    }

    [Theory]
    [MemberData(nameof(OverlaysAndServices))]
    public async Task AServiceWithADatabaseHasAMigrationJobThatRunsItWithMigrateOnly(string overlay, string appId)
    {
        var manifests = Manifests.Overlay(overlay);
        var project = Repository.DeployableProjects().Single(p => p.AppId == appId).ProjectDirectory;
        var deployment = manifests.Get("Deployment", appId);
        var hasDatabase = manifests.Environment(Manifests.Container(deployment, "app"), ServiceHosts.SecretStandIn).ContainsKey("EventBus__Database");
        var job = manifests.Find("Job", appId + "-migrate");
        (job is not null).ShouldBe(hasDatabase, $"{overlay}/{appId}: a migration Job exactly when the service has a database");
        if (job is null)
        {
            return;
        }

        var container = Manifests.Container(job, "migrate");
        container.Text("image").ShouldBe(Manifests.Container(deployment, "app").Text("image"));
        job.Text("spec", "template", "spec", "restartPolicy").ShouldBeOneOf("OnFailure", "Never");
        await using var service = ServiceHosts.Build(appId, project, manifests.Environment(container, ServiceHosts.SecretStandIn));
        service.App.Services.GetRequiredService<IOptions<ServiceOptions>>().Value.MigrateOnly.ShouldBeTrue();
        UnreadKeys(service, container, manifests).ShouldBeEmpty($"{overlay}/{appId}-migrate: settings the service does not read");

        // The Job's pod must not receive the service's traffic.
        var kubernetesService = manifests.Get("Service", appId);
        Manifests.Selects(kubernetesService.Strings("spec", "selector"), job.Strings("spec", "template", "metadata", "labels")).ShouldBeFalse();
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void AddressesInTheSettingsNameTheGrpcPortOfAServiceInTheRendering(string overlay)
    {
        var manifests = Manifests.Overlay(overlay);
        var services = manifests.OfKind("Service").ToDictionary(s => s.Text("metadata", "name")!, StringComparer.Ordinal);
        var checkedAddresses = 0;
        foreach (var configMap in manifests.OfKind("ConfigMap"))
        {
            foreach (var (key, value) in configMap.Strings("data"))
            {
                if (!Uri.TryCreate(value, UriKind.Absolute, out var address) || address.Scheme != Uri.UriSchemeHttp || address.Host.Contains('.', StringComparison.Ordinal))
                {
                    continue;
                }

                services.ShouldContainKey(address.Host, $"{overlay}: {key} names {address.Host}, which is no Service");
                var port = services[address.Host].Maps("spec", "ports").SingleOrDefault(p => p.Text("port") == address.Port.ToString(CultureInfo.InvariantCulture));
                port.ShouldNotBeNull($"{overlay}: {key} names port {address.Port}, which Service {address.Host} has not");
                port.Text("name").ShouldBe("grpc", $"{overlay}: {key} is a gRPC address");
                checkedAddresses++;
            }
        }

        checkedAddresses.ShouldBeGreaterThan(0);
    }

    /// <summary>Keys the manifests set for a container that the service does not read (OpenTelemetry's, .NET's and helper variables aside).</summary>
    /// <summary>What Orleans' Kubernetes hosting reads from the environment (not configuration keys of ours).</summary>
    private static readonly HashSet<string> OrleansKubernetesVariables = new(StringComparer.Ordinal)
    {
        KubernetesHostingOptions.PodIPEnvironmentVariable, KubernetesHostingOptions.PodNameEnvironmentVariable,
        KubernetesHostingOptions.PodNamespaceEnvironmentVariable, KubernetesHostingOptions.ServiceIdEnvironmentVariable,
        KubernetesHostingOptions.ClusterIdEnvironmentVariable,
    };

    private static List<string> UnreadKeys(BuiltService service, Dictionary<string, object?> container, Manifests manifests)
    {
        var helpers = Manifests.ReferencedVariables(container).ToHashSet(StringComparer.Ordinal);
        var set = container.Maps("envFrom").SelectMany(source => manifests.Get("ConfigMap", source.Text("configMapRef", "name")!).Strings("data").Keys)
            .Concat(container.Maps("env").Select(v => v.Text("name")!))
            .Distinct(StringComparer.Ordinal);
        return set
            .Where(name => !helpers.Contains(name))
            .Where(name => !name.StartsWith("OTEL_", StringComparison.Ordinal) && !name.StartsWith("DOTNET_", StringComparison.Ordinal) && !name.StartsWith("ASPNETCORE_", StringComparison.Ordinal))
            .Where(name => !OrleansKubernetesVariables.Contains(name))
            .Where(name => !service.Reads(ServiceHosts.ConfigurationKey(name)))
            .ToList();
    }
}
