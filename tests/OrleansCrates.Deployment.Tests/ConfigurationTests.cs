using System.Text.Json;

namespace OrleansCrates.Deployment.Tests;

/// <summary>
/// Every setting the deployment hands the silos — the Bicep's per-region <c>settings</c> output, the manifests'
/// environment variables and the env files kustomize turns into the settings ConfigMap — is a configuration key the app
/// reads, and nothing secret is ever a plain setting: secrets reach the pods from Key Vault only.
/// </summary>
[Collection(BicepCollection.Name)]
public sealed class ConfigurationTests(BicepCompilation bicep)
{
    [Fact]
    public void Every_setting_the_deployment_passes_is_a_configuration_key_the_app_reads()
    {
        var settings = AllSettings().ToList();
        Assert.Contains(settings, s => s.Name == "Cluster__AdvertisedAddress");
        Assert.Contains(settings, s => s.Name == "Storage__AzureBlob__ServiceUri");
        var unknown = settings.Where(s => !AppConfiguration.IsReadByApp(s.Name)).Select(s => $"{s.Source}: {s.Name}").ToList();
        Assert.True(unknown.Count == 0, "settings the app never reads:\n" + string.Join("\n", unknown));
    }

    [Fact]
    public void No_secret_is_a_plain_setting_and_every_secret_comes_from_key_vault()
    {
        var plainSecrets = AllSettings().Where(s => s.Value is not null && AppConfiguration.LooksSecret(s.Name, s.Value))
            .Select(s => $"{s.Source}: {s.Name}").ToList();
        Assert.True(plainSecrets.Count == 0, "secrets as plain settings:\n" + string.Join("\n", plainSecrets));
        Assert.DoesNotContain(Manifests.All(), m => m.Kind == "Secret");

        // Each secret reference names a secret the Key Vault CSI driver creates (SecretProviderClass secretObjects, in the
        // same kustomize base or component) from an object it reads from the vault.
        var references = Manifests.All().Where(m => m.Kind == "Deployment")
            .SelectMany(m => m.Root.Items("spec", "template", "spec", "containers").SelectMany(c => c.Items("env"))
                .Where(e => e.At("valueFrom", "secretKeyRef") is not null).Select(e => (Manifest: m, Env: e)))
            .ToList();
        Assert.Contains(references, r => r.Env.Text("name") == "Cluster__Redis__ConnectionString");
        Assert.Contains(references, r => r.Env.Text("name") == "Alerts__WebhookUrl");
        foreach (var (manifest, env) in references)
        {
            var provider = Manifests.All().Single(m => m.Kind == "SecretProviderClass" && Path.GetDirectoryName(m.File) == Path.GetDirectoryName(manifest.File)).Root;
            var synced = provider.Items("spec", "secretObjects")
                .SelectMany(o => o.Items("data").Select(d => (Secret: o.Text("secretName"), Key: d.Text("key"), Object: d.Text("objectName"))))
                .ToList();
            var (secret, key) = (env.Text("valueFrom", "secretKeyRef", "name"), env.Text("valueFrom", "secretKeyRef", "key"));
            var source = synced.Where(s => s.Secret == secret && s.Key == key).ToList();
            Assert.True(source.Count == 1, $"{manifest}: {env.Text("name")}: secret {secret}/{key} is not made by the SecretProviderClass beside it");
            Assert.Contains($"objectName: {source[0].Object}", provider.Text("spec", "parameters", "objects")!, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_regional_overlay_expects_exactly_what_the_bicep_outputs()
    {
        var region = bicep.Template("main").GetProperty("outputs").GetProperty("regions").GetProperty("copy").GetProperty("input");
        var overlaySettings = Manifests.EnvFile(Path.Combine(Manifests.RegionOverlay, "settings.env"));
        Assert.Equal(Keys(region.GetProperty("settings")), overlaySettings.Keys.Order(StringComparer.Ordinal));

        var identity = Manifests.EnvFile(Path.Combine(Manifests.RegionOverlay, "workload-identity.env"));
        Assert.Equal(Keys(region.GetProperty("workloadIdentity")), identity.Keys.Order(StringComparer.Ordinal));
        var replaced = Manifests.Kustomization(Manifests.RegionOverlay).Root.Items("replacements")
            .Select(r => r.Text("source", "fieldPath")!.Replace("data.", "", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
        Assert.Equal(identity.Keys.Order(StringComparer.Ordinal), replaced);
    }

    [Fact]
    public void The_key_checker_refuses_keys_the_app_does_not_read()
    {
        Assert.True(AppConfiguration.IsReadByApp("Mirror:Upstreams:3:Timeout"));
        Assert.True(AppConfiguration.IsReadByApp("Mirror__Upstreams__0__IndexUrl"));
        Assert.True(AppConfiguration.IsReadByApp("storage:azureblob:container")); // configuration keys ignore case
        Assert.True(AppConfiguration.IsReadByApp("Cluster__Redis__ConnectionString"));
        Assert.True(AppConfiguration.IsReadByApp("Cluster__Membership__NumMissedProbesLimit"));
        Assert.True(AppConfiguration.IsReadByApp("DOTNET_SHUTDOWNTIMEOUTSECONDS"));
        Assert.True(AppConfiguration.IsReadByApp("Cluster__DrainTimeout"));
        Assert.True(AppConfiguration.IsReadByApp("Cluster__GrainCollection__CrateGrainAge")); // this app's setting
        Assert.True(AppConfiguration.IsReadByApp("Cluster__GrainCollection__DeactivationTimeout")); // Orleans' GrainCollectionOptions
        Assert.False(AppConfiguration.IsReadByApp("Cluster__GrainCollection__CrateGrainAgee"));
        Assert.False(AppConfiguration.IsReadByApp("Cluster__Drain"));
        Assert.False(AppConfiguration.IsReadByApp("Storage:AzureBlob:Conainer"));
        Assert.False(AppConfiguration.IsReadByApp("Mirror:Upstreams:first:IndexUrl"));
        Assert.False(AppConfiguration.IsReadByApp("Mirror:Upstreams")); // a section, not a value
        Assert.False(AppConfiguration.IsReadByApp("Alerts:Enabled")); // read-only: never bound
        Assert.False(AppConfiguration.IsReadByApp("Cluster:LeaseDuration")); // gone with the leases
        Assert.False(AppConfiguration.IsReadByApp("Cluster__Membership__ProbeTimeOutt"));
        Assert.False(AppConfiguration.IsReadByApp("Metrics:Nonsense"));
    }

    [Fact]
    public void The_secret_rule_recognises_secrets_by_name_and_by_value()
    {
        Assert.True(AppConfiguration.LooksSecret("Cluster__Redis__ConnectionString", "redis:10000"));
        Assert.True(AppConfiguration.LooksSecret("Storage__AzureBlob__ConnectionString", null));
        Assert.True(AppConfiguration.LooksSecret("Alerts__WebhookUrl", "https://hooks.example.com/T0/B0/x"));
        Assert.True(AppConfiguration.LooksSecret("Telemetry__Otlp__Headers__api-key", "abc"));
        Assert.True(AppConfiguration.LooksSecret("Something__Key", "abc"));
        Assert.True(AppConfiguration.LooksSecret("Cluster__Redis__Host", "h:10000,password=abc"));
        Assert.True(AppConfiguration.LooksSecret("X", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=b"));
        Assert.False(AppConfiguration.LooksSecret("Storage__AzureBlob__ServiceUri", "https://a.blob.core.windows.net/"));
        Assert.False(AppConfiguration.LooksSecret("Mirror__ReadRequiresToken", "true"));
        Assert.False(AppConfiguration.LooksSecret("Cluster__ClusterId", "crates-westeurope"));
    }

    private static IEnumerable<string> Keys(JsonElement element) => element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal);

    /// <summary>Every setting with where it is set; Value is null for a reference (downward API, secret).</summary>
    private IEnumerable<(string Source, string Name, string? Value)> AllSettings()
    {
        foreach (var property in bicep.Template("main").GetProperty("outputs").GetProperty("regions").GetProperty("copy")
                     .GetProperty("input").GetProperty("settings").EnumerateObject())
        {
            yield return ("bicep/main.bicep regions[].settings", property.Name, property.Value.GetString());
        }

        foreach (var directory in new[] { Manifests.Base, Manifests.RegionOverlay })
        {
            foreach (var (generator, path) in Manifests.GeneratorEnvFiles(directory).Where(g => g.Generator == "orleanscrates-settings"))
            {
                foreach (var (name, value) in Manifests.EnvFile(path))
                {
                    yield return (Repo.Relative(path), name, value);
                }
            }
        }

        foreach (var manifest in Manifests.All())
        {
            foreach (var container in manifest.Root.Items("spec", "template", "spec", "containers"))
            {
                foreach (var env in container.Items("env"))
                {
                    // A reference to a secret or to the pod's own fields holds no value here; a ConfigMap entry is plain.
                    var reference = env.At("valueFrom", "secretKeyRef") is not null || env.At("valueFrom", "fieldRef") is not null;
                    yield return (manifest.ToString(), env.Text("name")!, reference ? null : env.Text("value") ?? "");
                }
            }
        }
    }
}
