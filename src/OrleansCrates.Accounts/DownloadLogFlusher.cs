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

    [LoggerMessage(EventId = 5010, Level = LogLevel.Warning, Message = "Could not write download records ({Error}); {Pending} kept for the next attempt")]
    private static partial void LogFlushFailed(ILogger logger, int pending, string error);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Warning, Message = "Shutdown ended before {Pending} download records were written")]
    private static partial void LogFlushCancelled(ILogger logger, int pending);

    [LoggerMessage(EventId = 5012, Level = LogLevel.Warning, Message = "{Dropped} download records dropped so far: too many waiting while storage could not be written")]
    private static partial void LogDropped(ILogger logger, long dropped);
}
