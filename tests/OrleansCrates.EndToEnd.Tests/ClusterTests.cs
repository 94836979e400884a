using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// Several real mirror processes, silos of one Orleans cluster on a real Redis, sharing one store (an Azurite
/// container, or one filesystem root) and one counting fake upstream: each file is fetched upstream once for the whole
/// cluster, a stale index is revalidated once while every node keeps serving its copy, a node killed mid-download is
/// taken over by the crate grain's new activation, nodes join and leave under load without a failed request, and a
/// brand new node serves a whole build from the shared store with upstream gone.
/// </summary>
public sealed class ClusterTests(ClusterTests.SharedAzurite azurite) : IClassFixture<ClusterTests.SharedAzurite>, IDisposable
{
    private const int Clients = 200;
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private static readonly TimeSpan RequestsTimeout = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        AutomaticDecompression = DecompressionMethods.None,
        MaxConnectionsPerServer = Clients + 16,
        ConnectTimeout = TimeSpan.FromSeconds(10),
    })
    {
        Timeout = TimeSpan.FromSeconds(90),
    };

    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task Azure_200_concurrent_requests_across_three_nodes_cause_one_upstream_download()
    {
        await using var redis = await RedisProcess.StartAsync(_ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var cluster = await StartAzureClusterAsync(3, upstream, redis);
        await AssertOneUpstreamDownloadAsync(cluster, upstream, Graph.Get("abcd", "2.0.1"));
    }

    [Fact]
    public async Task FileSystem_200_concurrent_requests_across_three_nodes_sharing_a_root_cause_one_upstream_download()
    {
        await using var redis = await RedisProcess.StartAsync(_ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        var root = Directory.CreateTempSubdirectory("oc-cluster-fs-").FullName;
        try
        {
            await using var cluster = await MirrorCluster.StartAsync(3, upstream.IndexUrl, ClusterStorage.FileSystem(root), redis, cancellationToken: _ct);
            await AssertOneUpstreamDownloadAsync(cluster, upstream, Graph.Get("dash-name", "0.3.1"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Azure_a_stale_index_is_revalidated_once_while_every_node_serves_its_cached_copy()
    {
        const string name = "MixedCase";
        var ttl = TimeSpan.FromSeconds(2);
        var path = "index/" + RegistryPaths.IndexPath(name);
        await using var redis = await RedisProcess.StartAsync(_ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var cluster = await StartAzureClusterAsync(3, upstream, redis, ("Mirror__IndexTtl", "00:00:02"));
        var old = Graph.IndexFileFor(name)!;

        // Prime every node's copy (the first node fetches it; the others find it in the shared store, or, on a slow
        // machine, revalidate it once more). Every copy is at most as new as the moment the last answer arrived.
        DateTime? primedAt = null;
        foreach (var node in cluster.Nodes)
        {
            var primed = await GetAsync(cluster, node, path);
            primedAt = DateTime.UtcNow;
            Assert.True(primed.Status == HttpStatusCode.OK && primed.Body.AsSpan().SequenceEqual(old), $"priming {node.BaseUri}{path}: {primed}\n{cluster.Output}");
        }

        var before = upstream.IndexRequests(name);

        // A publish upstream, so a revalidated copy differs from the cached one.
        upstream.Graph = Graph.With(CrateGraph.BuildCrate(name, "1.2.0", [new CrateDependency("ab", "^0.2")]));
        var fresh = upstream.Graph.IndexFileFor(name)!;

        // Time passing, not synchronisation: every node's copy is older than the TTL after this.
        var stale = primedAt!.Value + ttl + TimeSpan.FromMilliseconds(500) - DateTime.UtcNow;
        if (stale > TimeSpan.Zero)
        {
            await Task.Delay(stale, _ct);
        }

        var stall = upstream.AddFault(new FaultRule { PathContains = "/" + path, Kind = FaultKind.Stall, Times = 1 });
        var completed = 0;
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var requests = Enumerable.Range(0, Clients).Select(async i =>
        {
            var outcome = await GetAsync(cluster, cluster[i % 3], path);
            if (Interlocked.Increment(ref completed) >= Clients - 10)
            {
                enough.TrySetResult();
            }

            return outcome;
        }).ToList();

        await WithinAsync(stall.Stalled, TimeSpan.FromSeconds(30), "one node to revalidate the stale index upstream (the Stall fault to be reached)", cluster, upstream);
        if (await Task.WhenAny(enough.Task, Task.Delay(TimeSpan.FromSeconds(30), _ct)) != enough.Task)
        {
            Assert.Fail(
                $"Timed out after 30 s waiting for at least {Clients - 10} of {Clients} requests to be answered from the nodes' cached copies " +
                $"while the revalidation is stalled; {Volatile.Read(ref completed)} were.\nUpstream requests:\n{Requests(upstream)}\n{cluster.Output}");
        }

        // Snapshot while the stall still holds: everything answered so far was served from a cached copy.
        var during = requests.Where(r => r.IsCompleted).Select(r => r.Result).ToList();
        Assert.True(during.Count >= Clients - 10, $"expected at least {Clients - 10} answers during the stall, got {during.Count}");
        Assert.All(during, r => Assert.True(
            r.Status == HttpStatusCode.OK && r.Body.AsSpan().SequenceEqual(old) && r.Stale,
            $"during the revalidation every answer must be 200 with the cached (old) bytes and X-Index-Stale; got {r}\n{cluster.Output}"));

        stall.Release();
        var all = await WithinAsync(Task.WhenAll(requests), RequestsTimeout, "every request to complete once the revalidation is released", cluster, upstream);
        Assert.All(all, r => Assert.True(
            r.Status == HttpStatusCode.OK && (r.Body.AsSpan().SequenceEqual(old) || r.Body.AsSpan().SequenceEqual(fresh)),
            $"after the revalidation every answer must be 200 with the old or the new index file; got {r}\n{cluster.Output}"));

        var revalidations = upstream.IndexRequests(name) - before;
        Assert.True(
            revalidations == 1,
            $"expected exactly ONE upstream revalidation of {path} for the whole cluster after priming, saw {revalidations}. " +
            $"Upstream requests:\n{Requests(upstream)}\n{cluster.Output}");
    }

    [Fact]
    public async Task Azure_a_node_killed_mid_download_is_taken_over_by_the_crate_grains_new_activation()
    {
        var crate = Graph.Get("under_score", "0.1.5");
        var path = $"crates/{crate.Name}/{crate.Version}/download";
        await using var redis = await RedisProcess.StartAsync(_ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var cluster = await StartAzureClusterAsync(3, upstream, redis);
        MirrorProcess a = cluster[0], b = cluster[1], c = cluster[2];
        await cluster.WaitForActiveSilosAsync(b, 3, _ct);

        // The crate's grain is placed on the first caller's silo: A downloads, and stalls mid-body.
        var stall = upstream.AddFault(new FaultRule { PathContains = $"/{crate.Name}/{crate.Version}/download", Kind = FaultKind.Stall, Times = 1 });
        var viaA = GetAsync(cluster, a, path);
        await WithinAsync(stall.Stalled, TimeSpan.FromSeconds(30), $"node A ({a.BaseUri}) to start the upstream download (the Stall fault to be reached)", cluster, upstream);

        var waiting = new[] { b, c, b, c }.Select(node => GetAsync(cluster, node, path)).ToList();
        var killedAt = Stopwatch.StartNew();
        await a.KillAsync();

        var answers = await WithinAsync(
            Task.WhenAll(waiting),
            TimeSpan.FromSeconds(90),
            "nodes B and C to get the file once A is evicted and the grain is activated again",
            cluster,
            upstream);
        var tookOver = killedAt.Elapsed;
        Assert.All(answers, r => Assert.True(
            r.Status == HttpStatusCode.OK && r.Sha256 == crate.Sha256,
            $"B and C must answer 200 with the crate's bytes (sha256 {crate.Sha256}) after the takeover; got {r} ({tookOver.TotalSeconds:0.0} s after the kill)\n{cluster.Output}"));

        // A's client saw its connection die: never a 200, and never wrong bytes. Retrying on a survivor, it gets the file.
        var fromA = await WithinAsync(viaA, TimeSpan.FromSeconds(30), "the request to the killed node A to end", cluster, upstream);
        Assert.True(fromA.Error is not null && fromA.Status is null, $"A's client must get a connection error, not an answer; got {fromA}");
        var retried = await GetAsync(cluster, c, path);
        Assert.True(retried.Status == HttpStatusCode.OK && retried.Sha256 == crate.Sha256, $"A's client retrying on C: {retried}\n{cluster.Output}");

        // The stored blob is whole: a node that never saw it before serves it from the store (once the survivors' write,
        // which runs after their answers, is done).
        await cluster.SettledAsync();
        var d = await cluster.StartNodeAsync(_ct);
        var fromD = await GetAsync(cluster, d, path);
        Assert.True(fromD.Status == HttpStatusCode.OK && fromD.Sha256 == crate.Sha256, $"a fresh 4th node: {fromD}\n{cluster.Output}");

        var downloads = upstream.Downloads(crate.Name, crate.Version);
        Assert.True(
            downloads == 2,
            $"expected exactly 2 upstream downloads (A's, broken off by the kill, and the new activation's), saw {downloads}. " +
            $"B and C answered {tookOver.TotalSeconds:0.0} s after the kill.\nUpstream requests:\n{Requests(upstream)}\n{cluster.Output}");
    }

    [Fact]
    public async Task Azure_a_node_started_under_load_joins_the_cluster_and_serves()
    {
        await using var redis = await RedisProcess.StartAsync(_ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var cluster = await StartAzureClusterAsync(3, upstream, redis);
        var crates = Graph.Crates.Take(8).ToList();
        upstream.AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Slow, Delay = TimeSpan.FromMilliseconds(200) });

        // Load on the three nodes while the fourth starts: every crate, round-robin, several rounds.
        using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(_ct);
        var load = RunLoadAsync(cluster, [cluster[0], cluster[1], cluster[2]], crates, stopLoad.Token);
        var d = await cluster.StartNodeAsync(_ct);
        await cluster.WaitForActiveSilosAsync(d, 4, _ct);
        await cluster.WaitForActiveSilosAsync(cluster[0], 4, _ct);

        var fromD = await Task.WhenAll(crates.Select(crate => GetAsync(cluster, d, $"crates/{crate.Name}/{crate.Version}/download")));
        await stopLoad.CancelAsync();
        var answers = await load;
        var failed = answers.Concat(fromD).Where(r => r.Status != HttpStatusCode.OK).ToList();
        Assert.True(failed.Count == 0, $"every request must succeed while a node joins; {failed.Count} of {answers.Count + fromD.Length} did not, e.g.:\n{string.Join('\n', failed.Take(5))}\n{cluster.Output}");
        Assert.All(crates.Zip(fromD), pair => Assert.Equal(pair.First.Sha256, pair.Second.Sha256));
        Assert.All(crates, crate => Assert.Equal(1, upstream.Downloads(crate.Name, crate.Version)));
    }

    [Fact]
    public async Task Azure_a_node_stopped_with_sigterm_leaves_without_a_failed_request()
    {
        await using var redis = await RedisProcess.StartAsync(_ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var cluster = await StartAzureClusterAsync(3, upstream, redis);
        MirrorProcess leaving = cluster[0];
        var crates = Graph.Crates.Take(12).ToList();
        upstream.AddFault(new FaultRule { PathContains = "/download", Kind = FaultKind.Slow, Delay = TimeSpan.FromMilliseconds(200) });
        await cluster.WaitForActiveSilosAsync(cluster[1], 3, _ct);

        // The leaving node owns half the crates (their grains live on the first caller's silo).
        foreach (var crate in crates.Where((_, i) => i % 2 == 0))
        {
            var primed = await GetAsync(cluster, leaving, "index/" + RegistryPaths.IndexPath(crate.Name));
            Assert.True(primed.Status == HttpStatusCode.OK, $"priming {crate.Name} on the leaving node: {primed}\n{cluster.Output}");
        }

        using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(_ct);
        var load = RunLoadAsync(cluster, [cluster[1], cluster[2]], crates, stopLoad.Token);
        var exitCode = await leaving.TerminateAsync(_ct);
        await cluster.WaitForActiveSilosAsync(cluster[1], 2, _ct);
        var after = await Task.WhenAll(crates.Select((crate, i) => GetAsync(cluster, cluster[1 + (i % 2)], $"crates/{crate.Name}/{crate.Version}/download")));
        await stopLoad.CancelAsync();
        var answers = (await load).Concat(after).ToList();

        Assert.True(exitCode == 0, $"the node stopped with SIGTERM must exit 0, not {exitCode}\n{cluster.Output}");
        var failed = answers.Where(r => r.Status != HttpStatusCode.OK).ToList();
        Assert.True(failed.Count == 0, $"every request to the remaining nodes must succeed while one leaves; {failed.Count} of {answers.Count} did not, e.g.:\n{string.Join('\n', failed.Take(5))}\n{cluster.Output}");
        Assert.All(crates.Zip(after), pair => Assert.Equal(pair.First.Sha256, pair.Second.Sha256));
    }

    [Fact]
    public async Task Azure_a_node_stopped_with_sigterm_mid_download_finishes_it_before_it_leaves()
    {
        var crate = Graph.Get("under_score", "0.1.5");
        var path = $"crates/{crate.Name}/{crate.Version}/download";
        await using var redis = await RedisProcess.StartAsync(_ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var cluster = await StartAzureClusterAsync(2, upstream, redis);
        MirrorProcess a = cluster[0], b = cluster[1];
        await cluster.WaitForActiveSilosAsync(b, 2, _ct);

        // A cold download on A (the crate's grain is placed on the first caller's silo), held mid-body upstream; B's
        // client waits on the same flight through A's grain.
        var stall = upstream.AddFault(new FaultRule { PathContains = $"/{crate.Name}/{crate.Version}/download", Kind = FaultKind.Stall, Times = 1 });
        var viaA = GetAsync(cluster, a, path);
        await WithinAsync(stall.Stalled, TimeSpan.FromSeconds(30), $"node A ({a.BaseUri}) to start the upstream download", cluster, upstream);
        var viaB = GetAsync(cluster, b, path);

        // SIGTERM to A while its download is in flight; once A has begun to stop, upstream sends the rest.
        a.Signal("TERM");
        await WithinAsync(a.WaitForOutputAsync("Application is shutting down", _ct), TimeSpan.FromSeconds(30), "node A to begin its shutdown", cluster, upstream);
        stall.Release();

        var answers = await WithinAsync(Task.WhenAll(viaA, viaB), TimeSpan.FromSeconds(90), "both clients to be answered", cluster, upstream);
        var exitCode = await a.TerminateAsync(_ct);
        Assert.All(answers, r => Assert.True(
            r.Status == HttpStatusCode.OK && r.Sha256 == crate.Sha256,
            $"both clients (A's, whose node is draining, and B's, waiting on A's grain) must get the crate's bytes (sha256 {crate.Sha256}); got {r}\n{cluster.Output}"));
        Assert.True(exitCode == 0, $"the node stopped with SIGTERM must exit 0, not {exitCode}\n{cluster.Output}");

        // Drained, not abandoned: the download A had begun is the only one, and the stored file serves on B afterwards.
        var downloads = upstream.Downloads(crate.Name, crate.Version);
        Assert.True(downloads == 1, $"expected exactly 1 upstream download (A finishes its own before leaving), saw {downloads}.\nUpstream requests:\n{Requests(upstream)}\n{cluster.Output}");
        var afterwards = await GetAsync(cluster, b, path);
        Assert.True(afterwards.Status == HttpStatusCode.OK && afterwards.Sha256 == crate.Sha256, $"B after A left: {afterwards}\n{cluster.Output}");
    }

    /// <summary>Rounds of downloads of every crate over <paramref name="nodes"/>, until stopped (and at least one round).</summary>
    private async Task<List<Answer>> RunLoadAsync(MirrorCluster cluster, MirrorProcess[] nodes, List<SyntheticCrate> crates, CancellationToken stop)
    {
        var answers = new List<Answer>();
        var round = 0;
        do
        {
            var n = round++;
            answers.AddRange(await Task.WhenAll(crates.Select((crate, i) =>
                GetAsync(cluster, nodes[(i + n) % nodes.Length], $"crates/{crate.Name}/{crate.Version}/download"))));
        }
        while (!stop.IsCancellationRequested);
        return answers;
    }

    [Fact]
    public async Task Azure_a_brand_new_node_serves_a_whole_build_from_the_shared_store_with_upstream_stopped()
    {
        await using var redis = await RedisProcess.StartAsync(_ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var cluster = await StartAzureClusterAsync(2, upstream, redis);
        using var first = CargoProject.Create(cluster[0].IndexUrl, Graph);
        using var second = CargoProject.Create(cluster[1].IndexUrl, Graph);
        async Task ResolveAndFetchAsync(CargoProject project)
        {
            await CargoAsync(project, cluster, "generate-lockfile");
            await CargoAsync(project, cluster, "fetch");
        }

        await Task.WhenAll(ResolveAndFetchAsync(first), ResolveAndFetchAsync(second));
        var lockfile = first.ReadLockfile();
        Assert.Equal(lockfile, second.ReadLockfile());

        // What the two nodes answered is in the shared store once their writes (which run after the answers) are done.
        await cluster.SettledAsync();
        await upstream.StopAsync(_ct);
        var fresh = await cluster.StartNodeAsync(_ct);
        using var third = CargoProject.Create(fresh.IndexUrl, Graph);
        third.SetNetRetry(0); // a node that cannot serve must fail the run, not sleep in retries
        Assert.False(File.Exists(third.LockfilePath));
        await CargoAsync(third, cluster, "generate-lockfile");
        await CargoAsync(third, cluster, "fetch");
        await CargoAsync(third, cluster, "build", "--offline");
        Assert.Equal(lockfile, third.ReadLockfile());
    }

    private async Task<MirrorCluster> StartAzureClusterAsync(int nodes, FakeUpstream upstream, RedisProcess redis, params (string Key, string Value)[] settings)
    {
        var emulator = await azurite.GetAsync(_ct);
        return await MirrorCluster.StartAsync(
            nodes,
            upstream.IndexUrl,
            ClusterStorage.AzureBlob(emulator),
            redis,
            settings.ToDictionary(s => s.Key, s => s.Value),
            _ct);
    }

    /// <summary>
    /// <see cref="Clients"/> concurrent requests for one uncached crate file, round-robin over the nodes, while upstream
    /// takes a second to answer: exactly one upstream download, and every client gets the crate's exact bytes.
    /// </summary>
    private async Task AssertOneUpstreamDownloadAsync(MirrorCluster cluster, FakeUpstream upstream, SyntheticCrate crate)
    {
        var path = $"crates/{crate.Name}/{crate.Version}/download";
        upstream.AddFault(new FaultRule { PathContains = $"/{crate.Name}/{crate.Version}/download", Kind = FaultKind.Slow, Delay = TimeSpan.FromSeconds(1) });
        var nodes = cluster.Nodes;
        var answers = await WithinAsync(
            Task.WhenAll(Enumerable.Range(0, Clients).Select(i => GetAsync(cluster, nodes[i % nodes.Count], path))),
            RequestsTimeout,
            $"{Clients} concurrent downloads of {crate} across {nodes.Count} nodes to complete",
            cluster,
            upstream);

        var wrong = answers.Where(r => r.Status != HttpStatusCode.OK || r.Sha256 != crate.Sha256).ToList();
        Assert.True(
            wrong.Count == 0,
            $"expected every client to get 200 with sha256 {crate.Sha256}; {wrong.Count} did not, e.g.:\n" +
            $"{string.Join('\n', wrong.Take(5))}\n{cluster.Output}");
        Assert.All(answers, r => Assert.Equal(crate.CrateBytes, r.Body));

        var downloads = upstream.Downloads(crate.Name, crate.Version);
        Assert.True(
            downloads == 1,
            $"expected exactly ONE upstream download of {crate} for {Clients} clients on {nodes.Count} nodes ({cluster.Storage.Description}), " +
            $"saw {downloads}.\nUpstream requests:\n{Requests(upstream)}\n{cluster.Output}");
        var indexRequests = upstream.IndexRequests(crate.Name);
        Assert.True(
            indexRequests == 1,
            $"expected exactly ONE upstream request for the index file of {crate.Name} (it is needed for the checksum), saw {indexRequests}.\n" +
            $"Upstream requests:\n{Requests(upstream)}\n{cluster.Output}");
    }

    private async Task<Answer> GetAsync(MirrorCluster cluster, MirrorProcess node, string relative)
    {
        var index = cluster.Nodes.ToList().IndexOf(node);
        try
        {
            using var response = await _http.GetAsync(new Uri(node.BaseUri, relative), _ct);
            var body = await response.Content.ReadAsByteArrayAsync(_ct);
            return new Answer(index, response.StatusCode, body, response.Headers.Contains("X-Index-Stale"), null);
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is TaskCanceledException && !_ct.IsCancellationRequested))
        {
            return new Answer(index, null, [], false, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private async Task CargoAsync(CargoProject project, MirrorCluster cluster, params string[] args)
    {
        var result = await project.RunAsync(args, TimeSpan.FromMinutes(2), _ct);
        Assert.True(result.Succeeded, $"cargo {string.Join(' ', args)} against {project.IndexUrl} failed: {result}\n{cluster.Output}");
    }

    private static async Task<T> WithinAsync<T>(Task<T> task, TimeSpan timeout, string expectation, MirrorCluster cluster, FakeUpstream upstream)
    {
        await WithinAsync((Task)task, timeout, expectation, cluster, upstream);
        return await task;
    }

    private static async Task WithinAsync(Task task, TimeSpan timeout, string expectation, MirrorCluster cluster, FakeUpstream upstream)
    {
        try
        {
            await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Timed out after {timeout.TotalSeconds:0} s waiting for {expectation}.\nUpstream requests:\n{Requests(upstream)}\n{cluster.Output}");
        }
    }

    private static string Requests(FakeUpstream upstream) =>
        string.Join('\n', upstream.Requests.Select(r => $"  {r.Method} {r.Path} -> {r.Status}{(r.IfNoneMatch is null ? string.Empty : $" (If-None-Match {r.IfNoneMatch})")}"));

    /// <summary>One client's result: a status and body, or the error that ended the request.</summary>
    private sealed record Answer(int Node, HttpStatusCode? Status, byte[] Body, bool Stale, string? Error)
    {
        public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Body));

        public override string ToString() => Error is not null
            ? $"node {Node}: {Error}"
            : $"node {Node}: {(int?)Status} {Status}, {Body.Length} bytes, sha256 {Sha256}{(Stale ? ", X-Index-Stale" : string.Empty)}" +
              (Status == HttpStatusCode.OK ? string.Empty : $": {System.Text.Encoding.UTF8.GetString(Body.AsSpan(0, Math.Min(Body.Length, 300)))}");
    }

    /// <summary>One Azurite for the whole class, started on first use (the FileSystem test never needs it).</summary>
    public sealed class SharedAzurite : IAsyncLifetime
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private AzuriteProcess? _azurite;

        public async Task<AzuriteProcess> GetAsync(CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken);
            try
            {
                return _azurite ??= await AzuriteProcess.StartAsync(cancellationToken);
            }
            finally
            {
                _gate.Release();
            }
        }

        public Task InitializeAsync() => Task.CompletedTask;

        public async Task DisposeAsync()
        {
            if (_azurite is not null)
            {
                await _azurite.DisposeAsync();
            }

            _gate.Dispose();
        }
    }
}
