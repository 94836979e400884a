using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// The alert webhook, against a real mirror process and a local receiver: one POST per transition (failing, then
/// recovered), however many requests fail meanwhile, for the upstream and for storage.
/// </summary>
public sealed class AlertTests : IDisposable
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan UpstreamFailingFor = TimeSpan.FromSeconds(1.5);
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-alerts-").FullName;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public void Dispose()
    {
        _http.Dispose();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Fact]
    public async Task Upstream_failing_for_the_configured_time_alerts_once_and_recovery_alerts_once()
    {
        var ct = Deadline();
        await using var receiver = await AlertReceiver.StartAsync(ct);
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        await using var mirror = await StartMirrorAsync(upstream, receiver, Path.Combine(_sandbox, "store"), ct);

        await upstream.StopAsync(ct);
        var failedAt = Stopwatch.GetTimestamp();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await GetStatusAsync(mirror, "index/2/ab", ct));

        // Keep failing requests coming while the alert is due: many failed requests, one alert.
        string[] paths = ["index/1/a", "index/2/ab", "index/3/a/abc", "index/ab/cd/abcd"];
        var requests = 1;
        var failing = await receiver.WaitForAsync(AlertEvent.UpstreamFailing, async () =>
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await GetStatusAsync(mirror, paths[requests++ % paths.Length], ct));
        }, mirror, ct);
        Assert.True(
            Stopwatch.GetElapsedTime(failedAt) >= UpstreamFailingFor,
            $"the failing alert came {Stopwatch.GetElapsedTime(failedAt)} after the first failure, before Alerts:UpstreamFailingFor ({UpstreamFailingFor})");
        Assert.True(requests >= 3, $"expected several failed requests before the alert, made {requests}");
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await GetStatusAsync(mirror, paths[i % paths.Length], ct));
        }

        Assert.Equal("upstream", failing.Component);
        Assert.Contains("127.0.0.1:", failing.Detail, StringComparison.Ordinal); // names the upstream
        Assert.False(string.IsNullOrWhiteSpace(failing.Node));

        await upstream.RestartAsync(ct);
        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(mirror, "index/2/ab", ct));
        var recovered = await receiver.WaitForAsync(AlertEvent.UpstreamRecovered, null, mirror, ct);
        Assert.Equal("upstream", recovered.Component);
        Assert.Equal(failing.Node, recovered.Node);
        Assert.True(recovered.At > failing.At);

        await QuietForAFewChecksAsync(ct);
        Assert.Equal([AlertEvent.UpstreamFailing, AlertEvent.UpstreamRecovered], receiver.Accepted.Select(a => a.Event));
        Assert.All(receiver.Received, r => Assert.StartsWith("application/json", r.ContentType, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Storage_that_becomes_unusable_alerts_once_and_its_repair_alerts_once_with_a_retried_webhook()
    {
        var ct = Deadline();
        await using var receiver = await AlertReceiver.StartAsync(ct);
        receiver.FailNext(1); // the first POST gets a 500: the alert is sent again, not lost
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: ct);
        var root = Path.Combine(_sandbox, "store");
        await using var mirror = await StartMirrorAsync(upstream, receiver, root, ct);
        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(mirror, "health/ready", ct));

        // Break the store for real: its folder is replaced by a file.
        Directory.Move(root, root + ".away");
        await File.WriteAllTextAsync(root, "not a folder", ct);
        var failed = await receiver.WaitForAsync(AlertEvent.StorageFailed, null, mirror, ct);
        Assert.Equal("storage", failed.Component);
        Assert.Contains("FileSystem", failed.Detail, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await GetStatusAsync(mirror, "health/ready", ct));

        File.Delete(root);
        Directory.Move(root + ".away", root);
        var recovered = await receiver.WaitForAsync(AlertEvent.StorageRecovered, null, mirror, ct);
        Assert.Equal("storage", recovered.Component);
        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(mirror, "health/ready", ct));

        await QuietForAFewChecksAsync(ct);
        Assert.Equal([AlertEvent.StorageFailed, AlertEvent.StorageRecovered], receiver.Accepted.Select(a => a.Event));
        var attempts = receiver.Received.Where(r => r.Alert.Event == AlertEvent.StorageFailed).ToList();
        Assert.Equal([500, 200], attempts.Select(a => a.Status));
        Assert.Equal(attempts[0].Body, attempts[1].Body); // the same alert, resent
    }

    [Fact]
    public async Task A_webhook_that_is_not_an_http_url_stops_the_node_at_start()
    {
        var ct = Deadline();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => MirrorProcess.StartAsync(
            "http://127.0.0.1:9/index/",
            Path.Combine(_sandbox, "store"),
            new Dictionary<string, string> { ["Alerts__WebhookUrl"] = "ftp://alerts.invalid/hook" },
            ct));
        Assert.Contains("Alerts: WebhookUrl, if set, must be an absolute http(s) URL", error.Message, StringComparison.Ordinal);
    }

    private static Task<MirrorProcess> StartMirrorAsync(FakeUpstream upstream, AlertReceiver receiver, string root, CancellationToken ct) =>
        MirrorProcess.StartAsync(
            upstream.IndexUrl,
            root,
            new Dictionary<string, string>
            {
                ["Alerts__WebhookUrl"] = receiver.Url.ToString(),
                ["Alerts__CheckInterval"] = CheckInterval.ToString(),
                ["Alerts__UpstreamFailingFor"] = UpstreamFailingFor.ToString(),
                ["Alerts__NodeName"] = "node-under-test",
                ["Mirror__UpstreamMaxAttempts"] = "1",
            },
            ct);

    private async Task<HttpStatusCode> GetStatusAsync(MirrorProcess mirror, string path, CancellationToken ct)
    {
        using var response = await _http.GetAsync(new Uri(mirror.BaseUri, path), ct);
        return response.StatusCode;
    }

    /// <summary>Lets a few checks run after the last transition, so a repeated alert would have been sent by now.</summary>
    private static Task QuietForAFewChecksAsync(CancellationToken ct) => Task.Delay(CheckInterval * 4, ct);

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;
}

internal static class AlertEvent
{
    public const string StorageFailed = "storage_failed";
    public const string StorageRecovered = "storage_recovered";
    public const string UpstreamFailing = "upstream_failing";
    public const string UpstreamRecovered = "upstream_recovered";
}

internal sealed record ReceivedAlert(string Event, string Component, string Node, DateTimeOffset At, string Detail);

internal sealed record ReceivedPost(int Status, string? ContentType, string Body, ReceivedAlert Alert);

/// <summary>A webhook on 127.0.0.1 (Kestrel, port 0) that records every POST and can answer 500 to the next few.</summary>
internal sealed class AlertReceiver : IAsyncDisposable
{
    private readonly List<ReceivedPost> _posts = [];
    private WebApplication? _app;
    private int _failNext;

    public Uri Url { get; private set; } = new("http://127.0.0.1/");

    public IReadOnlyList<ReceivedPost> Received
    {
        get
        {
            lock (_posts)
            {
                return [.. _posts];
            }
        }
    }

    /// <summary>Alerts that were answered 2xx, in arrival order.</summary>
    public IReadOnlyList<ReceivedAlert> Accepted => [.. Received.Where(p => p.Status == 200).Select(p => p.Alert)];

    public static async Task<AlertReceiver> StartAsync(CancellationToken ct)
    {
        var receiver = new AlertReceiver();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        app.Run(receiver.HandleAsync);
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        receiver.Url = new Uri(address.TrimEnd('/') + "/hooks/alerts");
        receiver._app = app;
        return receiver;
    }

    public void FailNext(int count) => Interlocked.Exchange(ref _failNext, count);

    /// <summary>
    /// Polls (bounded by <paramref name="ct"/>, 30 s at most) until an alert of that kind has been accepted, running
    /// <paramref name="betweenPolls"/> between looks, and returns it.
    /// </summary>
    public async Task<ReceivedAlert> WaitForAsync(string @event, Func<Task>? betweenPolls, MirrorProcess mirror, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(deadline) < TimeSpan.FromSeconds(30))
        {
            if (Accepted.FirstOrDefault(a => a.Event == @event) is { } alert)
            {
                return alert;
            }

            if (betweenPolls is not null)
            {
                await betweenPolls();
            }

            await Task.Delay(50, ct);
        }

        throw new TimeoutException(
            $"Expected a '{@event}' alert within 30 s; received [{string.Join(", ", Received.Select(p => $"{p.Alert.Event} ({p.Status})"))}]. Mirror output:\n{mirror.Output}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        var alert = new ReceivedAlert(
            root.GetProperty("event").GetString()!,
            root.GetProperty("component").GetString()!,
            root.GetProperty("node").GetString()!,
            root.GetProperty("at").GetDateTimeOffset(),
            root.GetProperty("detail").GetString()!);
        var status = context.Request.Method == HttpMethods.Post && Interlocked.Decrement(ref _failNext) < 0 ? 200 : 500;
        lock (_posts)
        {
            _posts.Add(new ReceivedPost(status, context.Request.ContentType, body, alert));
        }

        context.Response.StatusCode = status;
    }
}
