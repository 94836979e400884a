using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace OrleansCrates.Deployment.Tests;

/// <summary>
/// The silos' manifests under <c>infra/k8s/</c>, parsed with YamlDotNet: what a silo pod needs to join and leave its
/// Orleans cluster cleanly, and what keeps the cluster available while pods come and go.
/// </summary>
public sealed partial class KubernetesManifestTests
{
    [Fact]
    public void Every_manifest_parses_and_every_file_is_in_its_kustomization()
    {
        var all = Manifests.All();
        Assert.All(all, m => Assert.False(string.IsNullOrEmpty(m.Root.Text("apiVersion")), $"{m}: no apiVersion"));
        Assert.All(all, m => Assert.False(string.IsNullOrEmpty(m.Kind), $"{m}: no kind"));

        foreach (var directory in new[] { Manifests.Base, Manifests.RegionOverlay })
        {
            var kustomization = Manifests.Kustomization(directory);
            var listed = kustomization.Root.Items("resources").Select(r => ((YamlScalarNode)r).Value!).ToList();
            Assert.All(listed, r => Assert.True(Path.Exists(Path.Combine(directory, r)), $"{kustomization}: {r} does not exist"));
            var files = Directory.EnumerateFiles(directory, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml");
            Assert.All(files, f => Assert.Contains(f, listed));
            Assert.All(Manifests.GeneratorEnvFiles(directory), g => Assert.True(File.Exists(g.Path), $"{g.Path} is missing"));
        }

        foreach (var component in all.Where(m => m.Kind == "Component"))
        {
            var directory = Path.GetDirectoryName(component.File)!;
            var patches = component.Root.Items("patches").Select(p => p.Text("path")!).ToList();
            var files = Directory.EnumerateFiles(directory, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").ToList();
            Assert.Equal(files.Order(StringComparer.Ordinal), patches.Order(StringComparer.Ordinal));
        }

        var kinds = all.Where(m => Path.GetDirectoryName(m.File) == Manifests.Base).Select(m => m.Kind).ToHashSet();
        Assert.Superset(
            new HashSet<string> { "Namespace", "ServiceAccount", "SecretProviderClass", "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy" },
            kinds);
    }

    [Fact]
    public void A_silo_advertises_its_pod_ip_and_exposes_the_ports_its_settings_and_the_image_name()
    {
        var silo = Manifests.SiloContainer();
        var advertised = silo.Items("env").Single(e => e.Text("name") == "Cluster__AdvertisedAddress");
        Assert.Equal("status.podIP", advertised.Text("valueFrom", "fieldRef", "fieldPath"));

        var ports = silo.Items("ports").ToDictionary(p => p.Text("name")!, p => p.Number("containerPort"));
        var settings = Manifests.EnvFile(Path.Combine(Manifests.Base, "settings.env"));
        Assert.Equal(8080, ports["http"]);
        Assert.Equal(int.Parse(settings["Cluster__SiloPort"], CultureInfo.InvariantCulture), ports["silo"]);
        Assert.Equal(int.Parse(settings["Cluster__GatewayPort"], CultureInfo.InvariantCulture), ports["gateway"]);
        Assert.Equal(int.Parse(settings["Cluster__InternalHttpPort"], CultureInfo.InvariantCulture), ports["internal"]);
        Assert.Equal("Redis", settings["Cluster__Provider"]);

        var dockerfile = File.ReadAllLines(Repo.Dockerfile);
        var exposed = dockerfile.Where(l => l.StartsWith("EXPOSE ", StringComparison.Ordinal))
            .SelectMany(l => l["EXPOSE ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(p => (int?)int.Parse(p, CultureInfo.InvariantCulture)).ToHashSet();
        Assert.Superset(exposed, ports.Values.ToHashSet());
        Assert.Contains(dockerfile, l => l.Contains("ASPNETCORE_URLS=http://+:8080", StringComparison.Ordinal));
        Assert.Equal("http", Manifests.One("Service").Root.Items("spec", "ports").Single().Text("targetPort"));
    }

    [Fact]
    public void The_internal_http_port_is_published_by_no_service_and_admits_only_the_silos()
    {
        var settings = Manifests.EnvFile(Path.Combine(Manifests.Base, "settings.env"));
        var internalPort = int.Parse(settings["Cluster__InternalHttpPort"], CultureInfo.InvariantCulture);
        foreach (var service in Manifests.All().Where(m => m.Kind == "Service"))
        {
            Assert.All(service.Root.Items("spec", "ports"), p =>
            {
                Assert.NotEqual("internal", p.Text("targetPort"));
                Assert.NotEqual(internalPort.ToString(CultureInfo.InvariantCulture), p.Text("targetPort"));
            });
        }

        var deployment = Manifests.One("Deployment").Root;
        var podLabels = deployment.Pairs("spec", "template", "metadata", "labels");
        var policy = Manifests.One("NetworkPolicy").Root;
        Assert.Subset(podLabels.ToHashSet(), policy.Pairs("spec", "podSelector", "matchLabels").ToHashSet());
        Assert.Contains("Ingress", policy.Items("spec", "policyTypes").Select(t => ((YamlScalarNode)t).Value));
        var rules = policy.Items("spec", "ingress").ToList();

        // Every container port is admitted by some rule (nothing the silos need is cut off), and the internal one only
        // from the silos' own pods.
        var ports = Manifests.SiloContainer().Items("ports").Select(p => p.Text("name")!).ToList();
        Assert.All(ports, name => Assert.Contains(rules, r => r.Items("ports").Any(p => p.Text("port") == name)));
        var admitting = rules.Where(r => r.Items("ports").Any(p => p.Text("port") == "internal")).ToList();
        Assert.All(admitting, r =>
        {
            var from = r.Items("from").ToList();
            Assert.NotEmpty(from);
            Assert.All(from, f => Assert.Subset(podLabels.ToHashSet(), f.Pairs("podSelector", "matchLabels").ToHashSet()));
        });
    }

    [Fact]
    public void Probes_watch_readiness_and_liveness_and_a_leaving_silo_drains_before_it_is_killed()
    {
        var silo = Manifests.SiloContainer();
        Assert.Equal("/health/ready", silo.Text("readinessProbe", "httpGet", "path"));
        Assert.Equal("/health/live", silo.Text("livenessProbe", "httpGet", "path"));
        Assert.Equal("/health/live", silo.Text("startupProbe", "httpGet", "path"));

        // preStop pauses while the pod leaves the load balancer; then SIGTERM and the host's shutdown timeout drain the
        // in-flight work; the grace period must cover both, or the kubelet kills the silo mid-drain.
        var pause = silo.Number("lifecycle", "preStop", "sleep", "seconds");
        Assert.True(pause is >= 5, "preStop must pause while the pod leaves the load balancer");
        var drain = int.Parse(Manifests.EnvFile(Path.Combine(Manifests.Base, "settings.env"))["DOTNET_SHUTDOWNTIMEOUTSECONDS"], CultureInfo.InvariantCulture);
        Assert.True(drain >= 60, "the drain must outlast a large download");
        var grace = Manifests.One("Deployment").Root.Number("spec", "template", "spec", "terminationGracePeriodSeconds");
        Assert.True(grace >= pause + drain + 10, $"terminationGracePeriodSeconds {grace} < preStop {pause} + shutdown {drain} + 10");
        Assert.Equal("0", Manifests.One("Deployment").Root.Text("spec", "strategy", "rollingUpdate", "maxUnavailable"));
    }

    [Fact]
    public void A_disruption_budget_and_an_autoscaler_cover_the_silos()
    {
        var deployment = Manifests.One("Deployment").Root;
        var podLabels = deployment.Pairs("spec", "template", "metadata", "labels");
        Assert.Subset(podLabels.ToHashSet(), deployment.Pairs("spec", "selector", "matchLabels").ToHashSet());

        var budget = Manifests.One("PodDisruptionBudget").Root;
        Assert.Subset(podLabels.ToHashSet(), budget.Pairs("spec", "selector", "matchLabels").ToHashSet());
        Assert.Equal("1", budget.Text("spec", "maxUnavailable"));

        var autoscaler = Manifests.One("HorizontalPodAutoscaler").Root;
        Assert.Equal("autoscaling/v2", autoscaler.Text("apiVersion"));
        Assert.Equal(("Deployment", Manifests.One("Deployment").Name), (autoscaler.Text("spec", "scaleTargetRef", "kind"), autoscaler.Text("spec", "scaleTargetRef", "name")));
        Assert.True(autoscaler.Number("spec", "minReplicas") >= 2);
        Assert.True(autoscaler.Number("spec", "maxReplicas") > autoscaler.Number("spec", "minReplicas"));
        var cpu = autoscaler.Items("spec", "metrics").Single(m => m.Text("resource", "name") == "cpu");
        Assert.Equal("Utilization", cpu.Text("resource", "target", "type"));
        // Utilization is measured against the request: without one the autoscaler cannot work.
        Assert.NotNull(Manifests.SiloContainer().Text("resources", "requests", "cpu"));
    }

    [Fact]
    public void The_pods_sign_in_with_workload_identity_and_mount_the_key_vault_secrets()
    {
        var deployment = Manifests.One("Deployment").Root;
        var account = Manifests.One("ServiceAccount");
        Assert.Equal(account.Name, deployment.Text("spec", "template", "spec", "serviceAccountName"));
        Assert.Contains("azure.workload.identity/client-id", account.Root.Pairs("metadata", "annotations").Keys);
        Assert.Equal("true", deployment.Pairs("spec", "template", "metadata", "labels")["azure.workload.identity/use"]);

        var provider = Manifests.One("SecretProviderClass");
        Assert.Equal("azure", provider.Root.Text("spec", "provider"));
        Assert.Equal("false", provider.Root.Text("spec", "parameters", "usePodIdentity"));
        var volume = deployment.Items("spec", "template", "spec", "volumes").Single(v => v.At("csi") is not null);
        Assert.Equal("secrets-store.csi.k8s.io", volume.Text("csi", "driver"));
        Assert.Equal(provider.Name, volume.Text("csi", "volumeAttributes", "secretProviderClass"));
        Assert.Contains(Manifests.SiloContainer().Items("volumeMounts"), m => m.Text("name") == volume.Text("name"));

        // The regional overlay fills in the identity and the vault: every replacement hits a resource of the base, and
        // nothing is left as the base's placeholder.
        var selected = Manifests.Kustomization(Manifests.RegionOverlay).Root.Items("replacements").SelectMany(r => r.Items("targets")).ToList();
        Assert.All(selected, t => Assert.Contains(Manifests.All(), m => m.Kind == t.Text("select", "kind") && m.Name == t.Text("select", "name")));
        var targets = selected.SelectMany(t => t.Items("fieldPaths").Select(f => ((YamlScalarNode)f).Value!)).ToHashSet();
        var placeholders = Manifests.All().Where(m => Path.GetDirectoryName(m.File) == Manifests.Base)
            .SelectMany(m => Placeholders(m.Root, "")).ToList();
        Assert.NotEmpty(placeholders);
        Assert.All(placeholders, p => Assert.Contains(p, targets));
    }

    /// <summary>The paths (kustomize fieldPath syntax) of every <c>SET-BY-OVERLAY</c> value.</summary>
    private static IEnumerable<string> Placeholders(YamlNode node, string path) => node switch
    {
        YamlScalarNode { Value: "SET-BY-OVERLAY" } => [path],
        YamlMappingNode map => map.Children.SelectMany(c =>
        {
            var key = ((YamlScalarNode)c.Key).Value!;
            var step = PlainKey().IsMatch(key) ? key : $"[{key}]";
            return Placeholders(c.Value, path.Length == 0 ? step : $"{path}.{step}");
        }),
        _ => [],
    };

    [GeneratedRegex(@"^[A-Za-z0-9_-]+$")]
    private static partial Regex PlainKey();
}
