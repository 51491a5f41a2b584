using System.Globalization;
using System.Text.RegularExpressions;
using Orleans.Hosting.Kubernetes;

namespace Transformation.Deployment.UnitTests;

/// <summary>What the API server would refuse or what would not work once applied, checked on each rendered overlay.</summary>
public sealed class ManifestTests
{
    private static readonly Regex DnsLabel = new("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", RegexOptions.ExplicitCapture, TimeSpan.FromSeconds(1));

    public static TheoryData<string> Overlays() => [.. Manifests.Overlays];

    [Theory]
    [MemberData(nameof(Overlays))]
    public void EveryObjectHasAnApiVersionAKindAndAUniqueValidName(string overlay)
    {
        var manifests = Manifests.Overlay(overlay);

        manifests.Objects.Count.ShouldBeGreaterThan(30);
        foreach (var item in manifests.Objects)
        {
            item.Text("apiVersion").ShouldNotBeNullOrEmpty();
            item.Text("kind").ShouldNotBeNullOrEmpty();
            var name = item.Text("metadata", "name");
            name.ShouldNotBeNull($"{overlay}: a {item.Text("kind")} without a name");
            (name.Length <= 63 && DnsLabel.IsMatch(name)).ShouldBeTrue($"{overlay}: '{name}' is not a DNS label");
            if (item.Text("kind") != "Namespace")
            {
                item.Text("metadata", "namespace").ShouldBe("transformation", $"{overlay}: {item.Text("kind")}/{name}");
            }
        }

        manifests.Objects.GroupBy(o => (o.Text("kind"), o.Text("metadata", "namespace"), o.Text("metadata", "name")))
            .Where(g => g.Count() > 1).Select(g => g.Key.ToString()).ShouldBeEmpty();
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void WorkloadsSelectTheirOwnPodsAndEveryContainerHasAnImageResourcesAndAHardenedContext(string overlay)
    {
        var manifests = Manifests.Overlay(overlay);
        foreach (var workload in manifests.OfKind("Deployment").Concat(manifests.OfKind("Job")))
        {
            var name = workload.Text("metadata", "name");
            var labels = workload.Strings("spec", "template", "metadata", "labels");
            if (workload.Text("kind") == "Deployment")
            {
                Manifests.Selects(workload.Strings("spec", "selector", "matchLabels"), labels).ShouldBeTrue($"{overlay}: {name}'s selector does not select its pods");
            }
            else
            {
                workload.Text("spec", "template", "spec", "restartPolicy").ShouldBeOneOf("OnFailure", "Never");
            }

            workload.Text("spec", "template", "spec", "securityContext", "runAsNonRoot").ShouldBe("true");
            foreach (var container in workload.Maps("spec", "template", "spec", "containers"))
            {
                container.Text("image").ShouldNotBeNullOrEmpty();
                foreach (var resource in new[] { "cpu", "memory" })
                {
                    container.Text("resources", "requests", resource).ShouldNotBeNull($"{overlay}: {name} requests no {resource}");
                    container.Text("resources", "limits", resource).ShouldNotBeNull($"{overlay}: {name} has no {resource} limit");
                }

                container.Text("securityContext", "allowPrivilegeEscalation").ShouldBe("false");
                container.Text("securityContext", "readOnlyRootFilesystem").ShouldBe("true");
                var volumes = workload.Maps("spec", "template", "spec", "volumes").Select(v => v.Text("name")).ToList();
                container.Maps("volumeMounts").ShouldAllBe(m => volumes.Contains(m.Text("name")));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void ServicesSelectADeploymentsPodsOnNamedPortsAndNoJobsPods(string overlay)
    {
        var manifests = Manifests.Overlay(overlay);
        foreach (var service in manifests.OfKind("Service"))
        {
            var name = service.Text("metadata", "name");
            var selector = service.Strings("spec", "selector");
            var selected = manifests.OfKind("Deployment").Where(d => Manifests.Selects(selector, d.Strings("spec", "template", "metadata", "labels"))).ToList();
            selected.Count.ShouldBe(1, $"{overlay}: Service {name} selects the pods of {selected.Count} Deployments");
            manifests.OfKind("Job").ShouldNotContain(j => Manifests.Selects(selector, j.Strings("spec", "template", "metadata", "labels")), $"{overlay}: Service {name} selects a Job's pods");

            var containerPorts = selected[0].Maps("spec", "template", "spec", "containers").SelectMany(c => c.Maps("ports")).Select(p => p.Text("name")).ToList();
            foreach (var port in service.Maps("spec", "ports"))
            {
                containerPorts.ShouldContain(port.Text("targetPort"), $"{overlay}: Service {name} targets a port no container names");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void DisruptionBudgetsAndAutoscalersTargetExistingDeployments(string overlay)
    {
        var manifests = Manifests.Overlay(overlay);
        var deployments = manifests.OfKind("Deployment").ToList();
        foreach (var budget in manifests.OfKind("PodDisruptionBudget"))
        {
            var selector = budget.Strings("spec", "selector", "matchLabels");
            deployments.Count(d => Manifests.Selects(selector, d.Strings("spec", "template", "metadata", "labels")))
                .ShouldBe(1, $"{overlay}: PodDisruptionBudget {budget.Text("metadata", "name")}");
            (budget.Text("spec", "maxUnavailable") ?? budget.Text("spec", "minAvailable")).ShouldNotBeNull();
        }

        foreach (var autoscaler in manifests.OfKind("HorizontalPodAutoscaler"))
        {
            var target = autoscaler.Map("spec", "scaleTargetRef")!;
            target.Text("kind").ShouldBe("Deployment");
            var deployment = manifests.Get("Deployment", target.Text("name")!);

            // The autoscaler owns the replica count; the Deployment leaves it unset so that an apply does not reset it.
            deployment.At("spec", "replicas").ShouldBeNull($"{overlay}: {target.Text("name")} sets replicas under an autoscaler");
            Manifests.Container(deployment, "app").Text("resources", "requests", "cpu").ShouldNotBeNull();
            int.Parse(autoscaler.Text("spec", "minReplicas")!, CultureInfo.InvariantCulture).ShouldBeGreaterThanOrEqualTo(2);
            int.Parse(autoscaler.Text("spec", "maxReplicas")!, CultureInfo.InvariantCulture)
                .ShouldBeGreaterThanOrEqualTo(int.Parse(autoscaler.Text("spec", "minReplicas")!, CultureInfo.InvariantCulture));
        }

        foreach (var deployment in deployments.Where(d => d.At("spec", "replicas") is null))
        {
            manifests.OfKind("HorizontalPodAutoscaler").ShouldContain(a => a.Text("spec", "scaleTargetRef", "name") == deployment.Text("metadata", "name"),
                $"{overlay}: {deployment.Text("metadata", "name")} has no replica count and no autoscaler");
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void GrainServicesRunTheirReplicasAsOneOrleansClusterAndOnlyStatelessServicesAutoscale(string overlay)
    {
        var manifests = Manifests.Overlay(overlay);
        var autoscaled = manifests.OfKind("HorizontalPodAutoscaler").Select(a => a.Text("spec", "scaleTargetRef", "name")).ToHashSet(StringComparer.Ordinal);
        var grainServices = 0;
        foreach (var deployment in manifests.OfKind("Deployment"))
        {
            var name = deployment.Text("metadata", "name")!;
            var container = Manifests.Container(deployment, "app");
            var environment = manifests.Environment(container, ServiceHosts.SecretStandIn);
            if (!environment.ContainsKey("Grains__SiloPort"))
            {
                continue;
            }

            grainServices++;
            // Membership in Redis, the pod's address and identity from Kubernetes.
            (environment["Grains__Clustering"], environment["Grains__Kubernetes"]).ShouldBe(("Redis", "true"), name);
            Manifests.SecretReferences(container).ShouldContain(("redis", "connectionString"));
            var labels = deployment.Strings("spec", "template", "metadata", "labels");
            (labels["orleans/serviceId"], labels["orleans/clusterId"]).ShouldBe((environment["Service__Name"], environment["Service__Name"]), name);
            var fields = container.Maps("env").Where(v => v.Text("valueFrom", "fieldRef", "fieldPath") is not null)
                .ToDictionary(v => v.Text("name")!, v => v.Text("valueFrom", "fieldRef", "fieldPath")!, StringComparer.Ordinal);
            fields.ShouldContainKeyAndValue(KubernetesHostingOptions.PodIPEnvironmentVariable, "status.podIP");
            fields.ShouldContainKeyAndValue(KubernetesHostingOptions.PodNameEnvironmentVariable, "metadata.name");
            fields.ShouldContainKeyAndValue(KubernetesHostingOptions.PodNamespaceEnvironmentVariable, "metadata.namespace");
            fields.ShouldContainKeyAndValue(KubernetesHostingOptions.ServiceIdEnvironmentVariable, $"metadata.labels['{KubernetesHostingOptions.ServiceIdLabel}']");
            fields.ShouldContainKeyAndValue(KubernetesHostingOptions.ClusterIdEnvironmentVariable, $"metadata.labels['{KubernetesHostingOptions.ClusterIdLabel}']");

            // Orleans' Kubernetes agent may see and delete the pods of its namespace, through the pod's own service account.
            var account = deployment.Text("spec", "template", "spec", "serviceAccountName").ShouldNotBeNull(name);
            deployment.Text("spec", "template", "spec", "automountServiceAccountToken").ShouldNotBe("false", name);
            manifests.Get("ServiceAccount", account).ShouldNotBeNull();
            var binding = manifests.OfKind("RoleBinding").Single(b => b.Maps("subjects").Any(s => s.Text("kind") == "ServiceAccount" && s.Text("name") == account));
            var rule = manifests.Get("Role", binding.Text("roleRef", "name")!).Maps("rules").Single();
            rule.At("resources").ShouldBeOfType<List<object?>>().ShouldBe(["pods"]);
            rule.At("verbs").ShouldBeOfType<List<object?>>().ShouldBe(["get", "list", "watch", "delete"], ignoreOrder: true);

            // A fixed number of silos, replaced one at a time (a new one joins before an old one leaves).
            autoscaled.ShouldNotContain(name);
            deployment.Text("spec", "strategy", "type").ShouldBe("RollingUpdate", name);
            deployment.Text("spec", "strategy", "rollingUpdate", "maxUnavailable").ShouldBe("0", name);
            if (overlay == "prod")
            {
                int.Parse(deployment.Text("spec", "replicas")!, CultureInfo.InvariantCulture).ShouldBeGreaterThanOrEqualTo(2, $"{name}: one Orleans cluster of several silos");
            }

            // Its migration Job runs a silo of its own for the moment it lasts: it never joins the cluster.
            var job = manifests.Get("Job", $"{name}-migrate");
            var jobEnvironment = manifests.Environment(Manifests.Container(job, "migrate"), ServiceHosts.SecretStandIn);
            (jobEnvironment["Grains__Clustering"], jobEnvironment["Grains__Kubernetes"]).ShouldBe(("Localhost", "false"), $"{name}-migrate");
        }

        grainServices.ShouldBe(2);
        if (overlay == "prod")
        {
            autoscaled.ShouldNotBeEmpty();
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void ReferencedConfigMapsExistAndReferencedSecretsAreDocumented(string overlay)
    {
        var manifests = Manifests.Overlay(overlay);
        var readme = File.ReadAllLines(Path.Combine(Repository.K8s, "README.md"));
        foreach (var container in manifests.Objects.SelectMany(Kustomize.Containers))
        {
            foreach (var source in container.Maps("envFrom"))
            {
                manifests.Find("ConfigMap", source.Text("configMapRef", "name")!).ShouldNotBeNull();
            }

            foreach (var (secret, key) in Manifests.SecretReferences(container))
            {
                readme.ShouldContain(line => line.Contains($"`{secret}`", StringComparison.Ordinal) && line.Contains($"`{key}`", StringComparison.Ordinal),
                    $"k8s/README.md does not document the key {key} of the Secret {secret}");
            }
        }

        foreach (var component in manifests.OfKind("Component"))
        {
            foreach (var reference in component.Maps("spec", "metadata").Select(m => m.Map("secretKeyRef")).OfType<Dictionary<string, object?>>())
            {
                readme.ShouldContain(line => line.Contains($"`{reference.Text("name")}`", StringComparison.Ordinal) && line.Contains($"`{reference.Text("key")}`", StringComparison.Ordinal));
            }
        }
    }

    [Fact]
    public void TheOverlaysDifferAsDocumented()
    {
        var dev = Manifests.Overlay("dev");
        var prod = Manifests.Overlay("prod");

        dev.OfKind("HorizontalPodAutoscaler").ShouldBeEmpty();
        dev.OfKind("Deployment").ShouldAllBe(d => d.Text("spec", "replicas") == "1");
        prod.Get("ConfigMap", "identity").Strings("data").ShouldContainKey("Identity__Authority");
        dev.Get("ConfigMap", "identity").Strings("data").ShouldNotContainKey("Identity__Authority");

        // No cluster gets the demo sign-in (anyone as anyone): it runs only in a loopback-bound Development run, so no overlay hands
        // the portal the key that signs tokens every service trusts. Both sign people in through an OIDC provider.
        foreach (var overlay in new[] { dev, prod })
        {
            Manifests.SecretReferences(Manifests.Container(overlay.Get("Deployment", "portal"), "app")).ShouldNotContain(("service-token", "privateKey"));
        }

        var portal = dev.Get("ConfigMap", "portal-settings").Strings("data");
        var identity = dev.Get("ConfigMap", "identity").Strings("data");
        (portal["Identity__Issuer"], portal["Identity__Audience"]).ShouldBe((identity["Identity__Issuer"], identity["Identity__Audience"]));
        foreach (var name in dev.OfKind("Deployment").Select(d => d.Text("metadata", "name")!))
        {
            var small = Quantity(Manifests.Container(dev.Get("Deployment", name), "app").Text("resources", "limits", "memory")!);
            var large = Quantity(Manifests.Container(prod.Get("Deployment", name), "app").Text("resources", "limits", "memory")!);
            small.ShouldBeLessThan(large, name);
        }
    }

    private static long Quantity(string memory)
    {
        var units = new[] { ("Ki", 1L << 10), ("Mi", 1L << 20), ("Gi", 1L << 30) };
        foreach (var (suffix, factor) in units)
        {
            if (memory.EndsWith(suffix, StringComparison.Ordinal))
            {
                return long.Parse(memory[..^suffix.Length], CultureInfo.InvariantCulture) * factor;
            }
        }

        return long.Parse(memory, CultureInfo.InvariantCulture);
    }
}
