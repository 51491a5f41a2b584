using System.Globalization;

namespace Transformation.Deployment.UnitTests;

/// <summary>tye.yaml against the code and the Kubernetes manifests.</summary>
public sealed class TyeTests
{
    private static readonly Dictionary<string, object?> Tye = Yaml.LoadSingle(Path.Combine(Repository.Root, "tye.yaml"));

    [Fact]
    public void EveryProjectRunsUnderItsAppIdOnTheBindingsItsSettingsName()
    {
        var services = Tye.Maps("services").ToDictionary(s => s.Text("name")!, StringComparer.Ordinal);
        var usedPorts = new List<int>();
        foreach (var (appId, directory) in Repository.DeployableProjects())
        {
            services.ShouldContainKey(appId, $"tye.yaml has no service {appId}");
            var service = services[appId];
            var project = Path.GetFullPath(Path.Combine(Repository.Root, service.Text("project")!));
            project.ShouldBe(System.IO.Directory.GetFiles(directory, "*.csproj").Single());

            var environment = Environment(service);
            environment["Service__Name"].ShouldBe(appId);
            var bindings = service.Maps("bindings").ToDictionary(b => b.Text("name")!, b => int.Parse(b.Text("port")!, CultureInfo.InvariantCulture), StringComparer.Ordinal);
            var expected = ServiceHosts.All[appId].ServesGrpc ? new[] { "grpc", "http" } : ["http"];
            bindings.Keys.Order(StringComparer.Ordinal).ShouldBe(expected);
            foreach (var binding in expected)
            {
                var setting = binding == "grpc" ? "Service__GrpcPort" : "Service__HttpPort";
                int.Parse(environment[setting]!, CultureInfo.InvariantCulture).ShouldBe(bindings[binding], $"{appId}: {setting}");
            }

            usedPorts.AddRange(bindings.Values);
        }

        // One machine: no two services on one port.
        usedPorts.Count.ShouldBe(usedPorts.Distinct().Count());
    }

    [Fact]
    public void AddressesNameAnotherServicesGrpcBindingAndDaprLoadsTheComponentsOfTheManifests()
    {
        var services = Tye.Maps("services").ToList();
        var grpcPorts = services.ToDictionary(s => s.Text("name")!,
            s => s.Maps("bindings").FirstOrDefault(b => b.Text("name") == "grpc")?.Text("port"), StringComparer.Ordinal);
        var addresses = 0;
        foreach (var service in services)
        {
            foreach (var (key, value) in Environment(service))
            {
                // Service__BindAddress is where a service listens, not another service's address.
                if ((key.StartsWith("Services__", StringComparison.Ordinal) || key.EndsWith("Address", StringComparison.Ordinal)) && value is not null
                    && !string.Equals(key, "Service__BindAddress", StringComparison.Ordinal))
                {
                    var port = new Uri(value).Port.ToString(CultureInfo.InvariantCulture);
                    grpcPorts.Values.ShouldContain(port, $"{service.Text("name")}: {key}={value} is no service's gRPC binding");
                    addresses++;
                }
            }
        }

        addresses.ShouldBeGreaterThan(0);
        var dapr = Tye.Maps("extensions").Single(e => e.Text("name") == "dapr");
        var components = Path.GetFullPath(Path.Combine(Repository.Root, dapr.Text("components-path")!));
        System.IO.Directory.GetFiles(components, "*.yaml").ShouldContain(file => Yaml.LoadAll(file).Any(d => d.Text("kind") == "Component"));
    }

    [Fact]
    public void TheSidecarsSpeakHttpToTheHttpPortAsInTheManifests()
    {
        // Tye's Dapr extension gives each sidecar the service's "http" binding (Service__HttpPort, checked above) as app port:
        // the protocol must be what that port speaks, as dapr.io/app-protocol in k8s/ (CodeTests).
        var dapr = Tye.Maps("extensions").Single(e => e.Text("name") == "dapr");
        dapr.Text("app-protocol").ShouldBe("http");
        Tye.Maps("services").Where(s => s.Text("project") is not null)
            .ShouldAllBe(s => s.Maps("bindings").Any(b => b.Text("name") == "http" && b.Text("protocol") == "http"));
    }

    /// <summary>A Tye service's env: KEY=VALUE entries, or a bare KEY whose value Tye takes from the shell (null here).</summary>
    private static Dictionary<string, string?> Environment(Dictionary<string, object?> service) =>
        (service.At("env") as List<object?> ?? []).Cast<string>().ToDictionary(
            entry => entry.Split('=', 2)[0],
            entry => entry.Contains('=', StringComparison.Ordinal) ? entry.Split('=', 2)[1] : null,
            StringComparer.Ordinal);
}
