using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>The private registry through the real cargo: publish, build, yank, owners, search, failures, read access.</summary>
public sealed class PrivateRegistryTests : IAsyncLifetime
{
    private const string CratesIoIndex = "https://github.com/rust-lang/crates.io-index";
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-private-").FullName;
    private readonly List<IAsyncDisposable> _disposables = [];
    private readonly List<CargoProject> _clients = [];
    private readonly HttpClient _http = new();
    private FakeUpstream _upstream = null!;

    private string Root => Path.Combine(_sandbox, "store");

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync(Graph);

    public async Task DisposeAsync()
    {
        foreach (var disposable in _disposables)
        {
            await disposable.DisposeAsync();
        }

        _clients.ForEach(c => c.Dispose());
        await _upstream.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_sandbox, recursive: true);
    }

    /// <summary>
    /// On one node, and on a Redis-clustered pair where every step goes to the other node than the one before: what
    /// one node's crate grain committed is what the next node serves at once (cargo resolves a version through node 2
    /// right after publishing it through node 1).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Publish_build_yank_owners_and_search_work_with_plain_cargo(bool clustered)
    {
        var (first, second) = await StartNodesAsync(clustered);
        var alice = await ServerCli.CreateTokenAsync(Root, "alice");
        await ServerCli.CreateTokenAsync(Root, "bob");
        var viaFirst = Client(first, alice);
        var viaSecond = clustered ? Client(second, alice) : viaFirst;

        var util = PublishableCrate.Write(_sandbox, "acme-util", "0.1.0");
        var core = PublishableCrate.Write(_sandbox, "acme-core", "0.1.0",
            ["acme-util = { version = \"0.1\", registry = \"internal\" }", "abc = \"1.1\""],
            $"pub fn hello() -> u32 {{ acme_util::hello() + abc::{Graph.Get("abc", "1.1.0").FunctionName}() }}\n");
        await ExpectSuccessAsync(viaFirst, util, first, "publish", "--registry", "internal", "--no-verify");
        await ExpectSuccessAsync(viaSecond, core, second, "publish", "--registry", "internal", "--no-verify"); // its dependency, published through the other node

        // The index line says where each dependency lives: the same registry (null) or crates.io (the mirror).
        var line = await IndexLineAsync(first, "ac/me/acme-core", "0.1.0");
        var deps = line.GetProperty("deps").EnumerateArray().ToDictionary(d => d.GetProperty("name").GetString()!);
        Assert.Equal(JsonValueKind.Null, deps["acme-util"].GetProperty("registry").ValueKind);
        Assert.Equal(CratesIoIndex, deps["abc"].GetProperty("registry").GetString());

        // A consumer builds against the private crate, whose crates.io dependency comes through the mirror.
        var consumer = WriteConsumer("acme-app", "acme-core = { version = \"0.1\", registry = \"internal\" }", "fn main() { println!(\"{}\", acme_core::hello()); }\n");
        await ExpectSuccessAsync(viaFirst, consumer, first, "build");
        var lockfile = File.ReadAllText(Path.Combine(consumer, "Cargo.lock"));
        Assert.Contains($"source = \"sparse+{first.BaseUri}private/index/\"", lockfile, StringComparison.Ordinal);
        Assert.Contains($"source = \"registry+{CratesIoIndex}\"", lockfile, StringComparison.Ordinal);

        await ExpectSuccessAsync(viaSecond, consumer, second, "yank", "--registry", "internal", "acme-core@0.1.0");
        Assert.True((await IndexLineAsync(first, "ac/me/acme-core", "0.1.0")).GetProperty("yanked").GetBoolean());
        await ExpectSuccessAsync(viaFirst, consumer, first, "yank", "--registry", "internal", "--undo", "acme-core@0.1.0");
        Assert.False((await IndexLineAsync(second, "ac/me/acme-core", "0.1.0")).GetProperty("yanked").GetBoolean());

        await ExpectSuccessAsync(viaSecond, consumer, second, "owner", "--registry", "internal", "--add", "bob", "acme-core");
        var listed = await ExpectSuccessAsync(viaFirst, consumer, first, "owner", "--registry", "internal", "--list", "acme-core");
        Assert.Contains("alice", listed.Output, StringComparison.Ordinal);
        Assert.Contains("bob", listed.Output, StringComparison.Ordinal);
        await ExpectSuccessAsync(viaFirst, consumer, first, "owner", "--registry", "internal", "--remove", "bob", "acme-core");
        listed = await ExpectSuccessAsync(viaSecond, consumer, second, "owner", "--registry", "internal", "--list", "acme-core");
        Assert.DoesNotContain("bob", listed.Output, StringComparison.Ordinal);

        var search = await ExpectSuccessAsync(viaSecond, consumer, second, "search", "--registry", "internal", "acme");
        Assert.Contains("acme-core = \"0.1.0\"", search.StdOut, StringComparison.Ordinal);
        Assert.Contains("acme-util = \"0.1.0\"", search.StdOut, StringComparison.Ordinal);

        if (clustered)
        {
            // Published through node 1, resolved through node 2 at once: a new version, and a consumer with nothing cached.
            await ExpectSuccessAsync(viaFirst, PublishableCrate.Write(_sandbox, "acme-util", "0.1.1"), first, "publish", "--registry", "internal", "--no-verify");
            var fresh = WriteConsumer("acme-fresh", "acme-util = { version = \"=0.1.1\", registry = \"internal\" }", "fn main() { println!(\"{}\", acme_util::hello()); }\n");
            await ExpectSuccessAsync(viaSecond, fresh, second, "build");
            Assert.Contains($"source = \"sparse+{second.BaseUri}private/index/\"", File.ReadAllText(Path.Combine(fresh, "Cargo.lock")), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Publishing_failures_reach_cargo_with_the_right_status_and_message()
    {
        var node = await StartNodeAsync(("Registry__Private__MaxCrateBytes", "65536"));
        var alice = await ServerCli.CreateTokenAsync(Root, "alice");
        var bob = await ServerCli.CreateTokenAsync(Root, "bob");
        var carol = await ServerCli.CreateTokenAsync(Root, "carol");
        var cargo = Client(node, alice);
        var util = PublishableCrate.Write(_sandbox, "acme-util", "0.1.0");
        await ExpectSuccessAsync(cargo, util, node, "publish", "--registry", "internal", "--no-verify");

        // cargo sees the version in the index and refuses before uploading (the server's own duplicate check, for
        // clients that do upload, is covered in OrleansCrates.Registry.Tests).
        await ExpectFailureAsync(cargo, util, null, "already exists");
        // Names cargo packages but crates.io's rules refuse: too long, and non-ASCII. (The non-ASCII letter sits past the
        // 4th byte: cargo 1.95 itself panics building the index path when a byte cut lands inside a character.)
        await ExpectFailureAsync(cargo, PublishableCrate.Write(_sandbox, new string('a', 65), "0.1.0"), "400", "name");
        await ExpectFailureAsync(cargo, PublishableCrate.Write(_sandbox, "acme-caf\u00e9", "0.1.0"), "400", "name");
        await ExpectFailureAsync(cargo, PublishableCrate.Write(_sandbox, "std", "0.1.0"), "400", "reserved");
        await ExpectFailureAsync(cargo, PublishableCrate.Write(_sandbox, "acme-big", "0.1.0", extraFileBytes: 200_000), "413", "");

        cargo.Environment["CARGO_REGISTRIES_INTERNAL_TOKEN"] = "ocr_not-a-token-anyone-was-given";
        await ExpectFailureAsync(cargo, PublishableCrate.Write(_sandbox, "acme-x", "0.1.0"), "403", "token");

        var revoked = await ServerCli.RunAsync(StorageEnv(), ["token", "list", "--json"]);
        var carolId = revoked.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).Single(t => t.GetProperty("user").GetString() == "carol").GetProperty("id").GetString()!;
        Assert.Equal(0, (await ServerCli.RunAsync(StorageEnv(), ["token", "revoke", carolId])).ExitCode);
        cargo.Environment["CARGO_REGISTRIES_INTERNAL_TOKEN"] = carol;
        await ExpectFailureAsync(cargo, PublishableCrate.Write(_sandbox, "acme-y", "0.1.0"), "403", "token");

        cargo.Environment["CARGO_REGISTRIES_INTERNAL_TOKEN"] = bob;
        await ExpectFailureAsync(cargo, PublishableCrate.Write(_sandbox, "acme-util", "0.2.0"), "403", "owner");

        // Nothing of the failed attempts is visible.
        var index = await _http.GetStringAsync(new Uri(node.BaseUri, "private/index/ac/me/acme-util"));
        Assert.Single(index.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(new Uri(node.BaseUri, "private/index/3/s/std"))).StatusCode);
    }

    [Fact]
    public async Task Read_restricted_registry_needs_a_token_and_honours_its_crate_patterns()
    {
        var node = await StartNodeAsync(("Registry__Private__ReadRequiresToken", "true"));
        var alice = await ServerCli.CreateTokenAsync(Root, "alice");
        var reader = await ServerCli.CreateTokenAsync(Root, "client-a", "read", "acme-*");
        var publisher = Client(node, alice);
        await ExpectSuccessAsync(publisher, PublishableCrate.Write(_sandbox, "acme-util", "0.1.0"), node, "publish", "--registry", "internal", "--no-verify");
        await ExpectSuccessAsync(publisher, PublishableCrate.Write(_sandbox, "other-lib", "0.1.0"), node, "publish", "--registry", "internal", "--no-verify");

        var config = JsonDocument.Parse(await GetWithTokenAsync(node, "private/index/config.json", alice));
        Assert.True(config.RootElement.GetProperty("auth-required").GetBoolean());

        var consumer = WriteConsumer("reader-app", "acme-util = { version = \"0.1\", registry = \"internal\" }", "fn main() { println!(\"{}\", acme_util::hello()); }\n");
        var client = Client(node, reader);
        await ExpectSuccessAsync(client, consumer, node, "build");

        client.UseFreshCargoHome();
        client.Environment.Remove("CARGO_REGISTRIES_INTERNAL_TOKEN");
        File.Delete(Path.Combine(consumer, "Cargo.lock"));
        var anonymous = await client.RunInAsync(consumer, ["generate-lockfile"]);
        Assert.NotEqual(0, anonymous.ExitCode);
        Assert.Contains("token", anonymous.Output, StringComparison.OrdinalIgnoreCase);

        client.Environment["CARGO_REGISTRIES_INTERNAL_TOKEN"] = reader;
        var outside = WriteConsumer("outside-app", "other-lib = { version = \"0.1\", registry = \"internal\" }", "fn main() {}\n");
        var refused = await client.RunInAsync(outside, ["generate-lockfile"]);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("other-lib", refused.Output, StringComparison.Ordinal);
        using var direct = new HttpRequestMessage(HttpMethod.Get, new Uri(node.BaseUri, "private/index/ot/he/other-lib"));
        direct.Headers.TryAddWithoutValidation("Authorization", reader);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(direct)).StatusCode); // existence does not leak
    }

    [Fact]
    public async Task Unauthenticated_reads_get_cargos_challenge_and_every_credential_form_works()
    {
        var node = await StartNodeAsync(("Registry__Private__ReadRequiresToken", "true"), ("Mirror__ReadRequiresToken", "true"));
        var reader = await ServerCli.CreateTokenAsync(Root, "client-b", "read");

        foreach (var path in new[] { "private/index/config.json", "index/config.json", "index/3/a/abc", "crates/abc/1.1.0/download" })
        {
            using var anonymous = await _http.GetAsync(new Uri(node.BaseUri, path));
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            var challenge = Assert.Single(anonymous.Headers.WwwAuthenticate);
            Assert.Equal("Cargo", challenge.Scheme);
            Assert.Equal($"login_url=\"{node.BaseUri}private/me\"", challenge.Parameter);
        }

        foreach (var header in new[] { reader, $"Bearer {reader}", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"client-b:{reader}")) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node.BaseUri, "index/3/a/abc"));
            request.Headers.TryAddWithoutValidation("Authorization", header);
            using var response = await _http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var mirrorConfig = JsonDocument.Parse(await GetWithTokenAsync(node, "index/config.json", reader));
        Assert.True(mirrorConfig.RootElement.GetProperty("auth-required").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri(node.BaseUri, "private/me"))).StatusCode);
    }

    /// <summary>
    /// Two processes publishing to one crate at once: as two one-silo clusters (the storage fences alone keep both
    /// versions) and as a Redis-clustered pair (the crate's one grain writes both, one after the other).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Two_nodes_publishing_to_one_crate_at_once_both_land(bool clustered)
    {
        var (first, second) = clustered ? await StartNodesAsync(clustered: true) : (await StartNodeAsync(), await StartNodeAsync());
        var alice = await ServerCli.CreateTokenAsync(Root, "alice");
        var viaFirst = Client(first, alice);
        var viaSecond = Client(second, alice);

        var results = await Task.WhenAll(
            viaFirst.RunInAsync(PublishableCrate.Write(_sandbox, "acme-race", "0.1.0"), ["publish", "--registry", "internal", "--no-verify"]),
            viaSecond.RunInAsync(PublishableCrate.Write(_sandbox, "acme-race", "0.2.0"), ["publish", "--registry", "internal", "--no-verify"]));

        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.Output));
        foreach (var node in new[] { first, second })
        {
            var versions = (await _http.GetStringAsync(new Uri(node.BaseUri, "private/index/ac/me/acme-race")))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("vers").GetString());
            Assert.Equal(["0.1.0", "0.2.0"], versions.Order());
        }
    }

    [Fact]
    public async Task A_private_name_shadows_the_public_crate_on_the_mirror_and_downloads_are_recorded()
    {
        var node = await StartNodeAsync();
        var admin = await ServerCli.CreateTokenAsync(Root, "root", "admin");
        var alice = await ServerCli.CreateTokenAsync(Root, "alice");
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri(node.BaseUri, "index/3/a/abc"))).StatusCode);

        // "abc" exists upstream: only an admin may claim it (HardeningTests covers the refusal); once a private crate
        // takes the name, the mirror stops serving the public one.
        await ExpectSuccessAsync(Client(node, admin), PublishableCrate.Write(_sandbox, "abc", "9.0.0"), node, "publish", "--registry", "internal", "--no-verify");
        await WaitUntilAsync(async () => (await _http.GetAsync(new Uri(node.BaseUri, "index/3/a/abc"))).StatusCode == HttpStatusCode.NotFound, "the mirror to stop serving upstream 'abc' (private-name cache expiry)");
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(new Uri(node.BaseUri, "crates/abc/1.1.0/download"))).StatusCode);

        using (var download = new HttpRequestMessage(HttpMethod.Get, new Uri(node.BaseUri, "private/crates/abc/9.0.0/download")))
        {
            download.Headers.TryAddWithoutValidation("Authorization", alice);
            Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(download)).StatusCode);
        }

        // Records are batched and flushed periodically; the admin API reads what every node flushed.
        await WaitUntilAsync(async () => (await GetWithTokenAsync(node, "private/api/v1/admin/downloads", admin)).Contains("\"abc\"", StringComparison.Ordinal), "the download record to be flushed");
        var records = JsonDocument.Parse(await GetWithTokenAsync(node, "private/api/v1/admin/downloads", admin)).RootElement.GetProperty("downloads");
        var record = Assert.Single(records.EnumerateArray());
        Assert.Equal("alice", record.GetProperty("user").GetString());
        Assert.Equal("9.0.0", record.GetProperty("version").GetString());
        using var notAdmin = new HttpRequestMessage(HttpMethod.Get, new Uri(node.BaseUri, "private/api/v1/admin/downloads"));
        notAdmin.Headers.TryAddWithoutValidation("Authorization", alice);
        Assert.Equal(HttpStatusCode.Forbidden, (await _http.SendAsync(notAdmin)).StatusCode);
    }

    /// <summary>One node (returned twice), or a Redis-clustered pair of nodes on the same store, both silos active.</summary>
    private async Task<(MirrorProcess First, MirrorProcess Second)> StartNodesAsync(bool clustered)
    {
        if (!clustered)
        {
            var node = await StartNodeAsync();
            return (node, node);
        }

        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var redis = await RedisProcess.StartAsync(deadline.Token);
        MirrorCluster pair;
        try
        {
            pair = await MirrorCluster.StartAsync(2, _upstream.IndexUrl, ClusterStorage.FileSystem(Root), redis, cancellationToken: deadline.Token);
        }
        catch
        {
            await redis.DisposeAsync();
            throw;
        }

        _disposables.Add(pair);
        _disposables.Add(redis); // after the silos: they leave the cluster slowly without it
        await pair.WaitForActiveSilosAsync(pair[0], 2, deadline.Token);
        return (pair[0], pair[1]);
    }

    private async Task<MirrorProcess> StartNodeAsync(params (string Key, string Value)[] settings)
    {
        var node = await MirrorProcess.StartAsync(_upstream.IndexUrl, Root, settings.ToDictionary(s => s.Key, s => s.Value));
        _disposables.Add(node);
        return node;
    }

    private Dictionary<string, string> StorageEnv() => new() { ["Storage__FileSystem__Root"] = Root };

    private CargoProject Client(MirrorProcess node, string token)
    {
        var client = CargoProject.Create(node.IndexUrl, Graph, netRetry: 0);
        client.AddConfig($"""
            [registries.internal]
            index = "sparse+{node.BaseUri}private/index/"

            [registry]
            global-credential-providers = ["cargo:token"]
            """);
        client.Environment["CARGO_REGISTRIES_INTERNAL_TOKEN"] = token;
        _clients.Add(client);
        return client;
    }

    private string WriteConsumer(string name, string dependency, string mainRs)
    {
        var dir = Path.Combine(_sandbox, name);
        Directory.CreateDirectory(Path.Combine(dir, "src"));
        File.WriteAllText(Path.Combine(dir, "Cargo.toml"), $"""
            [package]
            name = "{name}"
            version = "0.1.0"
            edition = "2021"
            publish = false

            [dependencies]
            {dependency}
            """);
        File.WriteAllText(Path.Combine(dir, "src", "main.rs"), mainRs);
        return dir;
    }

    private async Task<JsonElement> IndexLineAsync(MirrorProcess node, string path, string version)
    {
        var file = await _http.GetStringAsync(new Uri(node.BaseUri, "private/index/" + path));
        return file.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Single(l => l.GetProperty("vers").GetString() == version);
    }

    private async Task<string> GetWithTokenAsync(MirrorProcess node, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node.BaseUri, path));
        request.Headers.TryAddWithoutValidation("Authorization", token);
        using var response = await _http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"GET {path} answered {(int)response.StatusCode}");
        return await response.Content.ReadAsStringAsync();
    }

    private static async Task<CargoResult> ExpectSuccessAsync(CargoProject cargo, string dir, MirrorProcess node, params string[] args)
    {
        var result = await cargo.RunInAsync(dir, args);
        Assert.True(result.ExitCode == 0, $"cargo {string.Join(' ', args)} failed ({result.ExitCode}):\n{result.Output}\nnode said:\n{node.Output}");
        return result;
    }

    private static async Task ExpectFailureAsync(CargoProject cargo, string dir, string? status, string detail)
    {
        var result = await cargo.RunInAsync(dir, ["publish", "--registry", "internal", "--no-verify"]);
        Assert.True(result.ExitCode == 101, $"expected cargo to fail with 101 publishing {dir}, got {result.ExitCode}:\n{result.Output}");
        Assert.True(status is null || result.Output.Contains($"status {status}", StringComparison.Ordinal), $"expected status {status} publishing {dir}:\n{result.Output}");
        Assert.True(result.Output.Contains(detail, StringComparison.OrdinalIgnoreCase), $"expected '{detail}' publishing {dir}:\n{result.Output}");
    }

    /// <summary>Polls with a deadline, for state the system makes true on its own schedule (batch flushes, short caches).</summary>
    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(250);
        }
    }
}
