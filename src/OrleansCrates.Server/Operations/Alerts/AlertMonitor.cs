using System.Net.Http.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Polly.Timeout;
using OrleansCrates.Mirror;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Operations.Alerts;

/// <summary>
/// Every <see cref="AlertOptions.CheckInterval"/>, looks at storage (<see cref="IObjectStore.CheckHealthAsync"/>, and
/// the writes requests attempted, <see cref="StorageWriteHealth"/>) and
/// at each upstream's state on this node (<see cref="UpstreamSet.Status"/>, which asks no upstream), and POSTs each
/// transition <see cref="AlertTracker"/> finds to <see cref="AlertOptions.WebhookUrl"/>. Sending runs on its own loop
/// with a timeout and a few retries, so a slow webhook delays neither the checks nor any request. Off when no webhook
/// is configured.
/// </summary>
internal sealed partial class AlertMonitor(
    IOptions<AlertOptions> options,
    IObjectStore store,
    UpstreamSet upstreams,
    StorageWriteHealth writes,
    IHttpClientFactory clients,
    TimeProvider time,
    ILogger<AlertMonitor> logger) : BackgroundService
{
    /// <summary>The named client of the webhook: a timeout per attempt and retries with jitter (<see cref="AlertServiceCollectionExtensions"/>).</summary>
    public const string WebhookClient = "alerts-webhook";

    private readonly Channel<Alert> _outbox = Channel.CreateUnbounded<Alert>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            LogDisabled(logger);
            return;
        }

        var webhook = new Uri(settings.WebhookUrl!);
        var node = string.IsNullOrWhiteSpace(settings.NodeName) ? Environment.MachineName : settings.NodeName.Trim();
        var tracker = new AlertTracker(settings.UpstreamFailingFor, node);
        LogEnabled(logger, webhook.GetLeftPart(UriPartial.Authority), node, settings.CheckInterval, settings.UpstreamFailingFor);

        var http = clients.CreateClient(WebhookClient);
        var sending = SendLoopAsync(http, webhook, stoppingToken);
        using var timer = new PeriodicTimer(settings.CheckInterval, time);
        try
        {
            // The first look comes one interval after start, so a node still creating its container does not alert.
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = time.GetUtcNow();
                var storage = await CheckStorageAsync(settings.Timeout, stoppingToken);
                Enqueue(tracker.ObserveStorage(storage, now));
                Enqueue(tracker.ObserveStorageWrites(storage, writes.Snapshot(), now));
                Enqueue(tracker.ObserveUpstreams(upstreams.Status(), now));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
        finally
        {
            _outbox.Writer.TryComplete();
        }

        await sending;
    }

    private async Task<StorageHealth> CheckStorageAsync(TimeSpan timeout, CancellationToken stoppingToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        bounded.CancelAfter(timeout);
        try
        {
            return await store.CheckHealthAsync(bounded.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return new StorageHealth(false, "storage", $"the health check did not finish within {timeout}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new StorageHealth(false, "storage", e.Message);
        }
    }

    private void Enqueue(Alert? alert)
    {
        if (alert is null)
        {
            return;
        }

        if (alert.Event is AlertEvents.StorageFailed or AlertEvents.StorageWriteFailed or AlertEvents.UpstreamFailing)
        {
            LogProblem(logger, alert.Event, alert.Detail);
        }
        else
        {
            LogRecovery(logger, alert.Event, alert.Detail);
        }

        _outbox.Writer.TryWrite(alert);
    }

    private async Task SendLoopAsync(HttpClient http, Uri webhook, CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var alert in _outbox.Reader.ReadAllAsync(stoppingToken))
            {
                await SendAsync(http, webhook, alert, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down; alerts not sent yet are dropped (and were logged when they were raised).
        }
    }

    /// <summary>One alert, with the client's retries (timeouts, 408, 429, 5xx, network errors; jittered backoff).</summary>
    private async Task SendAsync(HttpClient http, Uri webhook, Alert alert, CancellationToken stoppingToken)
    {
        string error;
        try
        {
            using var response = await http.PostAsJsonAsync(webhook, alert, AlertJson.Default.Alert, stoppingToken);
            if (response.IsSuccessStatusCode)
            {
                LogSent(logger, alert.Event);
                return;
            }

            error = $"HTTP {(int)response.StatusCode}";
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
        {
            error = e is HttpRequestException ? e.Message : "timed out";
        }

        LogGaveUp(logger, alert.Event, options.Value.MaxAttempts, error);
    }

    /// <summary>Logs a failed webhook attempt that will be retried (called by the client's retry strategy).</summary>
    internal static void LogRetry(ILogger logger, int attempt, string error, TimeSpan delay) =>
        LogRetrying(logger, attempt, error, delay.TotalSeconds);
}
