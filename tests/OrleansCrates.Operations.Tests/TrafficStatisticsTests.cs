using Microsoft.Extensions.Options;
using OrleansCrates.Operations.Statistics;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Operations.Tests;

/// <summary>Traffic counters: aggregated in memory, written once per flush per node, merged by summing across nodes.</summary>
public sealed class TrafficStatisticsTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2025, 3, 10, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateOnly Day = new(2025, 3, 10);
    private readonly string _root = Directory.CreateTempSubdirectory("oc-stats-").FullName;
    private readonly FakeTimeProvider _clock = new(Start);
    private readonly FileSystemObjectStore _store;

    public TrafficStatisticsTests() => _store = new FileSystemObjectStore(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private TrafficStatistics Node(string name) => new(_store, _clock, Options.Create(new StatisticsOptions { Node = name, CacheTtl = TimeSpan.Zero }));

    private static TrafficEvent Download(string crate, string version, long bytes, string client, CacheOutcome outcome = CacheOutcome.Hit, DateTimeOffset? at = null) =>
        new(at ?? Start, TrafficKind.Download, "mirror", crate, version, 200, bytes, outcome, client);

    private static TrafficEvent Index(int status, string client, CacheOutcome? outcome) =>
        new(Start, TrafficKind.Index, "mirror", null, null, status, status == 200 ? 100 : 0, outcome, client);

    private async Task<List<string>> KeysAsync(string prefix)
    {
        var keys = new List<string>();
        await foreach (var p in _store.ListAsync(prefix, CancellationToken.None))
        {
            keys.Add(p.Key);
        }

        return keys;
    }

    [Fact]
    public async Task Recording_writes_nothing_until_a_flush_and_a_flush_writes_one_object_per_day()
    {
        var node = Node("n1");
        for (var i = 0; i < 1000; i++)
        {
            node.Record(Download("serde", "1.0.0", 10, "ip:10.0.0.1"));
        }

        node.Record(Download("serde", "1.0.0", 10, "ip:10.0.0.1", at: Start.AddDays(1)));
        Assert.Empty(await KeysAsync("stats/"));

        Assert.Equal(2, await node.FlushAsync(CancellationToken.None));
        var keys = await KeysAsync("stats/");
        Assert.Contains(TrafficStatistics.SaltKey, keys);
        Assert.Single(keys, k => k.StartsWith("stats/2025-03-10/n1-", StringComparison.Ordinal));
        Assert.Single(keys, k => k.StartsWith("stats/2025-03-11/n1-", StringComparison.Ordinal));
        Assert.False(node.HasPending);
        Assert.Equal(0, await node.FlushAsync(CancellationToken.None)); // nothing new: nothing written
    }

    [Fact]
    public async Task Merged_days_equal_the_sum_of_every_node_and_clients_are_united()
    {
        var one = Node("n1");
        var two = Node("n2");
        for (var i = 0; i < 3; i++)
        {
            one.Record(Download("serde", "1.0.0", 1000, "token:aaa"));
        }

        one.Record(Index(200, "ip:10.0.0.1", CacheOutcome.Miss));
        two.Record(Download("serde", "1.0.0", 1000, "token:bbb", CacheOutcome.Miss));
        two.Record(Download("serde", "1.0.0", 1000, "token:bbb"));
        two.Record(Download("rand", "0.8.5", 500, "token:aaa", CacheOutcome.Stale));
        two.Record(Index(502, "ip:10.0.0.1", null));
        await one.FlushAsync(CancellationToken.None);
        _clock.Advance(TimeSpan.FromMinutes(1));
        two.Record(Index(200, "ip:10.0.0.2", CacheOutcome.Hit));
        await two.FlushAsync(CancellationToken.None);
        await two.FlushAsync(CancellationToken.None);

        var reader = Node("reader");
        var (_, day) = Assert.Single(await reader.GetDaysAsync(Day, Day, CancellationToken.None));
        Assert.Equal(9, day.Requests);
        Assert.Equal(6, day.Downloads);
        Assert.Equal(5500, day.DownloadBytes);
        Assert.Equal(5700, day.Bytes);
        Assert.Equal(new CrateCounter(5, 5000), day.Crates[new CrateVersionKey("mirror", "serde", "1.0.0")]);
        Assert.Equal(new CrateCounter(1, 500), day.Crates[new CrateVersionKey("mirror", "rand", "0.8.5")]);
        Assert.Equal(5, day.Hits);
        Assert.Equal(2, day.Misses);
        Assert.Equal(1, day.Stale);
        Assert.Equal(1, day.Errors);
        Assert.Equal(4100, day.UpstreamBytesSaved); // 4 crate hits + 1 index hit
        Assert.Equal(4, day.Clients.Count); // token:aaa on both nodes counts once; two addresses
        Assert.All(day.Clients, c => Assert.Matches("^[0-9a-f]{16}$", c)); // hashes only, never the raw identity
        Assert.Equal(5.0 / 8, day.HitRatio);
    }

    [Fact]
    public async Task A_merged_day_picks_up_later_flushes_without_counting_earlier_ones_twice()
    {
        var node = Node("n1");
        var reader = Node("reader");
        node.Record(Download("serde", "1.0.0", 10, "ip:1"));
        await node.FlushAsync(CancellationToken.None);
        Assert.Equal(1, (await reader.GetDaysAsync(Day, Day, CancellationToken.None))[0].Statistics.Downloads);

        node.Record(Download("serde", "1.0.0", 10, "ip:2"));
        await node.FlushAsync(CancellationToken.None);
        var day = (await reader.GetDaysAsync(Day, Day, CancellationToken.None))[0].Statistics;
        Assert.Equal(2, day.Downloads);
        Assert.Equal(2, day.Clients.Count);
    }

    [Fact]
    public async Task Hashes_use_one_salt_per_deployment_so_nodes_agree_on_a_client()
    {
        var one = Node("n1");
        var two = Node("n2");
        one.Record(Download("serde", "1.0.0", 10, "ip:10.1.1.1"));
        two.Record(Download("serde", "1.0.0", 10, "ip:10.1.1.1"));
        await Task.WhenAll(one.FlushAsync(CancellationToken.None), two.FlushAsync(CancellationToken.None));
        var day = (await Node("reader").GetDaysAsync(Day, Day, CancellationToken.None))[0].Statistics;
        Assert.Single(day.Clients);
        Assert.Equal(2, day.Downloads);
    }

    [Fact]
    public async Task A_failed_flush_keeps_the_counters_for_the_next_one()
    {
        var failing = new FailingStore(_store);
        var node = new TrafficStatistics(failing, _clock, Options.Create(new StatisticsOptions { Node = "n1" }));
        node.Record(Download("serde", "1.0.0", 10, "ip:1"));
        failing.Fail = true;
        await Assert.ThrowsAsync<StorageUnavailableException>(() => node.FlushAsync(CancellationToken.None));
        node.Record(Download("serde", "1.0.0", 10, "ip:2"));

        failing.Fail = false;
        Assert.Equal(1, await node.FlushAsync(CancellationToken.None));
        var day = (await Node("reader").GetDaysAsync(Day, Day, CancellationToken.None))[0].Statistics;
        Assert.Equal(2, day.Downloads);
        Assert.Equal(2, day.Clients.Count);
    }

    [Fact]
    public void Merging_is_additive_and_order_independent()
    {
        DayStatistics Make(string client, long downloads)
        {
            var d = new DayStatistics();
            for (var i = 0; i < downloads; i++)
            {
                d.Add(Download("x", "1.0.0", 7, client), int.MaxValue);
            }

            return d;
        }

        var ab = new DayStatistics();
        ab.Merge(Make("a", 2));
        ab.Merge(Make("b", 3));
        var ba = new DayStatistics();
        ba.Merge(Make("b", 3));
        ba.Merge(Make("a", 2));
        foreach (var merged in new[] { ab, ba })
        {
            Assert.Equal(5, merged.Downloads);
            Assert.Equal(35, merged.Bytes);
            Assert.Equal(2, merged.Clients.Count);
            Assert.Equal(new CrateCounter(5, 35), merged.Crates[new CrateVersionKey("mirror", "x", "1.0.0")]);
        }
    }

    private sealed class FailingStore(IObjectStore inner) : IObjectStore
    {
        public bool Fail { get; set; }

        public Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken) => inner.OpenReadOrNullAsync(key, cancellationToken);

        public Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken) => inner.GetPropertiesOrNullAsync(key, cancellationToken);

        public Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken) =>
            Fail ? throw new StorageUnavailableException("storage is down") : inner.BeginUploadAsync(key, condition, cancellationToken);

        public Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken) => inner.DeleteAsync(key, ifMatch, cancellationToken);

        public IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

        public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);
    }
}
