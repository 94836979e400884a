using System.Diagnostics.Metrics;

namespace OrleansCrates.Operations.Telemetry;

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
/// measured by ASP.NET Core itself (<c>http.server.request.duration</c>). The two counters every warm request touches
/// (bytes served, cache results) are plain interlocked totals per tag combination, read by observable counters at
/// collection time: a warm request pays one atomic add per counter instead of the SDK's per-measurement tag lookup
/// and aggregation (which showed as 3–4 % of a warm index request's cycles in a profile). Everything else uses the
/// non-allocating tag overloads (at most three tags) and tag values that are cached constants or stable strings.
/// </summary>
public sealed class OrleansCratesMetrics
{
    public const string MeterName = "OrleansCrates";

    /// <summary>Seconds buckets for upstream and storage latencies (given to OpenTelemetry as advice).</summary>
    public static readonly IReadOnlyList<double> SecondsBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private static readonly string[] FileKinds = ["index", "crate"];
    private static readonly string[] Registries = ["mirror", "private"];
    private static readonly string[] Outcomes = ["hit", "miss", "stale"];
    private static readonly string[] UpstreamKinds = ["index", "download"];
    internal static readonly string[] UpstreamResultNames = ["ok", "not_found", "error", "timeout"];
    private static readonly string[] StorageOperations = ["read", "properties", "write", "delete", "list"];

    /// <summary>Instruments nobody collects (an unregistered meter): for components constructed without DI, e.g. in unit tests.</summary>
    /// <remarks>Declared after the tag arrays: static fields initialise in order, and the instance's totals are sized by them.</remarks>
    public static readonly OrleansCratesMetrics Unobserved = new(new Meter(MeterName), observed: false);

    private readonly bool _observed;
    private readonly Lock _gate = new();
    private readonly List<(FileKind Kind, Func<int> Count)> _inFlightSources = [];
    private readonly List<(FileKind Kind, Func<HotSetStatistics> Read)> _hotSetSources = [];
    private readonly long[] _bytesServed = new long[Registries.Length * FileKinds.Length];
    private readonly long[] _cacheResults = new long[FileKinds.Length * Outcomes.Length];
    private long _bytesSentByKernel;
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
        meter.CreateObservableCounter("orleanscrates.served", ObserveBytesServed, "By", "Response body bytes of index and crate files written to clients, by registry (mirror, private) and kind (index, crate).");
        meter.CreateObservableCounter("orleanscrates.served.kernel", () => Interlocked.Read(ref _bytesSentByKernel), "By", "Crate file bytes, of those counted in orleanscrates.served, that the kernel sent from a file (sendfile: Server:SendFile) without their passing through the process.");
        meter.CreateObservableCounter("orleanscrates.cache.results", ObserveCacheResults, "{request}", "Mirror index and crate file requests by cache outcome: hit (memory or storage), miss (waited for a fetch) or stale (served an expired copy).");
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
        Interlocked.Add(ref _bytesServed[((int)registry * FileKinds.Length) + (int)kind], bytes);

    public void BytesSentByKernel(long bytes) => Interlocked.Add(ref _bytesSentByKernel, bytes);

    public void CacheResult(FileKind kind, CacheOutcome outcome) =>
        Interlocked.Increment(ref _cacheResults[((int)kind * Outcomes.Length) + (int)outcome]);

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

    private IEnumerable<Measurement<long>> ObserveBytesServed()
    {
        for (var registry = 0; registry < Registries.Length; registry++)
        {
            for (var kind = 0; kind < FileKinds.Length; kind++)
            {
                var total = Interlocked.Read(ref _bytesServed[(registry * FileKinds.Length) + kind]);
                if (total > 0)
                {
                    yield return new Measurement<long>(total, new("registry", Registries[registry]), new("kind", FileKinds[kind]));
                }
            }
        }
    }

    private IEnumerable<Measurement<long>> ObserveCacheResults()
    {
        for (var kind = 0; kind < FileKinds.Length; kind++)
        {
            for (var outcome = 0; outcome < Outcomes.Length; outcome++)
            {
                var total = Interlocked.Read(ref _cacheResults[(kind * Outcomes.Length) + outcome]);
                if (total > 0)
                {
                    yield return new Measurement<long>(total, new("kind", FileKinds[kind]), new("outcome", Outcomes[outcome]));
                }
            }
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
