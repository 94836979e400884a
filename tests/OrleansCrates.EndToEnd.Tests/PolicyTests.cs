using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// Curation through the real cargo: allow and deny lists prune the served index so cargo fails at resolution naming
/// the crate, and approval mode across two nodes sharing one store (CLI and admin API decisions, seen at once).
/// </summary>
public sealed class PolicyTests : IAsyncLifetime
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-policy-").FullName;
    private readonly List<IAsyncDisposable> _disposables = [];
    private readonly List<CargoProject> _clients = [];
    private readonly HttpClient _http = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None });
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

    [Fact]
    public async Task Allowed_denied_and_unlisted_crates_as_cargo_sees_them()
    {
        var node = await StartNodeAsync(
            ("Mirror__Policy__Allow__0", "a"),
            ("Mirror__Policy__Allow__1", "ab*"),
            ("Mirror__Policy__Deny__0", "abcd"),
            ("Mirror__Policy__Deny__1", "abc@>=1.1"));
        var cargo = Client(node);

        // Allowed: resolution skips the denied versions (abc 1.1.0, 1.2.0) and the files come through the mirror.
        var allowed = WriteConsumer("allowed-app", "abc = \"1\"\nab = \"0.1\"\na = \"1\"");
        var resolved = await ExpectSuccessAsync(cargo, allowed, node, "generate-lockfile");
        var locked = Locked(allowed).ToDictionary(p => p.Name, p => (p.Version, p.Checksum));
        Assert.Equal(("1.0.0", Graph.Get("abc", "1.0.0").Sha256), locked["abc"]);
        Assert.Equal(("0.1.1", Graph.Get("ab", "0.1.1").Sha256), locked["ab"]);
        Assert.Equal(("1.1.0", Graph.Get("a", "1.1.0").Sha256), locked["a"]);
        await ExpectSuccessAsync(cargo, allowed, node, "fetch");
        Assert.DoesNotContain("abc v1.1.0", resolved.Output, StringComparison.Ordinal);

        // Some versions denied: cargo names the requirement and the versions it could see.
        var tooNew = await ExpectResolutionFailureAsync(cargo, "denied-version-app", "abc = \"1.1\"", node);
        Assert.Contains("failed to select a version for the requirement `abc = \"^1.1\"`", tooNew, StringComparison.Ordinal);
        Assert.Contains("candidate versions found which didn't match: 1.0.0", tooNew, StringComparison.Ordinal);

        // Denied by name (deny wins over the allow entry ab*), and not on the allow-list: no such package, at resolution.
        var denied = await ExpectResolutionFailureAsync(cargo, "denied-app", "abcd = \"2\"", node);
        Assert.Contains("no matching package named `abcd` found", denied, StringComparison.Ordinal);
        var unlisted = await ExpectResolutionFailureAsync(cargo, "unlisted-app", "opt-helper = \"1\"", node);
        Assert.Contains("no matching package named `opt-helper` found", unlisted, StringComparison.Ordinal);
        Assert.Equal(0, _upstream.IndexRequests("abcd")); // hidden whole crates never reach upstream
        Assert.Equal(0, _upstream.IndexRequests("opt-helper"));

        // The served file is upstream's lines for the visible versions, byte for byte, with its own strong ETag.
        using var index = await _http.GetAsync(new Uri(node.BaseUri, "index/3/a/abc"));
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        byte[] visibleLines = [.. Graph.Get("abc", "1.0.0").IndexLine, (byte)'\n'];
        Assert.Equal(visibleLines, await index.Content.ReadAsByteArrayAsync());
        var etag = index.Headers.ETag!;
        Assert.False(etag.IsWeak);
        using (var revalidate = new HttpRequestMessage(HttpMethod.Get, new Uri(node.BaseUri, "index/3/a/abc")))
        {
            revalidate.Headers.IfNoneMatch.Add(etag);
            Assert.Equal(HttpStatusCode.NotModified, (await _http.SendAsync(revalidate)).StatusCode);
        }

        using (var unfiltered = new HttpRequestMessage(HttpMethod.Get, new Uri(node.BaseUri, "index/3/a/abc")))
        {
            unfiltered.Headers.IfNoneMatch.Add(new EntityTagHeaderValue(Etag(Graph.IndexFileFor("abc")!)));
            Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(unfiltered)).StatusCode); // the full file's tag is not ours
        }

        // Downloads of hidden versions: 403 with the reason; visible ones as usual.
        await ExpectDownloadAsync(node, "abc", "1.1.0", HttpStatusCode.Forbidden, "abc@1.1.0 is denied by this mirror's policy");
        await ExpectDownloadAsync(node, "opt-helper", "1.0.0", HttpStatusCode.Forbidden, "not on the allow-list");
        await ExpectDownloadAsync(node, "abc", "1.0.0", HttpStatusCode.OK, null);
    }

    [Fact]
    public async Task Approvals_flow_across_two_nodes_with_the_cli_and_the_admin_api()
    {
        var nodeA = await StartNodeAsync(("Mirror__Policy__RequireApproval", "true"));
        var nodeB = await StartNodeAsync(("Mirror__Policy__RequireApproval", "true"));
        var admin = await ServerCli.CreateTokenAsync(Root, "root", "admin");
        var dev = await ServerCli.CreateTokenAsync(Root, "dev", "read");
        var viaA = Client(nodeA);
        var viaB = Client(nodeB);
        var app = WriteConsumer("approval-app", "abc = \"1.1\"");

        // Nothing approved yet: cargo cannot see abc at all, and the request is recorded as pending.
        var pendingOutput = await ExpectResolutionFailureAsync(viaA, app, nodeA);
        Assert.Contains("no matching package named `abc` found", pendingOutput, StringComparison.Ordinal);
        await ExpectDownloadAsync(nodeB, "abc", "1.1.0", HttpStatusCode.Forbidden, "abc@1.1.0 is not approved yet");

        Assert.Equal(HttpStatusCode.Unauthorized, (await AdminAsync(nodeB, HttpMethod.Get, "", null, null)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await AdminAsync(nodeB, HttpMethod.Get, "", dev, null)).Status);
        var listed = await AdminAsync(nodeB, HttpMethod.Get, "", admin, null);
        Assert.Equal(HttpStatusCode.OK, listed.Status);
        Assert.True(listed.Json.GetProperty("require_approval").GetBoolean());
        var abc = Assert.Single(listed.Json.GetProperty("pending").EnumerateArray());
        Assert.Equal("abc", abc.GetProperty("name").GetString());
        Assert.Equal(ApprovalStore.ClientOf(IPAddress.Loopback), abc.GetProperty("requested_by").GetString()); // no token: a hash of the address
        Assert.True(DateTimeOffset.UtcNow - abc.GetProperty("requested_at").GetDateTimeOffset() < TimeSpan.FromMinutes(5));
        Assert.Equal(["1.0.0", "1.1.0", "1.2.0"], abc.GetProperty("waiting").EnumerateArray().Select(v => v.GetString()));

        // Approved with the CLI (no server involved): node B serves it on its very next request, no waiting.
        var approve = await ServerCli.RunAsync(StorageEnv(), ["approvals", "approve", "abc", "^1.0", "--by", "alice"]);
        Assert.True(approve.ExitCode == 0, approve.StdErr);
        var dependencyPending = await ExpectResolutionFailureAsync(viaB, app, nodeB);
        Assert.Contains("no matching package named `ab` found", dependencyPending, StringComparison.Ordinal);
        Assert.Contains("required by package `abc v1.1.0`", dependencyPending, StringComparison.Ordinal);

        // Approved with the admin API on node A: node A resolves and downloads at once.
        var approved = await AdminAsync(nodeA, HttpMethod.Post, "/approve", admin, """{"name":"ab","req":"0.1"}""");
        Assert.Equal(HttpStatusCode.OK, approved.Status);
        Assert.Equal(("^0.1", "approved", "root"), (approved.Json.GetProperty("decision").GetProperty("req").GetString(),
            approved.Json.GetProperty("decision").GetProperty("decision").GetString(), approved.Json.GetProperty("decision").GetProperty("by").GetString()));
        await ExpectSuccessAsync(viaA, app, nodeA, "fetch");
        Assert.Equal(
            [("ab", "0.1.1"), ("abc", "1.1.0")],
            Locked(app).Select(p => (p.Name, p.Version)).Order());
        using (var ab = await _http.GetAsync(new Uri(nodeB.BaseUri, "index/2/ab")))
        {
            Assert.Equal(
                Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Graph.Get("ab", "0.1.0").IndexLine) + "\n" + Encoding.UTF8.GetString(Graph.Get("ab", "0.1.1").IndexLine) + "\n"),
                await ab.Content.ReadAsByteArrayAsync());
        }

        await ExpectDownloadAsync(nodeB, "ab", "0.2.0", HttpStatusCode.Forbidden, "ab@0.2.0 is not approved yet");
        Assert.Equal(HttpStatusCode.BadRequest, (await AdminAsync(nodeA, HttpMethod.Post, "/approve", admin, """{"name":"ab","req":">>1"}""")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await AdminAsync(nodeA, HttpMethod.Post, "/reject", dev, """{"name":"ab","req":"*"}""")).Status);

        // Rejected with the CLI: node B hides it from cargo's next resolution (its cached copy's ETag no longer
        // matches) and refuses the download; a looser requirement falls back to the remaining approved version.
        var reject = await ServerCli.RunAsync(StorageEnv(), ["approvals", "reject", "abc", "=1.1.0", "--by", "bob"]);
        Assert.True(reject.ExitCode == 0, reject.StdErr);
        File.Delete(Path.Combine(app, "Cargo.lock"));
        var rejected = await ExpectResolutionFailureAsync(viaB, app, nodeB);
        Assert.Contains("failed to select a version for the requirement `abc = \"^1.1\"`", rejected, StringComparison.Ordinal);
        Assert.Contains("version 1.2.0 is yanked", rejected, StringComparison.Ordinal); // the only ^1.1 version left in the index
        WriteConsumer("approval-app", "abc = \"1\"");
        await ExpectSuccessAsync(viaB, app, nodeB, "generate-lockfile");
        Assert.Equal(
            [("abc", "1.0.0")],
            Locked(app).Select(p => (p.Name, p.Version)));
        await ExpectDownloadAsync(nodeA, "abc", "1.1.0", HttpStatusCode.Forbidden, "abc@1.1.0 was rejected");

        // A request with a token records its user as the one who asked.
        using (var withToken = new HttpRequestMessage(HttpMethod.Get, new Uri(nodeA.BaseUri, "index/ab/cd/abcd")))
        {
            withToken.Headers.TryAddWithoutValidation("Authorization", dev);
            Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(withToken)).StatusCode);
        }

        // The CLI lists what is still waiting and every decision; the audit trail says who decided what.
        var list = await ServerCli.RunAsync(StorageEnv(), ["approvals", "list", "--json"]);
        Assert.True(list.ExitCode == 0, list.StdErr);
        var lines = list.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var waiting = lines.Where(l => l.GetProperty("type").GetString() == "pending")
            .ToDictionary(l => l.GetProperty("name").GetString()!, l => (l.GetProperty("requested_by").GetString(), string.Join(',', l.GetProperty("waiting").EnumerateArray().Select(v => v.GetString()))));
        Assert.Equal((ApprovalStore.ClientOf(IPAddress.Loopback), "0.2.0"), waiting["ab"]);
        Assert.Equal(("dev", "2.0.0,2.0.1"), waiting["abcd"]);
        Assert.Equal(
            ["abc ^1.0 approved alice", "ab ^0.1 approved root", "abc =1.1.0 rejected bob"],
            lines.Where(l => l.GetProperty("type").GetString() == "decision")
                .Select(l => $"{l.GetProperty("name").GetString()} {l.GetProperty("req").GetString()} {l.GetProperty("decision").GetString()} {l.GetProperty("by").GetString()}"));

        var audit = await ServerCli.RunAsync(StorageEnv(), ["approvals", "audit", "--json"]);
        Assert.True(audit.ExitCode == 0, audit.StdErr);
        Assert.Equal(
            ["alice approved abc ^1.0", "root approved ab ^0.1", "bob rejected abc =1.1.0"],
            audit.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)
                .Select(e => $"{e.GetProperty("by").GetString()} {e.GetProperty("decision").GetString()} {e.GetProperty("name").GetString()} {e.GetProperty("req").GetString()}"));
        var viaApi = await AdminAsync(nodeB, HttpMethod.Get, "/audit", admin, null);
        Assert.Equal(3, viaApi.Json.GetProperty("audit").GetArrayLength());

        var usage = await ServerCli.RunAsync(StorageEnv(), ["approvals", "approve", "abc", ">>1"]);
        Assert.Equal(2, usage.ExitCode);
        Assert.Contains("Invalid version requirement", usage.StdErr, StringComparison.Ordinal);
    }

    private async Task<MirrorProcess> StartNodeAsync(params (string Key, string Value)[] settings)
    {
        var node = await MirrorProcess.StartAsync(_upstream.IndexUrl, Root, settings.ToDictionary(s => s.Key, s => s.Value));
        _disposables.Add(node);
        return node;
    }

    private Dictionary<string, string> StorageEnv() => new() { ["Storage__FileSystem__Root"] = Root };

    private CargoProject Client(MirrorProcess node)
    {
        var client = CargoProject.Create(node.IndexUrl, Graph, netRetry: 0);
        _clients.Add(client);
        return client;
    }

    private string WriteConsumer(string name, string dependencies)
    {
        var dir = Path.Combine(_sandbox, name);
        Directory.CreateDirectory(Path.Combine(dir, "src"));
        File.WriteAllText(Path.Combine(dir, "Cargo.toml"), $"""
            [package]
            name = "{name}"
            version = "0.1.0"
            edition = "2021"
            publish = false

            [workspace]

            [dependencies]
            {dependencies}
            """);
        File.WriteAllText(Path.Combine(dir, "src", "main.rs"), "fn main() {}\n");
        return dir;
    }

    private async Task<string> ExpectResolutionFailureAsync(CargoProject cargo, string name, string dependencies, MirrorProcess node) =>
        await ExpectResolutionFailureAsync(cargo, WriteConsumer(name, dependencies), node);

    /// <summary>cargo fails while resolving (generate-lockfile downloads nothing), with 101; returns what it printed.</summary>
    private static async Task<string> ExpectResolutionFailureAsync(CargoProject cargo, string dir, MirrorProcess node)
    {
        var result = await cargo.RunInAsync(dir, ["generate-lockfile"]);
        Assert.True(result.ExitCode == 101, $"expected cargo to fail resolving in {dir}, got {result.ExitCode}:\n{result.Output}\nnode said:\n{node.Output}");
        return result.Output;
    }

    private static async Task<CargoResult> ExpectSuccessAsync(CargoProject cargo, string dir, MirrorProcess node, params string[] args)
    {
        var result = await cargo.RunInAsync(dir, args);
        Assert.True(result.ExitCode == 0, $"cargo {string.Join(' ', args)} failed ({result.ExitCode}):\n{result.Output}\nnode said:\n{node.Output}");
        return result;
    }

    private async Task ExpectDownloadAsync(MirrorProcess node, string name, string version, HttpStatusCode status, string? message)
    {
        using var response = await _http.GetAsync(new Uri(node.BaseUri, $"crates/{name}/{version}/download"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"download {name} {version}: expected {(int)status}, got {(int)response.StatusCode}: {body}");
        if (message is not null)
        {
            Assert.Contains(message, body, StringComparison.Ordinal);
        }
    }

    private async Task<(HttpStatusCode Status, JsonElement Json)> AdminAsync(MirrorProcess node, HttpMethod method, string path, string? token, string? body)
    {
        using var request = new HttpRequestMessage(method, new Uri(node.BaseUri, "admin/api/v1/approvals" + path));
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", token);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>The registry packages of a Cargo.lock (those with a source): name, version, checksum.</summary>
    private static List<(string Name, string Version, string? Checksum)> Locked(string dir)
    {
        var packages = new List<(string, string, string?)>();
        foreach (var block in File.ReadAllText(Path.Combine(dir, "Cargo.lock")).Split("[[package]]").Skip(1))
        {
            var fields = block.Split('\n')
                .Select(l => l.Split(" = \"", 2))
                .Where(p => p.Length == 2)
                .ToDictionary(p => p[0].Trim(), p => p[1].TrimEnd().TrimEnd('"'));
            if (fields.ContainsKey("source"))
            {
                packages.Add((fields["name"], fields["version"], fields.GetValueOrDefault("checksum")));
            }
        }

        return packages;
    }

    private static string Etag(byte[] body) =>
        "\"" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body).AsSpan(0, 16)) + "\"";
}
