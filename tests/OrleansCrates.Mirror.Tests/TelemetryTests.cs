using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// The project's instruments as the OpenTelemetry SDK exports them (in memory). Each test gets its own meter (the
/// factory gives it a unique name), so tests running in parallel never see each other's measurements.
/// </summary>
public sealed class TelemetryTests : IDisposable
{
    private readonly TestMeterFactory _meters = new();
    private readonly List<MetricSnapshot> _exported = [];
    private readonly MeterProvider _provider;
    private readonly OrleansCratesMetrics _metrics;

    public TelemetryTests()
    {
        _metrics = new OrleansCratesMetrics(_meters);
        _provider = Sdk.CreateMeterProviderBuilder().AddMeter(_metrics.Meter.Name).AddInMemoryExporter(_exported).Build();
    }

    public void Dispose()
    {
        _provider.Dispose();
        _meters.Dispose();
    }

    [Fact]
    public void The_instruments_have_opentelemetry_names_units_and_their_tags()
    {
        _metrics.BytesServed(ServedRegistry.Mirror, FileKind.Crate, 1234);
        _metrics.BytesServed(ServedRegistry.Private, FileKind.Index, 10);
        _metrics.CacheResult(FileKind.Index, CacheOutcome.Stale);
        _metrics.UpstreamRequest("index.crates.io", download: true, UpstreamResult.Timeout, TimeSpan.FromSeconds(30));
        _metrics.CoalescedWaiter(FileKind.Crate);
        _metrics.CoalescedWaiter(FileKind.Crate);
        _metrics.StorageCall(StorageOperation.Write, "conflict", 0.01);
        _metrics.ObserveInFlight(FileKind.Index, () => 2);
        _metrics.ObserveInFlight(FileKind.Index, () => 1);

        var exported = Collect();

        Assert.Equal("By", exported["orleanscrates.served"].Unit);
        Assert.Equal(1234, Sum(exported["orleanscrates.served"], ("registry", "mirror"), ("kind", "crate")));
        Assert.Equal(10, Sum(exported["orleanscrates.served"], ("registry", "private"), ("kind", "index")));
        Assert.Equal(1, Sum(exported["orleanscrates.cache.results"], ("kind", "index"), ("outcome", "stale")));
        Assert.Equal(1, Sum(exported["orleanscrates.upstream.requests"], ("upstream", "index.crates.io"), ("kind", "download"), ("result", "timeout")));
        Assert.Equal("s", exported["orleanscrates.upstream.request.duration"].Unit);
        Assert.Equal((1, 30.0), Histogram(exported["orleanscrates.upstream.request.duration"], ("upstream", "index.crates.io")));
        Assert.Equal(2, Sum(exported["orleanscrates.coalesced_waiters"], ("kind", "crate")));
        Assert.Equal((1, 0.01), Histogram(exported["orleanscrates.storage.operation.duration"], ("operation", "write"), ("result", "conflict")));
        Assert.Equal(3, Sum(exported["orleanscrates.inflight_fetches"], ("kind", "index")));
        Assert.Equal(0, Sum(exported["orleanscrates.inflight_fetches"], ("kind", "crate")));
        Assert.DoesNotContain(exported.Keys, name => name.Contains("http", StringComparison.Ordinal)); // ASP.NET Core measures requests
    }

    [Fact]
    public void Latency_histograms_use_the_seconds_buckets()
    {
        _metrics.StorageCall(StorageOperation.Read, "ok", 0.003);

        var point = Assert.Single(Collect()["orleanscrates.storage.operation.duration"].MetricPoints);
        var bounds = new List<double>();
        foreach (var bucket in point.GetHistogramBuckets())
        {
            if (!double.IsPositiveInfinity(bucket.ExplicitBound))
            {
                bounds.Add(bucket.ExplicitBound);
            }

            if (bucket.BucketCount > 0)
            {
                Assert.Equal(0.005, bucket.ExplicitBound); // 0.003 lands in (0.0025, 0.005]
            }
        }

        Assert.Equal(OrleansCratesMetrics.SecondsBuckets, bounds);
    }

    [Fact]
    public void The_hot_set_budget_size_and_hit_ratio_are_exposed_per_kind()
    {
        using var crates = new Mirror.HotFileCache(capacityBytes: 100_000, maxFileBytes: 10_000);
        _metrics.ObserveHotSet(FileKind.Crate, () => crates.Statistics);
        crates.Add("crates/a", new byte[1_000], "\"a\"", DateTimeOffset.UnixEpoch);
        using (crates.OpenOrNull("crates/a"))
        {
        }

        Assert.Null(crates.OpenOrNull("crates/b"));

        var exported = Collect();

        Assert.Equal(100_000, Gauge(exported["orleanscrates.hot_set.budget"], ("kind", "crate")));
        Assert.Equal(1_000 + Mirror.HotFileCache.EntryOverhead, Gauge(exported["orleanscrates.hot_set.size"], ("kind", "crate")));
        Assert.Equal(0.5, Gauge(exported["orleanscrates.hot_set.hit_ratio"], ("kind", "crate")));
    }

    [Fact]
    public async Task The_instrumented_store_times_each_operation_with_its_result()
    {
        var root = Directory.CreateTempSubdirectory("oc-telemetry-").FullName;
        try
        {
            var store = new InstrumentedObjectStore(new FileSystemObjectStore(root), _metrics);
            var ct = CancellationToken.None;

            Assert.Null(await store.OpenReadOrNullAsync("a/missing", ct));
            Assert.True((await store.PutAsync("a/b", new byte[] { 1, 2, 3 }, WriteCondition.IfNotExists, ct)).Succeeded);
            Assert.False((await store.PutAsync("a/b", new byte[] { 1 }, WriteCondition.IfNotExists, ct)).Succeeded);
            await using (var read = await store.OpenReadOrNullAsync("a/b", ct))
            {
                Assert.NotNull(read);
            }

            Assert.NotNull(await store.GetPropertiesOrNullAsync("a/b", ct));
            await foreach (var _ in store.ListAsync("a/", ct))
            {
            }

            Assert.Equal(DeleteResult.Deleted, await store.DeleteAsync("a/b", null, ct));
            await store.PrepareWriteAsync("c/d/e", ct); // passed through (the file store makes the folder), not timed
            Assert.True(Directory.Exists(Path.Combine(root, "c", "d")));

            var storage = Collect()["orleanscrates.storage.operation.duration"];
            long Count(string operation, string result) => Histogram(storage, ("operation", operation), ("result", result)).Count;
            Assert.Equal(1, Count("read", "not_found"));
            Assert.Equal(1, Count("read", "ok"));
            Assert.Equal(1, Count("write", "ok"));
            Assert.Equal(1, Count("write", "conflict"));
            Assert.Equal(1, Count("properties", "ok"));
            Assert.Equal(1, Count("list", "ok"));
            Assert.Equal(1, Count("delete", "ok"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Exports now and returns the latest snapshot of each instrument, by name.</summary>
    private Dictionary<string, MetricSnapshot> Collect()
    {
        _exported.Clear();
        Assert.True(_provider.ForceFlush());
        return _exported.GroupBy(m => m.Name).ToDictionary(g => g.Key, g => g.Last());
    }

    private static long Sum(MetricSnapshot metric, params (string Key, string Value)[] tags) =>
        Matching(metric, tags).Sum(p => metric.MetricType is MetricType.LongSum or MetricType.LongSumNonMonotonic ? p.GetSumLong() : (long)p.GetSumDouble());

    private static double Gauge(MetricSnapshot metric, params (string Key, string Value)[] tags) =>
        Matching(metric, tags).Select(p => metric.MetricType == MetricType.LongGauge ? p.GetGaugeLastValueLong() : p.GetGaugeLastValueDouble()).Single();

    private static (long Count, double Sum) Histogram(MetricSnapshot metric, params (string Key, string Value)[] tags)
    {
        var points = Matching(metric, tags).ToList();
        return (points.Sum(p => p.GetHistogramCount()), points.Sum(p => p.GetHistogramSum()));
    }

    /// <summary>The points whose tags include all of <paramref name="tags"/>.</summary>
    private static IEnumerable<MetricPoint> Matching(MetricSnapshot metric, (string Key, string Value)[] tags)
    {
        foreach (var point in metric.MetricPoints)
        {
            var have = new Dictionary<string, object?>();
            foreach (var tag in point.Tags)
            {
                have[tag.Key] = tag.Value;
            }

            if (tags.All(t => have.TryGetValue(t.Key, out var value) && Equals(value, t.Value)))
            {
                yield return point;
            }
        }
    }

    /// <summary>Gives every meter a unique name, so a provider listening to it sees this test's measurements only.</summary>
    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter($"{options.Name}.test.{Guid.NewGuid():N}", options.Version);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters)
            {
                meter.Dispose();
            }
        }
    }
}
