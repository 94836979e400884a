using System.Diagnostics;
using System.Text.Json;
using OrleansCrates.Accounts;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;

namespace OrleansCrates.Cli.Tests;

/// <summary>
/// The operator CLI as operators run it: the CLI's own program (OrleansCrates.Cli.dll), configured only through the
/// environment (or <c>--Key=Value</c>), against a filesystem store in a temp folder. No web server starts.
/// </summary>
public sealed class CliTests : IDisposable
{
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-cli-").FullName;
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;

    private string Root => Path.Combine(_sandbox, "store");

    public void Dispose() => Directory.Delete(_sandbox, recursive: true);

    [Fact]
    public async Task Token_create_prints_only_the_token_and_list_and_revoke_manage_it()
    {
        var created = await RunAsync("token", "create", "--user", "alice", "--scope", "read", "--crates", "acme-*");
        Assert.True(created.ExitCode == 0, created.Describe());
        var secret = Assert.Single(created.StdoutLines);
        Assert.Matches("^ocr_[A-Za-z0-9_-]{43}$", secret);
        Assert.Equal(secret + "\n", created.Stdout); // one line, nothing else
        var id = TokenStore.HashOf(secret)[..TokenStore.IdLength];
        Assert.Contains(id, created.Stderr, StringComparison.Ordinal);

        // The server's own code accepts the token from the shared store.
        var tokens = new TokenStore(new FileSystemObjectStore(Root), TimeProvider.System);
        var info = await tokens.ValidateOrNullAsync(secret, _ct);
        Assert.NotNull(info);
        Assert.Equal(("alice", TokenScope.Read), (info.User, info.Scope));
        Assert.Equal(["acme-*"], info.CratePatterns);

        var listed = await RunAsync("token", "list");
        Assert.True(listed.ExitCode == 0, listed.Describe());
        Assert.Equal(2, listed.StdoutLines.Count); // header + one token
        Assert.StartsWith("ID", listed.StdoutLines[0], StringComparison.Ordinal);
        Assert.Equal([id, "alice", "read", "acme-*"], listed.StdoutLines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[..4]);
        Assert.EndsWith(" -", listed.StdoutLines[1], StringComparison.Ordinal); // not revoked
        Assert.DoesNotContain(secret["ocr_".Length..], listed.Stdout + listed.Stderr, StringComparison.Ordinal);

        var revoked = await RunAsync("token", "revoke", id);
        Assert.True(revoked.ExitCode == 0, revoked.Describe());
        Assert.Empty(revoked.Stdout);
        Assert.Null(await new TokenStore(new FileSystemObjectStore(Root), TimeProvider.System).ValidateOrNullAsync(secret, _ct));

        var json = await RunAsync("token", "list", "--json");
        Assert.True(json.ExitCode == 0, json.Describe());
        using var line = JsonDocument.Parse(Assert.Single(json.StdoutLines));
        Assert.Equal(id, line.RootElement.GetProperty("id").GetString());
        Assert.Equal(JsonValueKind.String, line.RootElement.GetProperty("revoked_at").ValueKind);

        var again = await RunAsync("token", "revoke", id);
        Assert.True(again.ExitCode == 0, again.Describe());
    }

    [Fact]
    public async Task Revoking_an_unknown_id_fails_with_a_message()
    {
        var result = await RunAsync("token", "revoke", "0123456789ab");
        Assert.True(result.ExitCode == 1, result.Describe());
        Assert.Empty(result.Stdout);
        Assert.Contains("0123456789ab", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData]
    [InlineData("help")]
    [InlineData("token")]
    [InlineData("token", "frobnicate")]
    [InlineData("token", "create")]
    [InlineData("token", "create", "--user", "-bad-")]
    [InlineData("token", "create", "--user", "alice", "--scope", "root")]
    [InlineData("token", "create", "--user", "alice", "--crates", "acme/*")]
    [InlineData("token", "create", "--user", "alice", "--bogus")]
    [InlineData("token", "revoke")]
    [InlineData("token", "list", "--user", "alice")]
    [InlineData("downloads", "list", "--from", "yesterday")]
    [InlineData("downloads", "list", "--from", "2025-03-02", "--to", "2025-03-01")]
    public async Task Bad_usage_exits_2_with_usage_on_stderr_and_touches_nothing(params string[] args)
    {
        var result = await RunAsync(args);
        Assert.True(result.ExitCode == 2, result.Describe());
        Assert.Empty(result.Stdout);
        Assert.Contains("Usage:", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(Root, "auth")), "bad usage must not write to storage");
    }

    [Fact]
    public async Task Storage_can_be_chosen_on_the_command_line_too()
    {
        var elsewhere = Path.Combine(_sandbox, "elsewhere");
        var created = await RunAsync("token", "create", "--user", "ci-bot", $"--Storage:FileSystem:Root={elsewhere}");
        Assert.True(created.ExitCode == 0, created.Describe());
        var secret = Assert.Single(created.StdoutLines);
        Assert.NotNull(await new TokenStore(new FileSystemObjectStore(elsewhere), TimeProvider.System).ValidateOrNullAsync(secret, _ct));
        Assert.False(Directory.Exists(Path.Combine(Root, "auth")));
    }

    [Fact]
    public async Task Downloads_list_shows_every_nodes_records()
    {
        var store = new FileSystemObjectStore(Root);
        var node1 = new DownloadLog(store, TimeProvider.System);
        var node2 = new DownloadLog(store, TimeProvider.System);
        var at = new DateTimeOffset(2025, 3, 1, 10, 0, 0, TimeSpan.Zero);
        node1.Record(new DownloadRecord("0123456789ab", "alice", "mirror", "serde", "1.0.0", at));
        node2.Record(new DownloadRecord("ba9876543210", "bob", "private", "acme-core", "0.1.0", at.AddMinutes(1)));
        await node1.FlushAsync(_ct);
        await node2.FlushAsync(_ct);

        var table = await RunAsync("downloads", "list", "--from", "2025-03-01", "--to", "2025-03-01");
        Assert.True(table.ExitCode == 0, table.Describe());
        Assert.Equal(3, table.StdoutLines.Count);
        Assert.Contains(table.StdoutLines, l => l.Contains("alice", StringComparison.Ordinal) && l.Contains("serde", StringComparison.Ordinal));
        Assert.Contains(table.StdoutLines, l => l.Contains("bob", StringComparison.Ordinal) && l.Contains("acme-core", StringComparison.Ordinal));

        var json = await RunAsync("downloads", "list", "--from=2025-03-01", "--to=2025-03-01", "--crate", "ACME_core", "--json");
        Assert.True(json.ExitCode == 0, json.Describe());
        using var line = JsonDocument.Parse(Assert.Single(json.StdoutLines));
        Assert.Equal("bob", line.RootElement.GetProperty("user").GetString());
        Assert.Equal("private", line.RootElement.GetProperty("registry").GetString());

        var none = await RunAsync("downloads", "list", "--from", "2025-03-02", "--to", "2025-03-03", "--json");
        Assert.True(none.ExitCode == 0, none.Describe());
        Assert.Empty(none.Stdout);
    }

    private async Task<CliResult> RunAsync(params string[] args)
    {
        var cliDll = MirrorProcess.DefaultCliDll;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _sandbox,
        };
        start.ArgumentList.Add(cliDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["Storage__FileSystem__Root"] = Root;
        // Chatty logging settings must still leave stdout to the command.
        start.Environment["Logging__LogLevel__Default"] = "Trace";

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(_ct);
        var stderr = process.StandardError.ReadToEndAsync(_ct);
        try
        {
            await process.WaitForExitAsync(_ct).WaitAsync(TimeSpan.FromSeconds(60), _ct);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"Expected 'OrleansCrates.Cli {string.Join(' ', args)}' to exit within 60 s; it did not.");
        }

        return new CliResult(args, process.ExitCode, await stdout, await stderr);
    }

    private sealed record CliResult(string[] Args, int ExitCode, string Stdout, string Stderr)
    {
        public IReadOnlyList<string> StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        public string Describe() =>
            $"'{string.Join(' ', Args)}' exited {ExitCode}.\nstdout:\n{Stdout}\nstderr:\n{Stderr}\n";
    }
}
