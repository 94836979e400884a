using System.Globalization;
using System.Text;
using System.Text.Json;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Testing;

namespace OrleansCrates.Cli.Tests;

/// <summary>
/// The CLI program's own surface, as a process: help, usage errors, approvals against storage, and the commands that
/// go through a running server with <c>--server URL --token T</c> (approvals through the admin API, prefetch through
/// <c>POST /admin/api/v1/prefetch</c> and so through the node's crate grains), <c>private release</c> and
/// <c>prefetch-toolchain</c> against a fake dist server.
/// </summary>
public sealed class CliCommandTests : IDisposable
{
    private const string CratesIoSource = "registry+https://github.com/rust-lang/crates.io-index";
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-cli-cmd-").FullName;
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(4)).Token;

    private string Root => Path.Combine(_sandbox, "store");

    public void Dispose() => Directory.Delete(_sandbox, recursive: true);

    [Fact]
    public async Task Help_lists_every_command_on_stdout_and_exits_0()
    {
        var help = await RunAsync("--help");
        Assert.True(help.ExitCode == 0, help.StdErr);
        Assert.Contains("Usage:", help.StdOut, StringComparison.Ordinal);
        foreach (var command in new[] { "token", "downloads", "approvals", "private", "verify", "verify-lock", "prefetch" })
        {
            Assert.Contains($"  {command} ", help.StdOut, StringComparison.Ordinal);
        }

        var sub = await RunAsync("prefetch", "--help");
        Assert.True(sub.ExitCode == 0, sub.StdErr);
        Assert.Contains("--server", sub.StdOut, StringComparison.Ordinal);
        Assert.Contains("--concurrency", sub.StdOut, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("approvals", "approve", "serde", ">>1")]
    [InlineData("approvals", "approve", "serde", "^1", "--server", "ftp://example.invalid/")]
    [InlineData("approvals", "list", "--server", "http://127.0.0.1:9/")] // no token
    [InlineData("approvals", "list", "--token", "ocr_x")] // a token without --server
    [InlineData("approvals", "approve", "serde", "^1", "--by", "alice", "--server", "http://127.0.0.1:9/", "--token", "ocr_x")]
    [InlineData("prefetch", "Cargo.lock", "--concurrency", "65")]
    public async Task Usage_errors_exit_2_with_the_reason_and_usage_on_stderr(params string[] args)
    {
        var result = await RunAsync(args);
        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}\n{result.StdErr}");
        Assert.Empty(result.StdOut);
        Assert.Contains("Usage:", result.StdErr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Root), "bad usage must not touch storage");
    }

    [Fact]
    public async Task Approvals_against_storage_approve_list_audit_and_reject()
    {
        var approve = await RunAsync("approvals", "approve", "serde", "^1.0", "--by", "alice");
        Assert.True(approve.ExitCode == 0, approve.StdErr);
        Assert.Empty(approve.StdOut);
        Assert.Contains("Approved serde ^1.0 by alice", approve.StdErr, StringComparison.Ordinal);

        var list = await RunAsync("approvals", "list", "--json");
        Assert.True(list.ExitCode == 0, list.StdErr);
        using (var decision = JsonDocument.Parse(Assert.Single(Lines(list.StdOut))))
        {
            Assert.Equal(("decision", "serde", "approved", "alice"), (Text(decision, "type"), Text(decision, "name"), Text(decision, "decision"), Text(decision, "by")));
        }

        var table = await RunAsync("approvals", "list");
        Assert.True(table.ExitCode == 0, table.StdErr);
        Assert.Contains(Lines(table.StdOut), l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(4).SequenceEqual(["serde", "^1.0", "approved", "alice"]));

        var reject = await RunAsync("approvals", "reject", "serde", "^1.0", "--by", "bob");
        Assert.True(reject.ExitCode == 0, reject.StdErr);
        Assert.Contains("(it was approved by alice", reject.StdErr, StringComparison.Ordinal);

        var audit = await RunAsync("approvals", "audit", "--json");
        Assert.True(audit.ExitCode == 0, audit.StdErr);
        Assert.Equal(["approved", "rejected"], Lines(audit.StdOut).Select(l => { using var d = JsonDocument.Parse(l); return Text(d, "decision"); }));
    }

    [Fact]
    public async Task With_server_approvals_go_through_the_admin_api_and_record_the_tokens_user()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var server = await MirrorProcess.StartAsync(upstream.IndexUrl, Root, cancellationToken: _ct);
        var admin = await ServerCli.CreateTokenAsync(Root, "root", "admin", cancellationToken: _ct);
        string[] through = ["--server", server.BaseUri.AbsoluteUri, "--token", admin];

        var approve = await RunAsync(["approvals", "approve", "abc", "^1.0", .. through]);
        Assert.True(approve.ExitCode == 0, approve.StdErr);
        Assert.Contains("Approved abc ^1.0 by root", approve.StdErr, StringComparison.Ordinal);

        // The token from the environment instead of --token; the list is the server's answer, in the CLI's format.
        var list = await RunAsync(
            new Dictionary<string, string> { ["ORLEANSCRATES_TOKEN"] = admin }, "approvals", "list", "--json", "--server", server.BaseUri.AbsoluteUri);
        Assert.True(list.ExitCode == 0, list.StdErr);
        using (var decision = JsonDocument.Parse(Assert.Single(Lines(list.StdOut))))
        {
            Assert.Equal(("abc", "^1.0", "root"), (Text(decision, "name"), Text(decision, "req"), Text(decision, "by")));
        }

        var audit = await RunAsync(["approvals", "audit", .. through]);
        Assert.True(audit.ExitCode == 0, audit.StdErr);
        Assert.Contains(Lines(audit.StdOut), l => l.Contains("root", StringComparison.Ordinal) && l.Contains("abc", StringComparison.Ordinal));

        var reader = await ServerCli.CreateTokenAsync(Root, "reader", "read", cancellationToken: _ct);
        var refused = await RunAsync("approvals", "list", "--server", server.BaseUri.AbsoluteUri, "--token", reader);
        Assert.True(refused.ExitCode == 1, refused.StdErr);
        Assert.Contains("403", refused.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_server_reject_replaces_an_approval_through_the_admin_api()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var server = await MirrorProcess.StartAsync(upstream.IndexUrl, Root, cancellationToken: _ct);
        var admin = await ServerCli.CreateTokenAsync(Root, "root", "admin", cancellationToken: _ct);
        string[] through = ["--server", server.BaseUri.AbsoluteUri, "--token", admin];
        var approve = await RunAsync(["approvals", "approve", "abc", "^1.0", .. through]);
        Assert.True(approve.ExitCode == 0, approve.StdErr);

        var reject = await RunAsync(["approvals", "reject", "abc", "^1.0", .. through]);

        Assert.True(reject.ExitCode == 0, reject.StdErr);
        Assert.Empty(reject.StdOut);
        Assert.Contains("Rejected abc ^1.0 by root (it was approved by root at ", reject.StdErr, StringComparison.Ordinal);
        var list = await RunAsync(["approvals", "list", "--json", .. through]);
        Assert.True(list.ExitCode == 0, list.StdErr);
        using var decision = JsonDocument.Parse(Assert.Single(Lines(list.StdOut)));
        Assert.Equal(("abc", "^1.0", "rejected", "root"), (Text(decision, "name"), Text(decision, "req"), Text(decision, "decision"), Text(decision, "by")));
    }

    [Fact]
    public async Task Private_release_gives_a_name_back_and_deletes_its_versions_only_when_asked()
    {
        var crate = CrateGraph.BuildCrate("acme-tools", "0.1.0");
        var name = CrateName.Parse("acme-tools");
        WriteStoreFile(RegistryKeys.Index(name), [.. crate.IndexLine, (byte)'\n']);
        WriteStoreFile(RegistryKeys.CrateFile(name, "0.1.0", crate.Sha256), crate.CrateBytes);
        WriteStoreFile(RegistryKeys.Meta(name), Encoding.UTF8.GetBytes(
            """{"name":"acme-tools","owners":["alice"],"created":"2026-01-01T00:00:00+00:00","updated":"2026-01-01T00:00:00+00:00"}"""));

        var refused = await RunAsync("private", "release", "acme-tools");
        Assert.True(refused.ExitCode == 1, refused.StdErr);
        Assert.StartsWith("Not released: ", refused.StdErr, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(Root, RegistryKeys.Meta(name))), "a refused release changed the store");

        var released = await RunAsync("private", "release", "acme-tools", "--delete-versions");
        Assert.True(released.ExitCode == 0, released.StdErr);
        Assert.Empty(released.StdOut);
        Assert.Contains("released `acme-tools`: 1 version(s) and 1 crate file(s) deleted", released.StdErr, StringComparison.Ordinal);
        Assert.All(
            [RegistryKeys.Meta(name), RegistryKeys.Index(name), RegistryKeys.CrateFile(name, "0.1.0", crate.Sha256)],
            key => Assert.False(File.Exists(Path.Combine(Root, key)), $"{key} is still stored"));
    }

    [Fact]
    public async Task Prefetch_toolchain_fetches_a_channels_profile_once_and_stores_it()
    {
        var release = FakeToolchain.Create();
        await using var dist = await FakeDistServer.StartAsync(release.Files, _ct);
        var environment = new Dictionary<string, string> { ["Toolchains__Upstreams__0__Url"] = dist.Url };

        var cold = await RunAsync(environment, "prefetch-toolchain", "stable", "--profile", "minimal");

        Assert.True(cold.ExitCode == 0, cold.StdErr);
        var summary = Assert.Single(Lines(cold.StdOut));
        Assert.StartsWith($"prefetch-toolchain: OK, stable (minimal; {FakeToolchain.Target}): ", summary, StringComparison.Ordinal);
        Assert.EndsWith(", 0 failed.", summary, StringComparison.Ordinal);
        Assert.All(release.Archives, a =>
        {
            Assert.Equal(1, dist.Requests(a));
            Assert.True(File.Exists(Path.Combine(Root, "toolchains", "files", a)), $"{a} is not stored");
        });
    }

    [Fact]
    public async Task With_server_prefetch_runs_on_the_node_and_fetches_each_file_once()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var server = await MirrorProcess.StartAsync(upstream.IndexUrl, Root, cancellationToken: _ct);
        var admin = await ServerCli.CreateTokenAsync(Root, "root", "admin", cancellationToken: _ct);
        var crates = Graph.Crates.Take(4).ToList();
        var lockPath = WriteLockfile(crates.Select(c => (c.Name, c.Version, c.Sha256)));

        var cold = await RunAsync("prefetch", lockPath, "--server", server.BaseUri.AbsoluteUri, "--token", admin);
        Assert.True(cold.ExitCode == 0, cold.StdErr);
        var indexes = crates.Select(c => c.Name).Distinct().Count();
        Assert.Equal(
            $"prefetch: OK, {crates.Count} crate files: {crates.Count} fetched, 0 already present, 0 failed; {indexes} index files ready, 0 failed.",
            Assert.Single(Lines(cold.StdOut)));
        Assert.All(crates, c => Assert.True(File.Exists(Path.Combine(Root, MirrorKeys.CrateFile(CrateName.Parse(c.Name), c.Version))), $"{c.Name} {c.Version} is not stored"));

        var warm = await RunAsync("prefetch", lockPath, "--server", server.BaseUri.AbsoluteUri, "--token", admin);
        Assert.True(warm.ExitCode == 0, warm.StdErr);
        Assert.StartsWith($"prefetch: OK, {crates.Count} crate files: 0 fetched, {crates.Count} already present,", warm.StdOut, StringComparison.Ordinal);
        Assert.All(crates, c => Assert.Equal(1, upstream.Downloads(c.Name, c.Version)));
    }

    [Theory]
    [InlineData("deep", "nest more than 32 deep")]
    [InlineData("duplicate", "(3,")]
    [InlineData("not-toml", "(1,")]
    public async Task Hostile_lockfiles_are_refused_with_exit_1_before_anything_is_asked(string kind, string reason)
    {
        var path = Path.Combine(_sandbox, $"{kind}.lock");
        File.WriteAllText(path, kind switch
        {
            "deep" => "version = 4\nx = " + new string('[', 100_000) + new string(']', 100_000) + "\n",
            "duplicate" => "[[package]]\nname = \"a\"\nname = \"b\"\nversion = \"1.0.0\"\n",
            _ => "[[package\nname = \"a\"\n",
        });

        // No upstream exists at this address: a lockfile that got past the bounds would fail differently (exit 1 with findings).
        var result = await RunAsync("verify-lock", path, "--against", "http://127.0.0.1:9/index/");
        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}\n{result.StdErr}");
        Assert.Empty(result.StdOut);
        Assert.Contains($"Cannot read {path}", result.StdErr, StringComparison.Ordinal);
        Assert.Contains(reason, result.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_version_1_lockfile_has_its_checksums_read_from_the_metadata_table()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        var crate = Graph.Crates[0];
        var path = Path.Combine(_sandbox, "v1.lock");
        File.WriteAllText(path, $"""
            [[package]]
            name = "{crate.Name}"
            version = "{crate.Version}"
            source = "{CratesIoSource}"

            [metadata]
            "checksum {crate.Name} {crate.Version} ({CratesIoSource})" = "{new string('0', 64)}"
            """);

        var result = await RunAsync("verify-lock", path, "--against", upstream.IndexUrl);
        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}\n{result.StdErr}");
        Assert.StartsWith($"mismatch     {crate.Name}@{crate.Version}: Cargo.lock has checksum {new string('0', 64)}", result.StdOut, StringComparison.Ordinal);
    }

    private string WriteLockfile(IEnumerable<(string Name, string Version, string Checksum)> packages)
    {
        var text = new StringBuilder("version = 4\n\n[[package]]\nname = \"consumer\"\nversion = \"0.1.0\"\n");
        foreach (var (name, version, checksum) in packages)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\nsource = \"{CratesIoSource}\"\nchecksum = \"{checksum}\"\n");
        }

        var path = Path.Combine(_sandbox, "Cargo.lock");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    private void WriteStoreFile(string key, byte[] content)
    {
        var path = Path.Combine(Root, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
    }

    private Task<ServerCli.Result> RunAsync(params string[] args) => RunAsync(new Dictionary<string, string>(), args);

    private Task<ServerCli.Result> RunAsync(Dictionary<string, string> environment, params string[] args)
    {
        environment["Storage__FileSystem__Root"] = Root;
        environment["Mirror__UserAgentContact"] = "tests@orleanscrates.invalid";
        return ServerCli.RunAsync(environment, args, _ct);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static string? Text(JsonDocument json, string property) => json.RootElement.GetProperty(property).GetString();
}
