using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Trace;
using OrleansCrates.Mirror;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Protocol;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// The project's spans, recorded by the OpenTelemetry SDK's in-memory exporter. Other tests may emit spans from the same
/// source in parallel, so each test looks only at the traces its own "requests" (spans of a test source) started.
/// </summary>
public sealed class TracingTests : IAsyncDisposable
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private static readonly ActivitySource Requests = new("OrleansCrates.Tests.Requests");

    private readonly List<Activity> _spans = [];
    private readonly TracerProvider _tracing;
    private readonly string _root = Directory.CreateTempSubdirectory("oc-tracing-").FullName;

    public TracingTests()
    {
        _tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(OrleansCratesTracing.SourceName, Requests.Name)
            .AddInMemoryExporter(_spans)
            .Build();
    }

    public ValueTask DisposeAsync()
    {
        _tracing.Dispose();
        Directory.Delete(_root, recursive: true);
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task An_upstream_fetch_is_a_span_under_the_fetch_that_links_the_requests_that_waited_on_it()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        var crate = Graph.Get("abc", "1.1.0");
        var stall = upstream.AddFault(new FaultRule { PathContains = $"/{crate.Name}/{crate.Version}/download", Kind = FaultKind.Stall, Times = 1 });
        using var lifetime = new StandaloneLifetime();
        var options = Options.Create(new MirrorOptions
        {
            UpstreamMaxAttempts = 1,
            Upstreams = [new UpstreamOptions { IndexUrl = upstream.IndexUrl, Timeout = TimeSpan.FromSeconds(30) }],
        });
        using var upstreams = new UpstreamSet(options, TimeProvider.System, NullLoggerFactory.Instance);
        var store = new InstrumentedObjectStore(new FileSystemObjectStore(_root), OrleansCratesMetrics.Unobserved);
        using var coordinator = new CrateCoordinator(store, upstreams, options, TimeProvider.System, lifetime, NullLogger<CrateCoordinator>.Instance);
        var name = CrateName.Parse(crate.Name);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // The first request starts the fetch; two more arrive while upstream is still sending the file, and wait on it.
        var (first, firstContext) = Request("first", () => coordinator.OpenCrateFileAsync(name, crate.Version, deadline.Token));
        await stall.Stalled.WaitAsync(deadline.Token);
        var (second, secondContext) = Request("second", () => coordinator.OpenCrateFileAsync(name, crate.Version, deadline.Token));
        var (third, thirdContext) = Request("third", () => coordinator.OpenCrateFileAsync(name, crate.Version, deadline.Token));
        stall.Release();
        foreach (var result in await Task.WhenAll(first, second, third))
        {
            Assert.Equal(CrateFileStatus.Found, result.Status);
            await result.DisposeAsync();
        }

        Assert.Equal(1, upstream.Downloads(crate.Name, crate.Version));
        Assert.True(await coordinator.WhenDrainedAsync(deadline.Token)); // answers go out before the index document is stored; its span ends after them
        var trace = Spans(firstContext.TraceId);
        var fetch = Assert.Single(trace, s => s.OperationName == OrleansCratesTracing.CrateFileFetch);
        Assert.Equal(firstContext.SpanId, fetch.ParentSpanId); // the request that started it is its parent ...
        Assert.Equal(
            new[] { secondContext.SpanId, thirdContext.SpanId }.Select(id => id.ToHexString()).Order(),
            fetch.Links.Select(l => l.Context.SpanId.ToHexString()).Order()); // ... and the ones that waited on it are its links
        Assert.All(fetch.Links, l => Assert.NotEqual(firstContext.TraceId, l.Context.TraceId));

        var download = Assert.Single(trace, s => s.OperationName == OrleansCratesTracing.UpstreamDownload);
        Assert.Equal(ActivityKind.Client, download.Kind);
        Assert.Equal(upstream.BaseUri.Authority, download.GetTagItem("orleanscrates.upstream"));
        Assert.Equal(crate.Name, download.GetTagItem("orleanscrates.crate"));
        Assert.Equal(crate.Version, download.GetTagItem("orleanscrates.version"));
        Assert.Equal("ok", download.GetTagItem("orleanscrates.result"));
        Assert.Contains(fetch, Ancestors(download, trace)); // it runs inside the shared fetch

        var index = Assert.Single(trace, s => s.OperationName == OrleansCratesTracing.UpstreamIndex); // the owner's index lookup for the file
        Assert.Equal("ok", index.GetTagItem("orleanscrates.result"));

        // The verified file's write is a span of its own, inside the download that streamed into it.
        var write = Assert.Single(trace, s => s.OperationName == OrleansCratesTracing.StorageWrite && s.ParentSpanId == download.SpanId);
        Assert.Equal(MirrorKeys.CrateFile(name, crate.Version), write.GetTagItem("orleanscrates.storage.key"));
        Assert.Equal("ok", write.GetTagItem("orleanscrates.result"));
        Assert.Contains(trace, s => s.OperationName == OrleansCratesTracing.StorageWrite && s.GetTagItem("orleanscrates.storage.key") as string == MirrorKeys.Index(name));

        // The waiters' own traces hold no fetch: they only waited.
        Assert.DoesNotContain(Spans(secondContext.TraceId), s => s.OperationName == OrleansCratesTracing.UpstreamDownload);
    }

    [Fact]
    public async Task A_failed_upstream_request_is_an_error_span()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph);
        upstream.AddFault(new FaultRule { PathContains = RegistryPaths.IndexPath("abcd"), Kind = FaultKind.Status500 });
        using var lifetime = new StandaloneLifetime();
        var options = Options.Create(new MirrorOptions
        {
            UpstreamMaxAttempts = 1,
            Upstreams = [new UpstreamOptions { IndexUrl = upstream.IndexUrl, Timeout = TimeSpan.FromSeconds(30) }],
        });
        using var upstreams = new UpstreamSet(options, TimeProvider.System, NullLoggerFactory.Instance);

        var (fetch, context) = Request("index", () => upstreams.FetchIndexFileAsync(CrateName.Parse("abcd"), null, CancellationToken.None));
        Assert.Equal(IndexFetchStatus.Failed, (await fetch).Status);

        var span = Assert.Single(Spans(context.TraceId), s => s.OperationName == OrleansCratesTracing.UpstreamIndex);
        Assert.Equal(context.SpanId, span.ParentSpanId);
        Assert.Equal("error", span.GetTagItem("orleanscrates.result"));
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Null(span.GetTagItem("orleanscrates.version"));
    }

    /// <summary>Runs <paramref name="call"/> inside a new request span (ended once the call is under way) and returns its context.</summary>
    private static (Task<T> Call, ActivityContext Context) Request<T>(string name, Func<Task<T>> call)
    {
        using var request = Requests.StartActivity(name, ActivityKind.Server) ?? throw new InvalidOperationException("the test source is not listened to");
        return (call(), request.Context);
    }

    private List<Activity> Spans(ActivityTraceId trace)
    {
        lock (_spans)
        {
            return [.. _spans.Where(s => s.TraceId == trace)];
        }
    }

    private static IEnumerable<Activity> Ancestors(Activity span, List<Activity> trace)
    {
        for (var parent = trace.FirstOrDefault(s => s.SpanId == span.ParentSpanId); parent is not null; parent = trace.FirstOrDefault(s => s.SpanId == parent.ParentSpanId))
        {
            yield return parent;
        }
    }
}
