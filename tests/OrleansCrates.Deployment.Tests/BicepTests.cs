using System.Text.Json;
using System.Text.RegularExpressions;

namespace OrleansCrates.Deployment.Tests;

/// <summary>
/// The Bicep under <c>bicep/</c>, compiled and linted with the real Bicep CLI, and what the compiled templates promise:
/// storage without keys, workload identity, a durable Azure Managed Redis whose key only Key Vault holds, Front Door over
/// Private Link probing readiness and caching anonymous downloads only.
/// </summary>
[Collection(BicepCollection.Name)]
public sealed partial class BicepTests(BicepCompilation bicep)
{
    [Fact]
    public void Every_bicep_file_compiles_without_errors_or_warnings()
    {
        Assert.True(bicep.Build.ExitCode == 0, $"bicep build failed: {bicep.Build}");
        Assert.True(bicep.Build.Stderr.Trim().Length == 0, $"bicep build reported diagnostics:\n{bicep.Build.Stderr}");
        var sources = Directory.EnumerateFiles(Repo.Bicep, "*.bicep", SearchOption.AllDirectories)
            .Select(f => Path.ChangeExtension(Path.GetRelativePath(Repo.Bicep, f), null).Replace('\\', '/'))
            .Order(StringComparer.Ordinal).ToList();
        Assert.Contains("main", sources);
        Assert.Equal(sources, bicep.Templates().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Bicep_lint_finds_nothing_and_every_suppression_says_why()
    {
        Assert.True(bicep.Lint.ExitCode == 0, $"bicep lint failed: {bicep.Lint}");
        Assert.True(bicep.LintFindings.Count == 0, "bicep lint:\n" + string.Join("\n", bicep.LintFindings));

        // A finding may only be silenced in place, with the reason on the same line: `#disable-next-line rule // why`.
        var unexplained = Directory.EnumerateFiles(Repo.Bicep, "*.bicep", SearchOption.AllDirectories)
            .SelectMany(f => File.ReadAllLines(f).Select((line, i) => (File: f, Line: i + 1, Text: line.Trim())))
            .Where(l => l.Text.StartsWith("#disable", StringComparison.Ordinal) && !Suppression().IsMatch(l.Text))
            .Select(l => $"{Repo.Relative(l.File)}:{l.Line}: {l.Text}")
            .ToList();
        Assert.True(unexplained.Count == 0, "suppressions without a reason:\n" + string.Join("\n", unexplained));
    }

    [Fact]
    public void Storage_allows_no_shared_key_and_the_silos_reach_it_with_their_federated_identity()
    {
        var account = Arm.Single(bicep.Template("modules/storage"), "Microsoft.Storage/storageAccounts");
        Assert.False(account.Flag("properties", "allowSharedKeyAccess"));
        Assert.False(account.Flag("properties", "allowBlobPublicAccess"));
        Assert.Equal("TLS1_2", account.Text("properties", "minimumTlsVersion"));

        var identity = bicep.Template("modules/identity");
        var federation = Arm.Single(identity, "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials");
        Assert.Equal("[parameters('oidcIssuerUrl')]", federation.Text("properties", "issuer"));
        Assert.Equal("[format('system:serviceaccount:{0}:{1}', parameters('kubernetesNamespace'), parameters('serviceAccountName'))]", federation.Text("properties", "subject"));
        Assert.Equal("api://AzureADTokenExchange", federation.At("properties", "audiences")!.Value[0].GetString());
        var role = Arm.Single(identity, "Microsoft.Authorization/roleAssignments");
        Assert.Equal("ba92f5b4-2d11-453d-a403-e96b0029c9fe", Arm.RoleOf(identity, role)); // Storage Blob Data Contributor
        Assert.Contains("Microsoft.Storage/storageAccounts", role.Text("scope"));
    }

    [Fact]
    public void Every_role_assignment_is_named_with_guid_and_keys_are_listed_only_into_key_vault()
    {
        var templates = bicep.Templates().Select(bicep.Template).ToList();
        var assignments = templates.SelectMany(t => Arm.OfType(t, "Microsoft.Authorization/roleAssignments")).ToList();
        Assert.True(assignments.Count >= 5, $"only {assignments.Count} role assignments");
        Assert.All(assignments, a => Assert.StartsWith("[guid(", a.Text("name")));

        // listKeys() may only feed a Key Vault secret: no output, setting or other resource carries a key.
        foreach (var template in templates)
        {
            var everywhere = Regex.Matches(template.GetRawText(), @"listKeys\(").Count;
            var intoVault = Arm.OfType(template, "Microsoft.KeyVault/vaults/secrets").Sum(s => Regex.Matches(s.GetRawText(), @"listKeys\(").Count);
            Assert.Equal(intoVault, everywhere);
        }

        Assert.DoesNotContain("listKeys(", bicep.Template("main").GetProperty("outputs").GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public void Membership_is_a_durable_azure_managed_redis_whose_connection_string_only_key_vault_holds()
    {
        var redis = bicep.Template("modules/redis");
        Assert.Empty(Arm.OfType(redis, "Microsoft.Cache/redis")); // Azure Cache for Redis: being retired
        Assert.Equal("Enabled", Arm.Single(redis, "Microsoft.Cache/redisEnterprise").Text("properties", "highAvailability"));
        var database = Arm.Single(redis, "Microsoft.Cache/redisEnterprise/databases");
        Assert.True(database.Flag("properties", "persistence", "aofEnabled"));
        Assert.Equal("NoEviction", database.Text("properties", "evictionPolicy"));
        Assert.Equal("Encrypted", database.Text("properties", "clientProtocol"));
        Assert.Equal("Enabled", database.Text("properties", "accessKeysAuthentication"));

        var secret = Arm.Single(redis, "Microsoft.KeyVault/vaults/secrets");
        Assert.Contains("password={", secret.Text("properties", "value"));
        Assert.Contains("listKeys(", secret.Text("properties", "value"));
        Assert.Contains("ssl=True", secret.Text("properties", "value"));

        var vault = Arm.Single(bicep.Template("modules/keyvault"), "Microsoft.KeyVault/vaults");
        Assert.True(vault.Flag("properties", "enableRbacAuthorization"));
        var keyVault = bicep.Template("modules/keyvault");
        var reader = Arm.Single(keyVault, "Microsoft.Authorization/roleAssignments");
        Assert.Equal("4633458b-17de-408a-b874-0445c86b69e6", Arm.RoleOf(keyVault, reader)); // Key Vault Secrets User
    }

    [Fact]
    public void Aks_has_workload_identity_the_key_vault_csi_driver_and_an_autoscaled_silo_pool()
    {
        var cluster = Arm.Single(bicep.Template("modules/aks"), "Microsoft.ContainerService/managedClusters");
        Assert.True(cluster.Flag("properties", "oidcIssuerProfile", "enabled"));
        Assert.True(cluster.Flag("properties", "securityProfile", "workloadIdentity", "enabled"));
        Assert.True(cluster.Flag("properties", "addonProfiles", "azureKeyvaultSecretsProvider", "enabled"));
        Assert.True(cluster.Flag("properties", "disableLocalAccounts"));
        var silos = cluster.At("properties", "agentPoolProfiles")!.Value.EnumerateArray().Single(p => p.Text("name") == "silos");
        Assert.True(silos.Flag("enableAutoScaling"));
        Assert.Equal("User", silos.Text("mode"));
    }

    [Fact]
    public void Front_door_reaches_each_region_over_private_link_probes_readiness_and_caches_only_anonymous_downloads()
    {
        var frontDoor = bicep.Template("modules/frontdoor");
        var group = Arm.Single(frontDoor, "Microsoft.Cdn/profiles/originGroups");
        Assert.Equal("/health/ready", group.Text("properties", "healthProbeSettings", "probePath"));
        var origin = Arm.Single(frontDoor, "Microsoft.Cdn/profiles/originGroups/origins");
        Assert.NotNull(origin.At("properties", "sharedPrivateLinkResource", "privateLink", "id"));
        Assert.Equal("Premium_AzureFrontDoor", Arm.Single(bicep.Template("modules/frontdoor-endpoint"), "Microsoft.Cdn/profiles").Text("sku", "name"));

        var routes = Arm.OfType(frontDoor, "Microsoft.Cdn/profiles/afdEndpoints/routes").ToList();
        Assert.Equal(2, routes.Count);
        var cached = routes.Where(r => RouteProperties(r).TryGetProperty("cacheConfiguration", out _)).ToList();
        var download = Assert.Single(cached);
        var patterns = RouteProperties(download).GetProperty("patternsToMatch").EnumerateArray().Select(p => p.GetString()!).ToList();
        Assert.Equal(["/crates/*", "/private/crates/*"], patterns);
        Assert.False(RouteProperties(download).At("cacheConfiguration", "compressionSettings", "isCompressionEnabled")?.GetBoolean());
        Assert.Contains("ruleSets", RouteProperties(download).GetRawText(), StringComparison.Ordinal);

        // The rule set: first, any request with an Authorization header gets no cache configuration (caching off);
        // then everything else keeps what the origin says, and what says nothing expires at once.
        var rules = Arm.OfType(frontDoor, "Microsoft.Cdn/profiles/ruleSets/rules")
            .OrderBy(r => r.At("properties", "order")!.Value.GetInt32()).ToList();
        var first = rules[0].GetProperty("properties");
        var condition = Assert.Single(first.GetProperty("conditions").EnumerateArray());
        Assert.Equal("RequestHeader", condition.Text("name"));
        Assert.Equal("Authorization", condition.Text("parameters", "selector"));
        Assert.Equal("Any", condition.Text("parameters", "operator"));
        var bypass = Assert.Single(first.GetProperty("actions").EnumerateArray());
        Assert.Equal("RouteConfigurationOverride", bypass.Text("name"));
        Assert.Null(bypass.At("parameters", "cacheConfiguration"));
        Assert.Equal("Stop", first.Text("matchProcessingBehavior"));
        var rest = Assert.Single(rules[1].GetProperty("properties").GetProperty("actions").EnumerateArray());
        Assert.Equal("OverrideIfOriginMissing", rest.Text("parameters", "cacheConfiguration", "cacheBehavior"));
        Assert.Equal("00:00:01", rest.Text("parameters", "cacheConfiguration", "cacheDuration"));
    }

    [Fact]
    public void Front_door_is_the_download_offload_so_the_silos_never_redirect_and_the_edge_keeps_no_redirect()
    {
        // The edge caches immutable 200 downloads; a mirror redirect (Mirror:Downloads:Redirect) would send clients
        // around it to the storage account, so the deployed silos leave it off. Were it on, its 302 says no-store and
        // the anonymous rule only fills in a lifetime where the origin sent none, so no redirect is ever kept.
        foreach (var directory in new[] { Manifests.Base, Manifests.RegionOverlay })
        {
            var settings = Manifests.EnvFile(Path.Combine(directory, "settings.env"));
            Assert.False(
                settings.TryGetValue("Mirror__Downloads__Redirect", out var redirect) && bool.Parse(redirect),
                $"{directory}/settings.env turns on Mirror__Downloads__Redirect behind Front Door");
        }

        var rules = Arm.OfType(bicep.Template("modules/frontdoor"), "Microsoft.Cdn/profiles/ruleSets/rules").ToList();
        Assert.All(
            rules.SelectMany(r => r.GetProperty("properties").GetProperty("actions").EnumerateArray()),
            action => Assert.NotEqual("Override", action.Text("parameters", "cacheConfiguration", "cacheBehavior")));
    }

    [Fact]
    public void Bicep_and_manifests_name_the_same_namespace_account_secret_address_and_private_link_service()
    {
        var main = bicep.Template("main");
        Assert.Equal(Manifests.Kustomization(Manifests.Base).Root.Text("namespace"), Arm.DefaultOf(main, "kubernetesNamespace"));
        Assert.Equal(Manifests.One("ServiceAccount").Name, Arm.DefaultOf(main, "serviceAccountName"));
        Assert.Equal(Manifests.One("Deployment").Root.Text("spec", "template", "spec", "serviceAccountName"), Arm.DefaultOf(main, "serviceAccountName"));

        var service = Manifests.One("Service").Root.Pairs("metadata", "annotations");
        Assert.Equal(service["service.beta.kubernetes.io/azure-pls-name"], Arm.DefaultOf(main, "privateLinkServiceName"));
        var network = bicep.Template("modules/network");
        Assert.Equal(service["service.beta.kubernetes.io/azure-load-balancer-ipv4"], network.Text("outputs", "internalLoadBalancerIp", "value"));
        var subnets = Arm.Single(network, "Microsoft.Network/virtualNetworks").At("properties", "subnets")!.Value.EnumerateArray()
            .ToDictionary(s => s.Text("name")!, s => s.Text("properties", "addressPrefix")!);
        Assert.Contains(service["service.beta.kubernetes.io/azure-load-balancer-internal-subnet"], subnets.Keys);
        Assert.Contains(service["service.beta.kubernetes.io/azure-pls-ip-configuration-subnet"], subnets.Keys);
        var ingress = subnets[service["service.beta.kubernetes.io/azure-load-balancer-internal-subnet"]];
        Assert.True(InSubnet(service["service.beta.kubernetes.io/azure-load-balancer-ipv4"], ingress), $"the load balancer's address is not in {ingress}");

        var objects = Manifests.One("SecretProviderClass").Root.Text("spec", "parameters", "objects")!;
        Assert.Contains($"objectName: {Arm.DefaultOf(main, "redisSecretName")}", objects, StringComparison.Ordinal);
        var alerts = Arm.Single(bicep.Template("modules/keyvault"), "Microsoft.KeyVault/vaults/secrets").Text("name")!;
        var component = Manifests.All().Single(m => m.Kind == "SecretProviderClass" && m.File.Contains("alerts-webhook", StringComparison.Ordinal));
        var secretName = Regex.Match(alerts, @"'(?<name>[a-z0-9-]+)'\)\]$").Groups["name"].Value; // [format('{0}/{1}', parameters('name'), 'NAME')]
        Assert.Contains($"objectName: {secretName}", component.Root.Text("spec", "parameters", "objects")!, StringComparison.Ordinal);
    }

    private static JsonElement RouteProperties(JsonElement route) => route.GetProperty("properties");

    private static bool InSubnet(string address, string cidr) =>
        System.Net.IPNetwork.Parse(cidr).Contains(System.Net.IPAddress.Parse(address));

    [GeneratedRegex(@"^#disable-(next-line|diagnostics)\s+[\w\-\s]+//\s*\S.{9,}")]
    private static partial Regex Suppression();
}
