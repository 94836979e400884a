using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// <c>/metrics</c> (the OpenTelemetry SDK's Prometheus exporter), OTLP export to a fake collector, request ids and
/// structured logs, against a real mirror process and the fake upstream. Every series carries the SDK's
/// <c>otel_scope_*</c> labels, so samples are matched on the labels a test names (<see cref="PrometheusScrape.Sum"/>).
/// </summary>
public sealed class MetricsTests : IAsyncLifetime
{
    /// <summary>ASP.NET Core's own request metric (<c>http.server.request.duration</c>): its count is the number of requests.</summary>
    private const string Http = "http_server_request_duration_seconds_count";

    private const string StorageWrites = "orleanscrates_storage_operation_duration_seconds_count";

    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-metrics-").FullName;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None });
    private FakeUpstream _upstream = null!;
    private MirrorProcess? _mirror;

    private string Upstream => _upstream.BaseUri.Authority; // the upstream's default name: host:port

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync(Graph);
    }

    public async Task DisposeAsync()
    {
        if (_mirror is not null)
        {
            await _mirror.DisposeAsync();
        }

        await _upstream.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Fact]
    public async Task Metrics_parse_as_prometheus_text_and_counters_move_with_traffic()
    {
        await StartMirrorAsync();
        var scrape = await ScrapeAsync();
        var index = "index/" + RegistryPaths.IndexPath("abc");
        var crate = Graph.Get("abc", "1.1.0");
        var download = $"crates/{crate.Name}/{crate.Version}/download";
        var indexBytes = Graph.IndexFileFor("abc")!.Length;

        // An index miss: fetched upstream.
        var before = scrape;
        scrape = await AfterAsync(index, HttpStatusCode.OK);
        AssertMoved(before, scrape, 1, Http, ("http_route", "/index/{**path}"), ("http_request_method", "GET"), ("http_response_status_code", "200"));
        Assert.Contains("Index files: straight to their endpoint past the router", _mirror!.Output, StringComparison.Ordinal); // the route tag above came through DirectIndexRoute
        AssertMoved(before, scrape, 1, "orleanscrates_cache_results_total", ("kind", "index"), ("outcome", "miss"));
        AssertMoved(before, scrape, 0, "orleanscrates_cache_results_total", ("kind", "index"), ("outcome", "hit"));
        AssertMoved(before, scrape, 1, "orleanscrates_upstream_requests_total", ("upstream", Upstream), ("kind", "index"), ("result", "ok"));
        AssertMoved(before, scrape, 1, "orleanscrates_upstream_request_duration_seconds_count", ("upstream", Upstream));
        AssertMoved(before, scrape, indexBytes, "orleanscrates_served_bytes_total", ("registry", "mirror"), ("kind", "index"));
        await _mirror!.SettledAsync(); // the index document is stored after its answer
        scrape = await ScrapeAsync();
        Assert.True(Delta(before, scrape, StorageWrites, ("operation", "write"), ("result", "ok")) >= 1, "the fetched index file was stored");

        // An index hit: from memory, upstream not asked.
        before = scrape;
        scrape = await AfterAsync(index, HttpStatusCode.OK);
        AssertMoved(before, scrape, 1, "orleanscrates_cache_results_total", ("kind", "index"), ("outcome", "hit"));
        AssertMoved(before, scrape, 0, "orleanscrates_cache_results_total", ("kind", "index"), ("outcome", "miss"));
        AssertMoved(before, scrape, 0, "orleanscrates_upstream_requests_total", ("upstream", Upstream), ("kind", "index"), ("result", "ok"));
        AssertMoved(before, scrape, 1, Http, ("http_route", "/index/{**path}"), ("http_request_method", "GET"), ("http_response_status_code", "200"));
        AssertMoved(before, scrape, indexBytes, "orleanscrates_served_bytes_total", ("registry", "mirror"), ("kind", "index"));

        // A download miss: fetched upstream, stored; its own index lookup is not a client's cache result.
        before = scrape;
        scrape = await AfterAsync(download, HttpStatusCode.OK);
        AssertMoved(before, scrape, 1, Http, ("http_route", "/crates/{name}/{version}/download"), ("http_request_method", "GET"), ("http_response_status_code", "200"));
        AssertMoved(before, scrape, 1, "orleanscrates_cache_results_total", ("kind", "crate"), ("outcome", "miss"));
        AssertMoved(before, scrape, 0, "orleanscrates_cache_results_total", ("kind", "crate"), ("outcome", "hit"));
        AssertMoved(before, scrape, 0, "orleanscrates_cache_results_total", ("kind", "index"), ("outcome", "hit"));
        AssertMoved(before, scrape, crate.CrateBytes.Length, "orleanscrates_served_bytes_total", ("registry", "mirror"), ("kind", "crate"));
        await _mirror!.SettledAsync(); // the verified file is answered while its commit runs; the upstream request is counted when the flight ends
        scrape = await ScrapeAsync();
        AssertMoved(before, scrape, 1, "orleanscrates_upstream_requests_total", ("upstream", Upstream), ("kind", "download"), ("result", "ok"));
        Assert.True(Delta(before, scrape, StorageWrites, ("operation", "write"), ("result", "ok")) >= 1, "the crate file was stored");

        // A download hit.
        before = scrape;
        scrape = await AfterAsync(download, HttpStatusCode.OK);
        AssertMoved(before, scrape, 1, "orleanscrates_cache_results_total", ("kind", "crate"), ("outcome", "hit"));
        AssertMoved(before, scrape, 0, "orleanscrates_cache_results_total", ("kind", "crate"), ("outcome", "miss"));
        AssertMoved(before, scrape, 0, "orleanscrates_upstream_requests_total", ("upstream", Upstream), ("kind", "download"), ("result", "ok"));
        AssertMoved(before, scrape, crate.CrateBytes.Length, "orleanscrates_served_bytes_total", ("registry", "mirror"), ("kind", "crate"));

        // A 404: upstream says the crate does not exist.
        before = scrape;
        scrape = await AfterAsync("index/" + RegistryPaths.IndexPath("no-such"), HttpStatusCode.NotFound);
        AssertMoved(before, scrape, 1, Http, ("http_route", "/index/{**path}"), ("http_request_method", "GET"), ("http_response_status_code", "404"));
        AssertMoved(before, scrape, 1, "orleanscrates_upstream_requests_total", ("upstream", Upstream), ("kind", "index"), ("result", "not_found"));
        AssertMoved(before, scrape, 0, "orleanscrates_served_bytes_total", ("registry", "mirror"), ("kind", "index"));

        // An upstream failure with nothing cached: 503, an upstream error.
        _upstream.AddFault(new FaultRule { PathContains = RegistryPaths.IndexPath("opt-helper"), Kind = FaultKind.Status500 });
        before = scrape;
        scrape = await AfterAsync("index/" + RegistryPaths.IndexPath("opt-helper"), HttpStatusCode.ServiceUnavailable);
        AssertMoved(before, scrape, 1, Http, ("http_route", "/index/{**path}"), ("http_request_method", "GET"), ("http_response_status_code", "503"));
        AssertMoved(before, scrape, 1, "orleanscrates_upstream_requests_total", ("upstream", Upstream), ("kind", "index"), ("result", "error"));
        AssertMoved(before, scrape, 1, "orleanscrates_cache_results_total", ("kind", "index"), ("outcome", "miss"));

        // Requests that arrive while a fetch runs join it: coalesced waiters.
        var slow = Graph.Get("real-name", "1.3.0");
        var fault = _upstream.AddFault(new FaultRule { PathContains = $"/{slow.Name}/{slow.Version}/download", Kind = FaultKind.Slow, Delay = TimeSpan.FromSeconds(2) });
        before = scrape;
        var answers = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => _http.GetAsync(Url($"crates/{slow.Name}/{slow.Version}/download"))));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.Equal(1, fault.Hits);
        await _mirror!.SettledAsync(); // the fetch's flight ends with the commit, a moment after the answers
        scrape = await ScrapeAsync();
        AssertMoved(before, scrape, 4, "orleanscrates_coalesced_waiters_total", ("kind", "crate"));
        AssertMoved(before, scrape, 5, "orleanscrates_cache_results_total", ("kind", "crate"), ("outcome", "miss"));
        AssertMoved(before, scrape, 1, "orleanscrates_upstream_requests_total", ("upstream", Upstream), ("kind", "download"), ("result", "ok"));

        // Routes are templates, never raw paths.
        Assert.DoesNotContain(scrape.Samples.Keys, k => k.Contains("abc", StringComparison.Ordinal) || k.Contains("real-name", StringComparison.Ordinal));
        Assert.Equal(0, scrape.Sum("orleanscrates_inflight_fetches", ("kind", "crate")));

        // Every instrument of the project's meter has a series (each appears with its first measurement) and its help text.
        foreach (var family in new[]
                 {
                     "orleanscrates_served_bytes_total", "orleanscrates_cache_results_total", "orleanscrates_upstream_requests_total",
                     "orleanscrates_upstream_request_duration_seconds", "orleanscrates_coalesced_waiters_total",
                     "orleanscrates_storage_operation_duration_seconds", "orleanscrates_inflight_fetches",
                 })
        {
            Assert.True(scrape.Types.ContainsKey(family), $"expected a TYPE line for {family} after traffic; families: {string.Join(", ", scrape.Types.Keys)}");
            Assert.False(string.IsNullOrWhiteSpace(scrape.Help[family]));
        }

        // After this traffic the libraries' series are there too: Orleans (a crate grain per crate), HttpClient (the
        // upstream requests), Kestrel and the runtime.
        foreach (var family in new[]
                 {
                     "orleans_catalog_activations", "http_client_request_duration_seconds", "kestrel_active_connections", "dotnet_gc_collections_total",
                 })
        {
            Assert.True(scrape.Types.ContainsKey(family), $"expected {family} on /metrics; families: {string.Join(", ", scrape.Types.Keys)}");
        }

        Assert.True(
            scrape.Sum("http_client_request_duration_seconds_count", ("server_address", "127.0.0.1")) >= scrape.Sum("orleanscrates_upstream_requests_total"),
            "every upstream request went through HttpClient, and its instrumentation counted it");

        // ASP.NET Core's instruments updated per request or per 4 KB block are dropped; the memory pool's growth stays.
        Assert.True(scrape.Types.ContainsKey("aspnetcore_memory_pool_allocated_bytes_total"), $"families: {string.Join(", ", scrape.Types.Keys)}");
        foreach (var dropped in new[]
                 {
                     "http_server_active_requests", "aspnetcore_routing_match_attempts_total", "aspnetcore_memory_pool_rented_bytes_total", "aspnetcore_memory_pool_pooled_bytes",
                 })
        {
            Assert.False(scrape.Types.ContainsKey(dropped), $"{dropped} is dropped by a metric view, yet it is on /metrics");
        }
    }

    [Fact]
    public async Task Orleans_meters_are_on_metrics_and_ready_health_counts_the_active_silos()
    {
        await StartMirrorAsync();
        var crate = Graph.Get("abc", "1.1.0");
        using (var response = await _http.GetAsync(Url($"crates/{crate.Name}/{crate.Version}/download")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode); // a crate grain was activated for it
        }

        var scrape = await ScrapeAsync();
        var orleans = scrape.Types.Keys.Where(k => k.StartsWith("orleans_", StringComparison.Ordinal)).ToList();
        Assert.True(
            orleans.Any(k => k.Contains("activation", StringComparison.Ordinal)),
            $"expected Orleans' own meters (Microsoft.Orleans), activations among them, on /metrics; its orleans_* families: {string.Join(", ", orleans)}");

        using var ready = JsonDocument.Parse(await _http.GetStringAsync(Url("health/ready")));
        Assert.Equal("ready", ready.RootElement.GetProperty("status").GetString());
        Assert.Equal(1, ready.RootElement.GetProperty("activeSilos").GetInt32()); // under Localhost, this process is its own cluster
    }

    [Fact]
    public async Task Otlp_export_sends_protobuf_metrics_and_traces_to_the_collector()
    {
        var metrics = new TaskCompletionSource<CollectorRequest>(TaskCreationOptions.RunContinuationsAsynchronously);
        var traces = new TaskCompletionSource<CollectorRequest>(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var collector = builder.Build();
        collector.MapPost("/v1/{signal}", async (string signal, HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            var request = new CollectorRequest(context.Request.ContentType, context.Request.Headers["x-api-key"], body.ToArray());
            // Keep the first export that holds what the test looks for (earlier ones may predate the traffic, or its end).
            if (signal == "metrics" && request.Holds("orleanscrates.upstream.requests") && request.Holds("http.server.request.duration"))
            {
                metrics.TrySetResult(request);
            }
            else if (signal == "traces" && request.Holds(OrleansCratesTracing.UpstreamIndex))
            {
                traces.TrySetResult(request);
            }

            return Results.Bytes([], "application/x-protobuf"); // an empty Export*ServiceResponse: all accepted
        });
        await collector.StartAsync();

        await StartMirrorAsync(
            ("Telemetry__Otlp__Endpoint", collector.Urls.Single()),
            ("Telemetry__Otlp__Interval", "00:00:01"),
            ("Telemetry__Otlp__Headers__x-api-key", "secret"));
        using (var response = await _http.GetAsync(Url("index/" + RegistryPaths.IndexPath("abc"))))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode); // an upstream fetch: metrics and spans to export
        }

        var exported = await metrics.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("application/x-protobuf", exported.ContentType);
        Assert.Equal("secret", exported.ApiKey);
        Assert.True(exported.Holds("orleanscrates.storage.operation.duration"), "the fetched index file was stored, and that was measured");
        Assert.True(exported.Holds("orleanscrates"), "the service.name resource attribute");

        var spans = await traces.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("application/x-protobuf", spans.ContentType);
        Assert.True(spans.Holds(OrleansCratesTracing.IndexRefresh), "the single-flight run the upstream request ran in");
        await collector.StopAsync();
    }

    [Fact]
    public async Task Responses_carry_a_request_id_echoing_a_valid_one()
    {
        await StartMirrorAsync();
        using var plain = await _http.GetAsync(Url("index/config.json"));
        var generated = Assert.Single(plain.Headers.GetValues("X-Request-Id"));
        Assert.False(string.IsNullOrWhiteSpace(generated));

        using var echoed = await SendAsync("index/config.json", "build-42:step.7");
        Assert.Equal("build-42:step.7", Assert.Single(echoed.Headers.GetValues("X-Request-Id")));

        using var invalid = await SendAsync("index/config.json", "has spaces and \"quotes\"");
        var replaced = Assert.Single(invalid.Headers.GetValues("X-Request-Id"));
        Assert.NotEqual("has spaces and \"quotes\"", replaced);
        Assert.NotEqual(generated, replaced);

        using var missing = await _http.GetAsync(Url("no/such/route"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Single(missing.Headers.GetValues("X-Request-Id"));
        var scrape = await ScrapeAsync();
        var unmatched = scrape.Samples.Where(s => s.Key.StartsWith(Http + "{", StringComparison.Ordinal) &&
                                                  s.Key.Contains("http_response_status_code=\"404\"", StringComparison.Ordinal) &&
                                                  !s.Key.Contains("http_route=", StringComparison.Ordinal));
        Assert.Equal(1, unmatched.Sum(s => s.Value)); // a request that matched no endpoint has no route
        Assert.Equal(3, scrape.Sum(Http, ("http_route", "/index/config.json"), ("http_request_method", "GET"), ("http_response_status_code", "200")));
    }

    [Fact]
    public async Task Json_log_lines_of_a_failing_request_carry_its_request_id()
    {
        await StartMirrorAsync(("Logging__Console__FormatterName", "json"));
        _upstream.AddFault(new FaultRule { PathContains = RegistryPaths.IndexPath("abcd"), Kind = FaultKind.Status500 });

        using var response = await _http.GetAsync(Url("index/" + RegistryPaths.IndexPath("abcd")));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var requestId = Assert.Single(response.Headers.GetValues("X-Request-Id"));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        JsonElement? found = null;
        while (found is null && DateTime.UtcNow < deadline)
        {
            foreach (var line in _mirror!.Output.Split('\n'))
            {
                // The crate's owner logs the upstream failure on its silo; the node that answered logs it with the request.
                if (line.StartsWith('{') && line.Contains("The index of abcd is unavailable to this node", StringComparison.Ordinal))
                {
                    found = JsonDocument.Parse(line).RootElement.Clone();
                    break;
                }
            }

            if (found is null)
            {
                await Task.Delay(100);
            }
        }

        Assert.True(found is not null, $"expected a JSON log line about the failed revalidation; the mirror wrote:\n{_mirror!.Output}");
        var log = found.Value;
        Assert.Equal("Warning", log.GetProperty("LogLevel").GetString());
        var ids = log.GetProperty("Scopes").EnumerateArray()
            .Where(s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty("RequestId", out _))
            .Select(s => s.GetProperty("RequestId").GetString())
            .ToList();
        Assert.Contains(requestId, ids);
    }

    /// <summary>One OTLP export as the fake collector got it. Protobuf keeps strings as UTF-8 bytes, so names can be found in the body.</summary>
    private sealed record CollectorRequest(string? ContentType, string? ApiKey, byte[] Body)
    {
        public bool Holds(string text) => Body.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(text)) >= 0;
    }

    private async Task StartMirrorAsync(params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string> { ["Mirror__UpstreamMaxAttempts"] = "1" };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        _mirror = await MirrorProcess.StartAsync(_upstream.IndexUrl, Path.Combine(_sandbox, "store"), environment);
    }

    private Uri Url(string path) => new(_mirror!.BaseUri, path);

    private async Task<HttpResponseMessage> SendAsync(string path, string requestId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url(path));
        request.Headers.TryAddWithoutValidation("X-Request-Id", requestId);
        return await _http.SendAsync(request);
    }

    private async Task<PrometheusScrape> ScrapeAsync()
    {
        using var response = await _http.GetAsync(Url("metrics"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        return PrometheusScrape.Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>GETs <paramref name="path"/> (reading the whole body), checks the status, and scrapes.</summary>
    private async Task<PrometheusScrape> AfterAsync(string path, HttpStatusCode expected)
    {
        using (var response = await _http.GetAsync(Url(path)))
        {
            await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(expected, response.StatusCode);
        }

        return await ScrapeAsync();
    }

    private static double Delta(PrometheusScrape before, PrometheusScrape after, string name, params (string, string)[] labels) =>
        after.Sum(name, labels) - before.Sum(name, labels);

    private static void AssertMoved(PrometheusScrape before, PrometheusScrape after, double expected, string name, params (string, string)[] labels)
    {
        var moved = Delta(before, after, name, labels);
        Assert.True(moved == expected,
            $"expected {name}{{{string.Join(",", labels.Select(l => $"{l.Item1}=\"{l.Item2}\""))}}} to move by {expected}, it moved by {moved} (from {before.Sum(name, labels)})");
    }
}
