using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansCrates.Storage;

namespace OrleansCrates.Accounts;

/// <summary>
/// Writes the <see cref="DownloadLog"/> to storage every <see cref="DownloadLog.FlushInterval"/>, sooner when a
/// batch fills, and once more at shutdown. A failed flush is logged and retried at the next tick; it never stops
/// the node.
/// </summary>
public sealed partial class DownloadLogFlusher(DownloadLog log, TimeProvider time, ILogger<DownloadLogFlusher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
            {
                var tick = Task.Delay(DownloadLog.FlushInterval, time, wait.Token);
                await Task.WhenAny(tick, log.BatchFull);
                await wait.CancelAsync(); // stop the timer if the batch filled first
            }

            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            await FlushAsync(stoppingToken);
        }
    }

    /// <summary>Stops the loop, then writes what is left, within the host's shutdown timeout.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(cancellationToken);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        var dropped = log.DroppedCount;
        try
        {
            await log.FlushAsync(cancellationToken);
        }
        catch (Exception e) when (e is StorageUnavailableException or IOException or HttpRequestException or UnauthorizedAccessException)
        {
            LogFlushFailed(logger, log.PendingCount, e.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            LogFlushCancelled(logger, log.PendingCount);
        }

        if (dropped > 0)
        {
            LogDropped(logger, dropped);
        }
    }
}
