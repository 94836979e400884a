using OrleansCrates.Testing;

using static OrleansCrates.EndToEnd.Tests.CargoRuns;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// The real cargo, pointed at a real mirror process (a one-silo cluster) or a Redis-clustered pair by source
/// replacement, against the fake upstream.
/// </summary>
public sealed class CargoThroughMirrorTests : IDisposable
{
    private const string CratesIoSource = "registry+https://github.com/rust-lang/crates.io-index";
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-e2e-").FullName;

    public void Dispose() => Directory.Delete(_sandbox, recursive: true);

    [Fact]
    public async Task Cargo_builds_through_the_mirror_and_keeps_working_with_the_upstream_gone()
    {
        var ct = Deadline();
        var root = Path.Combine(_sandbox, "store");
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        var mirror = await MirrorProcess.StartAsync(upstream.IndexUrl, root, cancellationToken: ct);
        using var project = CargoProject.Create(mirror.IndexUrl, Graph);

        await CargoAsync(project, mirror, ct, "generate-lockfile");
        await CargoAsync(project, mirror, ct, "fetch");
        await CargoAsync(project, mirror, ct, "build", "--offline");

        // Cargo.lock is what it would be against crates.io itself: crates.io's source and crates.io's checksums.
        var locked = project.LockfilePackages().Where(p => p.Checksum is not null).ToList();
        Assert.Equal(
            Graph.ExpectedLockedCrates.Select(c => (c.Name, c.Version)).Order(),
            locked.Select(p => (p.Name, p.Version)).Order());
        Assert.All(locked, p =>
        {
            Assert.Equal(CratesIoSource, p.Source);
            Assert.Equal(Graph.Get(p.Name, p.Version).Sha256, p.Checksum);
            Assert.Equal(1, upstream.Downloads(p.Name, p.Version));
        });
        var lockfile = project.ReadLockfile();

        // The mirror identifies itself to upstream.
        Assert.All(upstream.Requests, r => Assert.Contains("OrleansCrates/", r.UserAgent, StringComparison.Ordinal));
        Assert.All(upstream.Requests, r => Assert.Contains("tests@orleanscrates.invalid", r.UserAgent, StringComparison.Ordinal));

        // Upstream gone: a user with nothing cached resolves and fetches everything from the mirror alone.
        await upstream.StopAsync(ct);
        project.UseFreshCargoHome();
        project.DeleteLockfile();
        await CargoAsync(project, mirror, ct, "generate-lockfile");
        await CargoAsync(project, mirror, ct, "fetch");
        await CargoAsync(project, mirror, ct, "build", "--offline");
        Assert.Equal(lockfile, project.ReadLockfile());

        // An air-gapped node starting on the warm store serves without ever reaching upstream.
        await mirror.DisposeAsync();
        await using var restarted = await MirrorProcess.StartAsync(upstream.IndexUrl, root, cancellationToken: ct);
        project.SetRegistry(restarted.IndexUrl);
        project.UseFreshCargoHome();
        await CargoAsync(project, restarted, ct, "fetch");
        await CargoAsync(project, restarted, ct, "build", "--offline");
        Assert.Equal(lockfile, project.ReadLockfile());
    }

    [Fact]
    public async Task Concurrent_cargo_processes_on_a_cold_mirror_cause_one_upstream_download_per_file()
    {
        var ct = Deadline();
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        await using var mirror = await MirrorProcess.StartAsync(upstream.IndexUrl, Path.Combine(_sandbox, "store"), cancellationToken: ct);
        var projects = Enumerable.Range(0, 4).Select(_ => CargoProject.Create(mirror.IndexUrl, Graph)).ToList();
        try
        {
            await Task.WhenAll(projects.Select(async p =>
            {
                await CargoAsync(p, mirror, ct, "generate-lockfile");
                await CargoAsync(p, mirror, ct, "fetch");
            }));

            Assert.All(Graph.ExpectedLockedCrates, c => Assert.Equal(1, upstream.Downloads(c.Name, c.Version)));
            var checksums = projects.Select(p => p.LockfileChecksums()).ToList();
            Assert.All(checksums, c => Assert.Equal(checksums[0], c));
        }
        finally
        {
            projects.ForEach(p => p.Dispose());
        }
    }

    [Fact]
    public async Task Cargo_builds_through_a_redis_clustered_pair_with_one_upstream_download_per_file()
    {
        var ct = Deadline();
        await using var redis = await RedisProcess.StartAsync(ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        await using var pair = await MirrorCluster.StartAsync(2, upstream.IndexUrl, ClusterStorage.FileSystem(Path.Combine(_sandbox, "store")), redis, cancellationToken: ct);
        await pair.WaitForActiveSilosAsync(pair[0], 2, ct);
        var projects = Enumerable.Range(0, 4).Select(i => CargoProject.Create(pair[i % 2].IndexUrl, Graph)).ToList();
        try
        {
            await Task.WhenAll(projects.Select(async (p, i) =>
            {
                await CargoAsync(p, pair[i % 2], ct, "generate-lockfile");
                await CargoAsync(p, pair[i % 2], ct, "fetch");
            }));
            await CargoAsync(projects[1], pair[1], ct, "build", "--offline");

            Assert.All(Graph.ExpectedLockedCrates, c => Assert.Equal(1, upstream.Downloads(c.Name, c.Version)));
            var checksums = projects.Select(p => p.LockfileChecksums()).ToList();
            Assert.All(checksums, c => Assert.Equal(checksums[0], c));
            Assert.All(projects[0].LockfilePackages().Where(p => p.Checksum is not null), p => Assert.Equal(Graph.Get(p.Name, p.Version).Sha256, p.Checksum));
        }
        finally
        {
            projects.ForEach(p => p.Dispose());
        }
    }

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;
}
