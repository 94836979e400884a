using System.Diagnostics.Metrics;

namespace OrleansCrates.Core.Telemetry;

/// <summary>Which registry served the bytes.</summary>
public enum ServedRegistry
{
    Mirror,
    Private,
}

/// <summary>What kind of file a measurement is about: an index file or a crate file.</summary>
public enum FileKind
{
    Index,
    Crate,
}

/// <summary>How one request to one upstream ended.</summary>
public enum UpstreamResult
{
    Ok,
    NotFound,
    Error,
    Timeout,
}

public enum StorageOperation
{
    Read,
    Properties,
    Write,
    Delete,
    List,
}

/// <summary>
/// The instruments of the <c>OrleansCrates</c> meter (System.Diagnostics.Metrics, the API the OpenTelemetry SDK listens
/// to). Names follow OpenTelemetry's conventions (dotted, the unit in <see cref="Instrument.Unit"/>, not in the name);
/// the Prometheus exporter turns <c>orleanscrates.upstream.request.duration</c> (s) into
/// <c>orleanscrates_upstream_request_duration_seconds</c> and adds <c>_total</c> to counters. HTTP requests are
/// measured by ASP.NET Core itself (<c>http.server.request.duration</c>). Every recording method uses the
/// non-allocating tag overloads (at most three tags) and tag values that are cached constants or stable strings, so the
/// hot paths pay the SDK's lookup per measurement and nothing when no listener is attached.
/// </summary>
public sealed class OrleansCratesMetrics
{
    public const string MeterName = "OrleansCrates";

    /// <summary>Seconds buckets for upstream and storage latencies (given to OpenTelemetry as advice).</summary>
    public static readonly IReadOnlyList<double> SecondsBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    /// <summary>Instruments nobody collects (an unregistered meter): for components constructed without DI, e.g. in unit tests.</summary>
    public static readonly OrleansCratesMetrics Unobserved = new(new Meter(MeterName), observed: false);

    private static readonly string[] FileKinds = ["index", "crate"];
    private static readonly string[] Registries = ["mirror", "private"];
    private static readonly string[] Outcomes = ["hit", "miss", "stale"];
    private static readonly string[] UpstreamKinds = ["index", "download"];
    internal static readonly string[] UpstreamResultNames = ["ok", "not_found", "error", "timeout"];
    private static readonly string[] StorageOperations = ["read", "properties", "write", "delete", "list"];

    private readonly bool _observed;
    private readonly Lock _gate = new();
    private readonly List<(FileKind Kind, Func<int> Count)> _inFlightSources = [];
    private readonly List<(FileKind Kind, Func<HotSetStatistics> Read)> _hotSetSources = [];
    private readonly Counter<long> _bytesServed;
    private readonly Counter<long> _cacheResults;
    private readonly Counter<long> _upstreamRequests;
    private readonly Histogram<double> _upstreamDuration;
    private readonly Counter<long> _coalescedWaiters;
    private readonly Histogram<double> _storageDuration;

    public OrleansCratesMetrics(IMeterFactory meterFactory)
        : this(meterFactory.Create(new MeterOptions(MeterName) { Version = typeof(OrleansCratesMetrics).Assembly.GetName().Version?.ToString(3) }), observed: true)
    {
    }

    private OrleansCratesMetrics(Meter meter, bool observed)
    {
        Meter = meter;
        _observed = observed;
        var seconds = new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets };
        _bytesServed = meter.CreateCounter<long>("orleanscrates.served", "By", "Response body bytes of index and crate files written to clients, by registry (mirror, private) and kind (index, crate).");
        _cacheResults = meter.CreateCounter<long>("orleanscrates.cache.results", "{request}", "Mirror index and crate file requests by cache outcome: hit (memory or storage), miss (waited for a fetch) or stale (served an expired copy).");
        _upstreamRequests = meter.CreateCounter<long>("orleanscrates.upstream.requests", "{request}", "Requests to upstream registries, by upstream, kind (index, download) and result (ok, not_found, error, timeout).");
        _upstreamDuration = meter.CreateHistogram("orleanscrates.upstream.request.duration", "s", "Time until an upstream answered (response headers), by upstream.", tags: null, advice: seconds);
        _coalescedWaiters = meter.CreateCounter<long>("orleanscrates.coalesced_waiters", "{request}", "Requests that joined a fetch already running on this node instead of starting one, by kind (index, crate).");
        _storageDuration = meter.CreateHistogram("orleanscrates.storage.operation.duration", "s", "Object storage latency, by operation (read, properties, write, delete, list) and result (ok, not_found, conflict, cancelled, error).", tags: null, advice: seconds);
        meter.CreateObservableUpDownCounter("orleanscrates.inflight_fetches", ObserveInFlight, "{fetch}", "Index refreshes and crate file fetches running on this node (each shared by all its waiters), by kind.");
        meter.CreateObservableGauge("orleanscrates.hot_set.budget", () => ObserveHotSet(s => s.BudgetBytes), "By", "Configured memory budget of this node's hot set, by kind (index: Mirror:IndexMemoryCacheBytes, crate: Mirror:HotFileCacheBytes).");
        meter.CreateObservableGauge("orleanscrates.hot_set.size", () => ObserveHotSet(s => s.Bytes), "By", "Bytes this node's hot set holds now (never above its budget), by kind.");
        meter.CreateObservableGauge("orleanscrates.hot_set.hit_ratio", () => ObserveHotSet(s => s.HitRatio), "1", "Lookups in this node's hot set that found the file in memory, over all lookups since start, by kind.");
    }

    public Meter Meter { get; }

    public void BytesServed(ServedRegistry registry, FileKind kind, long bytes) =>
        _bytesServed.Add(bytes, new("registry", Registries[(int)registry]), new("kind", FileKinds[(int)kind]));

    public void CacheResult(FileKind kind, CacheOutcome outcome) =>
        _cacheResults.Add(1, new("kind", FileKinds[(int)kind]), new("outcome", Outcomes[(int)outcome]));

    public void UpstreamRequest(string upstream, bool download, UpstreamResult result, TimeSpan elapsed)
    {
        var name = new KeyValuePair<string, object?>("upstream", upstream);
        _upstreamRequests.Add(1, name, new("kind", UpstreamKinds[download ? 1 : 0]), new("result", UpstreamResultNames[(int)result]));
        _upstreamDuration.Record(elapsed.TotalSeconds, name);
    }

    /// <summary>A single-flight join that found the work already running (<c>Started == false</c>).</summary>
    public void CoalescedWaiter(FileKind kind) => _coalescedWaiters.Add(1, new KeyValuePair<string, object?>("kind", FileKinds[(int)kind]));

    /// <summary>One storage call; <paramref name="result"/> is ok, not_found, conflict or error.</summary>
    public void StorageCall(StorageOperation operation, string result, double seconds) =>
        _storageDuration.Record(seconds, new("operation", StorageOperations[(int)operation]), new("result", result));

    /// <summary>Adds a source for the in-flight fetches gauge (ignored on <see cref="Unobserved"/>, which nobody reads).</summary>
    public void ObserveInFlight(FileKind kind, Func<int> count)
    {
        if (!_observed)
        {
            return;
        }

        lock (_gate)
        {
            _inFlightSources.Add((kind, count));
        }
    }

    /// <summary>Adds a source for the hot-set gauges: one memory layer's budget, size and lookups.</summary>
    public void ObserveHotSet(FileKind kind, Func<HotSetStatistics> read)
    {
        if (!_observed)
        {
            return;
        }

        lock (_gate)
        {
            _hotSetSources.Add((kind, read));
        }
    }

    private List<Measurement<T>> ObserveHotSet<T>(Func<HotSetStatistics, T> value)
        where T : struct
    {
        lock (_gate)
        {
            var measurements = new List<Measurement<T>>(_hotSetSources.Count);
            foreach (var (kind, read) in _hotSetSources)
            {
                measurements.Add(new Measurement<T>(value(read()), new KeyValuePair<string, object?>("kind", FileKinds[(int)kind])));
            }

            return measurements;
        }
    }

    private List<Measurement<int>> ObserveInFlight()
    {
        lock (_gate)
        {
            int index = 0, crate = 0;
            foreach (var (kind, count) in _inFlightSources)
            {
                if (kind == FileKind.Index)
                {
                    index += count();
                }
                else
                {
                    crate += count();
                }
            }

            return
            [
                new Measurement<int>(index, new KeyValuePair<string, object?>("kind", "index")),
                new Measurement<int>(crate, new KeyValuePair<string, object?>("kind", "crate")),
            ];
        }
    }
}
