using System.Net;
using System.Text;
using System.Text.Json;
using OrleansCrates.Mirror;
using OrleansCrates.Testing;

using static OrleansCrates.EndToEnd.Tests.CargoRuns;

namespace OrleansCrates.EndToEnd.Tests;

public enum PrimaryFailure
{
    /// <summary>Nothing listens: connections are refused.</summary>
    Down,

    /// <summary>Every response waits far longer than the primary's timeout.</summary>
    SlowBeyondTimeout,

    /// <summary>Every request gets 500.</summary>
    Status500,
}

/// <summary>
/// Ordered upstreams and "keep what upstream deletes", with the real cargo against real mirror processes. Cargo runs
/// with <c>net.retry = 0</c>: any failure the mirror let through would fail the build.
/// </summary>
public sealed class FailoverTests : IDisposable
{
    private const string CratesIoSource = "registry+https://github.com/rust-lang/crates.io-index";
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-failover-").FullName;
    private readonly HttpClient _http = new();

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Theory]
    [InlineData(PrimaryFailure.Down)]
    [InlineData(PrimaryFailure.SlowBeyondTimeout)]
    [InlineData(PrimaryFailure.Status500)]
    public async Task Cargo_builds_through_the_secondary_while_the_primary_fails(PrimaryFailure failure)
    {
        var ct = Deadline();
        await using var primary = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        await using var secondary = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        switch (failure)
        {
            case PrimaryFailure.Down:
                await primary.StopAsync(ct);
                break;
            case PrimaryFailure.SlowBeyondTimeout:
                primary.AddFault(new FaultRule { PathContains = "/", Kind = FaultKind.Slow, Delay = TimeSpan.FromMinutes(2) });
                break;
            case PrimaryFailure.Status500:
                primary.AddFault(new FaultRule { PathContains = "/", Kind = FaultKind.Status500 });
                break;
        }

        await using var mirror = await MirrorProcess.StartAsync(
            primary.IndexUrl,
            Path.Combine(_sandbox, "store"),
            new Dictionary<string, string>
            {
                ["Mirror__Upstreams__0__Name"] = "primary",
                ["Mirror__Upstreams__0__Timeout"] = "00:00:02",
                ["Mirror__Upstreams__1__IndexUrl"] = secondary.IndexUrl,
                ["Mirror__Upstreams__1__Name"] = "secondary",
            },
            ct);
        using var project = CargoProject.Create(mirror.IndexUrl, Graph, netRetry: 0);

        await CargoAsync(project, mirror, ct, "generate-lockfile");
        await CargoAsync(project, mirror, ct, "fetch");

        // The health output says what happened, without asking anyone.
        using (var health = JsonDocument.Parse(await _http.GetStringAsync(new Uri(mirror.BaseUri, "health/ready"), ct)))
        {
            var upstreams = health.RootElement.GetProperty("upstreams").EnumerateArray().ToList();
            Assert.Equal(["primary", "secondary"], upstreams.Select(u => u.GetProperty("name").GetString()));
            Assert.Equal(primary.IndexUrl, upstreams[0].GetProperty("indexUrl").GetString());
            Assert.Equal("down", upstreams[0].GetProperty("state").GetString());
            Assert.False(string.IsNullOrEmpty(upstreams[0].GetProperty("lastError").GetString()));
            Assert.Equal(JsonValueKind.String, upstreams[0].GetProperty("lastErrorAt").ValueKind);
            Assert.Equal("up", upstreams[1].GetProperty("state").GetString());
            Assert.Equal(JsonValueKind.Null, upstreams[1].GetProperty("lastError").ValueKind);
            Assert.True(upstreams[1].GetProperty("latencyMs").GetDouble() >= 0);
            Assert.Equal(JsonValueKind.Null, upstreams[1].GetProperty("cooldownUntil").ValueKind);
        }

        await CargoAsync(project, mirror, ct, "build", "--offline");

        // Cargo.lock is what crates.io would give, and every file came from the secondary, verified.
        var locked = project.LockfilePackages().Where(p => p.Checksum is not null).ToList();
        Assert.Equal(
            Graph.ExpectedLockedCrates.Select(c => (c.Name, c.Version)).Order(),
            locked.Select(p => (p.Name, p.Version)).Order());
        Assert.All(locked, p =>
        {
            Assert.Equal(CratesIoSource, p.Source);
            Assert.Equal(Graph.Get(p.Name, p.Version).Sha256, p.Checksum);
            Assert.Equal(1, secondary.Downloads(p.Name, p.Version));
            Assert.Equal(0, primary.Downloads(p.Name, p.Version));
        });
    }

    [Fact]
    public async Task A_node_with_every_upstream_unreachable_starts_ready_and_has_asked_none()
    {
        var ct = Deadline();
        await using var primary = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        await using var secondary = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        await primary.StopAsync(ct);
        await secondary.StopAsync(ct);
        await using var mirror = await MirrorProcess.StartAsync(
            primary.IndexUrl,
            Path.Combine(_sandbox, "store"),
            new Dictionary<string, string> { ["Mirror__Upstreams__1__IndexUrl"] = secondary.IndexUrl },
            ct);

        using var ready = await _http.GetAsync(new Uri(mirror.BaseUri, "health/ready"), ct);

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode); // upstream state is information, not readiness
        using var health = JsonDocument.Parse(await ready.Content.ReadAsStringAsync(ct));
        var upstreams = health.RootElement.GetProperty("upstreams").EnumerateArray().ToList();
        Assert.Equal([primary.BaseUri.Authority, secondary.BaseUri.Authority], upstreams.Select(u => u.GetProperty("name").GetString()));
        Assert.All(upstreams, u =>
        {
            Assert.Equal("unknown", u.GetProperty("state").GetString());
            Assert.Equal(JsonValueKind.Null, u.GetProperty("lastError").ValueKind);
            Assert.Equal(JsonValueKind.Null, u.GetProperty("latencyMs").ValueKind);
        });
        Assert.Equal(0, primary.TotalRequests + secondary.TotalRequests);
    }

    [Fact]
    public async Task Two_upstreams_going_by_the_same_name_stop_the_node_at_start()
    {
        var ct = Deadline();
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);

        // Both default to the name "127.0.0.1:PORT", so a stored ETag could not say which one issued it.
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => MirrorProcess.StartAsync(
            upstream.IndexUrl,
            Path.Combine(_sandbox, "store"),
            new Dictionary<string, string> { ["Mirror__Upstreams__1__IndexUrl"] = upstream.IndexUrl + "other/" },
            ct));

        Assert.Contains("upstream names", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, upstream.TotalRequests);
    }

    [Fact]
    public async Task A_version_deleted_upstream_stays_available_to_cargo_and_is_flagged()
    {
        var ct = Deadline();
        var root = Path.Combine(_sandbox, "store");
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        await using var mirror = await MirrorProcess.StartAsync(
            upstream.IndexUrl, root, new Dictionary<string, string> { ["Mirror__IndexTtl"] = "00:00:00" }, ct);
        using var project = CargoProject.Create(mirror.IndexUrl, Graph, netRetry: 0);
        await CargoAsync(project, mirror, ct, "generate-lockfile");
        await CargoAsync(project, mirror, ct, "fetch");
        var lockfile = project.ReadLockfile();

        // Upstream deletes the locked abc 1.1.0 (abc 1.0.0, never downloaded here, goes too) and the whole crate "a".
        var abcLocked = Graph.Get("abc", "1.1.0");
        var aLocked = Graph.Get("a", "1.1.0");
        Assert.Contains(abcLocked, Graph.ExpectedLockedCrates);
        Assert.Contains(aLocked, Graph.ExpectedLockedCrates);
        upstream.Graph = CrateGraph.Create(Graph.Crates.Where(c => c.Name != "a" && !(c.Name == "abc" && c.Version is "1.0.0" or "1.1.0")));

        // A user with nothing cached resolves from scratch and gets the same lockfile; the build needs the kept files.
        project.UseFreshCargoHome();
        project.DeleteLockfile();
        await CargoAsync(project, mirror, ct, "generate-lockfile");
        await CargoAsync(project, mirror, ct, "fetch");
        await CargoAsync(project, mirror, ct, "build", "--offline");
        Assert.Equal(lockfile, project.ReadLockfile());

        // The served files: upstream's lines plus the kept lines, verbatim; the version without a held file is gone.
        var abc = await _http.GetByteArrayAsync(new Uri(mirror.BaseUri, "index/3/a/abc"), ct);
        Assert.Equal([.. upstream.Graph.IndexFileFor("abc")!, .. abcLocked.IndexLine, (byte)'\n'], abc);
        var a = await _http.GetByteArrayAsync(new Uri(mirror.BaseUri, "index/1/a"), ct);
        Assert.Equal([.. aLocked.IndexLine, (byte)'\n'], a);
        Assert.Equal(404, upstream.Requests.Last(r => r.Path == "/index/1/a").Status);

        // Flagged in the stored metadata that every node (and `verify`) reads.
        Assert.Equal(["1.1.0"], ReadStoredIndex(root, "index/3/a/abc").DeletedUpstream);
        Assert.Equal(["1.1.0"], ReadStoredIndex(root, "index/1/a").DeletedUpstream);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri(mirror.BaseUri, "crates/a/1.1.0/download"), ct)).StatusCode);
    }

    private static StoredIndex ReadStoredIndex(string root, string key) =>
        StoredIndex.TryDeserialize(File.ReadAllBytes(Path.Combine(root, key)))
        ?? throw new InvalidDataException($"{key} is not a stored index: {Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(root, key)))}");

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;
}
