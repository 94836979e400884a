using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansCrates.Core.Telemetry;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;

namespace OrleansCrates.Core.Tests;

/// <summary>The metrics collector, the Prometheus text format and the OTLP/JSON push.</summary>
public sealed class TelemetryTests : IDisposable
{
    private readonly Meter _meter = new("test.telemetry." + Guid.NewGuid().ToString("N"), "1.2.3");

    public void Dispose() => _meter.Dispose();

    [Fact]
    public void Counters_get_total_help_type_and_escaped_labels()
    {
        var counter = _meter.CreateCounter<long>("requests", "{request}", "Requests\\served\nby route.");
        using var collector = new MetricsCollector([_meter]);
        counter.Add(2, new KeyValuePair<string, object?>("route", "/index/{**path}"), new("status", "200"));
        counter.Add(3, new KeyValuePair<string, object?>("status", "200"), new("route", "/index/{**path}")); // another order: the same series
        counter.Add(1, new KeyValuePair<string, object?>("route", "a\"b\\c\nd"), new("status", 404));

        var text = PrometheusText.Format(collector.Collect());

        Assert.Equal(
            "# HELP requests_total Requests\\\\served\\nby route.\n" +
            "# TYPE requests_total counter\n" +
            "requests_total{route=\"/index/{**path}\",status=\"200\"} 5\n" +
            "requests_total{route=\"a\\\"b\\\\c\\nd\",status=\"404\"} 1\n",
            text);
        var scrape = PrometheusScrape.Parse(text);
        Assert.Equal(1, scrape.Value("requests_total", ("route", "a\"b\\c\nd"), ("status", "404")));
    }

    [Fact]
    public void Histograms_are_cumulative_buckets_with_sum_and_count()
    {
        var histogram = _meter.CreateHistogram("latency_seconds", "s", "Latency.", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1] });
        using var collector = new MetricsCollector([_meter]);
        histogram.Record(0.05, new KeyValuePair<string, object?>("op", "read"));
        histogram.Record(0.1, new KeyValuePair<string, object?>("op", "read")); // le is inclusive
        histogram.Record(0.5, new KeyValuePair<string, object?>("op", "read"));
        histogram.Record(7, new KeyValuePair<string, object?>("op", "read"));

        var text = PrometheusText.Format(collector.Collect());

        Assert.Equal(
            "# HELP latency_seconds Latency.\n" +
            "# TYPE latency_seconds histogram\n" +
            "latency_seconds_bucket{op=\"read\",le=\"0.1\"} 2\n" +
            "latency_seconds_bucket{op=\"read\",le=\"1\"} 3\n" +
            "latency_seconds_bucket{op=\"read\",le=\"+Inf\"} 4\n" +
            "latency_seconds_sum{op=\"read\"} 7.65\n" +
            "latency_seconds_count{op=\"read\"} 4\n",
            text);
        PrometheusScrape.Parse(text);
    }

    [Fact]
    public void Histograms_without_advice_use_the_seconds_buckets()
    {
        var histogram = _meter.CreateHistogram<double>("plain_seconds");
        using var collector = new MetricsCollector([_meter]);
        histogram.Record(0.003);
        var family = Assert.Single(collector.Collect().Families);
        Assert.Equal(OrleansCratesMetrics.SecondsBuckets, family.Bounds);
        var text = PrometheusText.Format(collector.Collect());
        Assert.Contains("plain_seconds_bucket{le=\"0.0025\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("plain_seconds_bucket{le=\"0.005\"} 1\n", text, StringComparison.Ordinal);
        Assert.Equal(1, PrometheusScrape.Parse(text).Value("plain_seconds_count"));
    }

    [Fact]
    public void Observable_instruments_are_read_on_collection_and_names_are_sanitized()
    {
        var current = 3;
        _meter.CreateObservableGauge("queue.depth", () => current, description: "Depth.");
        _meter.CreateObservableCounter("bytes-total", () => 10L * current);
        var updown = _meter.CreateUpDownCounter<int>("open_things");
        using var collector = new MetricsCollector([_meter]);
        updown.Add(5);
        updown.Add(-2);

        Assert.Contains("queue_depth 3\n", PrometheusText.Format(collector.Collect()), StringComparison.Ordinal);
        current = 4;
        var text = PrometheusText.Format(collector.Collect());

        var scrape = PrometheusScrape.Parse(text);
        Assert.Equal("gauge", scrape.Types["queue_depth"]);
        Assert.Equal(4, scrape.Value("queue_depth"));
        Assert.Equal("counter", scrape.Types["bytes_total"]); // already ends in _total: not doubled
        Assert.Equal(40, scrape.Value("bytes_total"));
        Assert.Equal("gauge", scrape.Types["open_things"]);
        Assert.Equal(3, scrape.Value("open_things"));
    }

    [Fact]
    public void Only_the_given_meters_are_collected_and_values_are_prometheus_numbers()
    {
        using var other = new Meter(_meter.Name);
        var mine = _meter.CreateCounter<double>("ratio");
        var theirs = other.CreateCounter<double>("ratio_elsewhere");
        using var collector = new MetricsCollector([_meter]);
        mine.Add(0.25);
        mine.Add(double.PositiveInfinity, new KeyValuePair<string, object?>("x", "inf"));
        theirs.Add(1);

        var text = PrometheusText.Format(collector.Collect());

        Assert.DoesNotContain("ratio_elsewhere", text, StringComparison.Ordinal);
        Assert.Contains("ratio_total 0.25\n", text, StringComparison.Ordinal);
        Assert.Contains("ratio_total{x=\"inf\"} +Inf\n", text, StringComparison.Ordinal);
        PrometheusScrape.Parse(text);
    }

    [Fact]
    public void Series_beyond_the_limit_go_to_one_overflow_series()
    {
        var counter = _meter.CreateCounter<long>("many");
        using var collector = new MetricsCollector([_meter]);
        for (var i = 0; i < MetricsCollector.MaxSeriesPerInstrument + 50; i++)
        {
            counter.Add(1, new KeyValuePair<string, object?>("id", i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        var family = Assert.Single(collector.Collect().Families);
        Assert.Equal(MetricsCollector.MaxSeriesPerInstrument + 1, family.Points.Count);
        var scrape = PrometheusScrape.Parse(PrometheusText.Format(collector.Collect()));
        Assert.Equal(50, scrape.Value("many_total", ("otel_metric_overflow", "true")));
    }

    [Fact]
    public void The_parser_refuses_what_prometheus_refuses()
    {
        Assert.Throws<FormatException>(() => PrometheusScrape.Parse("x 1\n")); // no TYPE
        Assert.Throws<FormatException>(() => PrometheusScrape.Parse("# TYPE x counter\nx one\n"));
        Assert.Throws<FormatException>(() => PrometheusScrape.Parse("# TYPE x counter\nx{a=\"\\q\"} 1\n"));
        Assert.Throws<FormatException>(() => PrometheusScrape.Parse("# TYPE 1x counter\n"));
        Assert.Throws<FormatException>(() => PrometheusScrape.Parse("# TYPE x counter\nx 1\nx 2\n"));
        Assert.Throws<FormatException>(() => PrometheusScrape.Parse("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"));
        Assert.Throws<FormatException>(() => PrometheusScrape.Parse("# comment\n"));
    }

    [Fact]
    public void The_orleanscrates_instruments_expose_as_valid_prometheus_text()
    {
        var metrics = new OrleansCratesMetrics(new TestMeterFactory());
        using var collector = new MetricsCollector(metrics, TimeProvider.System);
        metrics.HttpRequest("/index/{**path}", "GET", 200, 0.002);
        metrics.BytesServed(ServedRegistry.Mirror, FileKind.Crate, 1234);
        metrics.CacheResult(FileKind.Index, Mirror.CacheOutcome.Stale);
        metrics.UpstreamRequest("index.crates.io", download: true, UpstreamResult.Timeout, TimeSpan.FromSeconds(30));
        metrics.CoalescedWaiter(FileKind.Crate);
        metrics.StorageCall(StorageOperation.Write, "conflict", 0.01);
        metrics.ObserveInFlight(FileKind.Index, () => 2);

        var scrape = PrometheusScrape.Parse(PrometheusText.Format(collector.Collect()));

        Assert.Equal(1, scrape.Value("orleanscrates_http_requests_total", ("route", "/index/{**path}"), ("method", "GET"), ("status", "200")));
        Assert.Equal(1, scrape.Value("orleanscrates_http_request_duration_seconds_count", ("route", "/index/{**path}"), ("method", "GET"), ("status", "200")));
        Assert.Equal(1234, scrape.Value("orleanscrates_bytes_served_total", ("registry", "mirror"), ("kind", "crate")));
        Assert.Equal(1, scrape.Value("orleanscrates_cache_results_total", ("kind", "index"), ("outcome", "stale")));
        Assert.Equal(1, scrape.Value("orleanscrates_upstream_requests_total", ("upstream", "index.crates.io"), ("kind", "download"), ("result", "timeout")));
        Assert.Equal(30, scrape.Value("orleanscrates_upstream_request_duration_seconds_sum", ("upstream", "index.crates.io")));
        Assert.Equal(1, scrape.Value("orleanscrates_coalesced_waiters_total", ("kind", "crate")));
        Assert.Equal(1, scrape.Value("orleanscrates_storage_operation_duration_seconds_count", ("operation", "write"), ("result", "conflict")));
        Assert.Equal(2, scrape.Value("orleanscrates_inflight_fetches", ("kind", "index")));
    }

    [Fact]
    public void The_hot_set_budget_size_and_hit_ratio_are_exposed_per_kind()
    {
        var metrics = new OrleansCratesMetrics(new TestMeterFactory());
        using var collector = new MetricsCollector(metrics, TimeProvider.System);
        using var crates = new Mirror.HotFileCache(capacityBytes: 100_000, maxFileBytes: 10_000);
        metrics.ObserveHotSet(FileKind.Crate, () => crates.Statistics);
        crates.Add("crates/a", new byte[1_000], "\"a\"", DateTimeOffset.UnixEpoch);
        using (crates.OpenOrNull("crates/a"))
        {
        }

        Assert.Null(crates.OpenOrNull("crates/b"));

        var scrape = PrometheusScrape.Parse(PrometheusText.Format(collector.Collect()));

        Assert.Equal(100_000, scrape.Value("orleanscrates_hot_set_budget_bytes", ("kind", "crate")));
        Assert.Equal(1_000 + Mirror.HotFileCache.EntryOverhead, scrape.Value("orleanscrates_hot_set_bytes", ("kind", "crate")));
        Assert.Equal(0.5, scrape.Value("orleanscrates_hot_set_hit_ratio", ("kind", "crate")));
    }

    [Fact]
    public async Task The_instrumented_store_times_each_operation_with_its_result()
    {
        var root = Directory.CreateTempSubdirectory("oc-telemetry-").FullName;
        try
        {
            var metrics = new OrleansCratesMetrics(new TestMeterFactory());
            using var collector = new MetricsCollector(metrics, TimeProvider.System);
            var store = new InstrumentedObjectStore(new FileSystemObjectStore(root), metrics);
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

            var scrape = PrometheusScrape.Parse(PrometheusText.Format(collector.Collect()));
            double Count(string operation, string result) =>
                scrape.Value("orleanscrates_storage_operation_duration_seconds_count", ("operation", operation), ("result", result));
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

    [Fact]
    public void Otlp_json_follows_the_protobuf_json_mapping()
    {
        var counter = _meter.CreateCounter<long>("hits", "{hit}", "Hits.");
        var histogram = _meter.CreateHistogram("took_seconds", "s", "Took.", tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1] });
        _meter.CreateObservableGauge("level", () => 0.5);
        using var collector = new MetricsCollector([_meter]);
        counter.Add(7, new KeyValuePair<string, object?>("kind", "index"));
        histogram.Record(0.5);
        histogram.Record(2);

        var json = OtlpJson.Serialize(collector.Collect(), [new("service.name", "orleanscrates")]);

        using var document = JsonDocument.Parse(json);
        var resource = document.RootElement.GetProperty("resourceMetrics")[0];
        Assert.Equal("service.name", resource.GetProperty("resource").GetProperty("attributes")[0].GetProperty("key").GetString());
        var scope = resource.GetProperty("scopeMetrics")[0];
        Assert.Equal(_meter.Name, scope.GetProperty("scope").GetProperty("name").GetString());
        Assert.Equal("1.2.3", scope.GetProperty("scope").GetProperty("version").GetString());
        var metrics = scope.GetProperty("metrics").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);

        var sum = metrics["hits"].GetProperty("sum");
        Assert.Equal(2, sum.GetProperty("aggregationTemporality").GetInt32());
        Assert.True(sum.GetProperty("isMonotonic").GetBoolean());
        var point = sum.GetProperty("dataPoints")[0];
        Assert.Equal("7", point.GetProperty("asInt").GetString());
        Assert.Equal("index", point.GetProperty("attributes")[0].GetProperty("value").GetProperty("stringValue").GetString());
        Assert.True(ulong.Parse(point.GetProperty("startTimeUnixNano").GetString()!, System.Globalization.CultureInfo.InvariantCulture) <=
                    ulong.Parse(point.GetProperty("timeUnixNano").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("{hit}", metrics["hits"].GetProperty("unit").GetString());

        var histogramPoint = metrics["took_seconds"].GetProperty("histogram").GetProperty("dataPoints")[0];
        Assert.Equal("2", histogramPoint.GetProperty("count").GetString());
        Assert.Equal(2.5, histogramPoint.GetProperty("sum").GetDouble());
        Assert.Equal(["1", "1"], histogramPoint.GetProperty("bucketCounts").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal([1.0], histogramPoint.GetProperty("explicitBounds").EnumerateArray().Select(e => e.GetDouble()).ToArray());

        Assert.Equal(0.5, metrics["level"].GetProperty("gauge").GetProperty("dataPoints")[0].GetProperty("asDouble").GetDouble());
    }

    [Fact]
    public async Task The_otlp_exporter_posts_json_to_v1_metrics()
    {
        var received = new TaskCompletionSource<(string Path, string? ContentType, byte[] Body, string? ApiKey)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var receiver = builder.Build();
        receiver.MapPost("/{**path}", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            received.TrySetResult(("/" + context.Request.RouteValues["path"], context.Request.ContentType, body.ToArray(), context.Request.Headers["x-api-key"]));
            return Results.Ok();
        });
        await receiver.StartAsync();
        var address = receiver.Urls.Single();

        var metrics = new OrleansCratesMetrics(new TestMeterFactory());
        using var collector = new MetricsCollector(metrics, TimeProvider.System);
        metrics.CacheResult(FileKind.Crate, Mirror.CacheOutcome.Hit);
        var options = new TelemetryOptions { Otlp = { Endpoint = address + "/", Interval = TimeSpan.FromSeconds(1), Headers = { ["x-api-key"] = "secret" } } };
        using var exporter = new OtlpMetricsExporter(collector, Options.Create(options), TimeProvider.System, NullLogger<OtlpMetricsExporter>.Instance);
        await exporter.StartAsync(CancellationToken.None);
        try
        {
            var (path, contentType, body, apiKey) = await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("/v1/metrics", path);
            Assert.Equal("application/json", contentType);
            Assert.Equal("secret", apiKey);
            using var document = JsonDocument.Parse(body);
            var scope = document.RootElement.GetProperty("resourceMetrics")[0].GetProperty("scopeMetrics")[0];
            Assert.Equal(OrleansCratesMetrics.MeterName, scope.GetProperty("scope").GetProperty("name").GetString());
            var names = scope.GetProperty("metrics").EnumerateArray().Select(m => m.GetProperty("name").GetString()).ToList();
            Assert.Contains("orleanscrates_cache_results", names);
            Assert.Contains("orleanscrates_http_request_duration_seconds", names);
            var cache = scope.GetProperty("metrics").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "orleanscrates_cache_results");
            Assert.Equal("1", cache.GetProperty("sum").GetProperty("dataPoints")[0].GetProperty("asInt").GetString());
        }
        finally
        {
            await exporter.StopAsync(CancellationToken.None);
            await receiver.StopAsync();
        }
    }

    [Fact]
    public void Otlp_endpoint_gets_v1_metrics_once()
    {
        Assert.Null(new OtlpOptions().MetricsUrl());
        Assert.Equal(new Uri("http://collector:4318/v1/metrics"), new OtlpOptions { Endpoint = "http://collector:4318" }.MetricsUrl());
        Assert.Equal(new Uri("http://collector:4318/v1/metrics"), new OtlpOptions { Endpoint = "http://collector:4318/v1/metrics" }.MetricsUrl());
        Assert.False(OtlpOptions.IsValid(new OtlpOptions { Endpoint = "collector:4318" }));
        Assert.False(OtlpOptions.IsValid(new OtlpOptions { Interval = TimeSpan.Zero }));
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version);
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
