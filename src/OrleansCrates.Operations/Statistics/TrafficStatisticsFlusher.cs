using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansCrates.Storage;

namespace OrleansCrates.Operations.Statistics;

/// <summary>
/// Writes the <see cref="TrafficStatistics"/> counters every <see cref="StatisticsOptions.FlushInterval"/> and once more
/// at shutdown. A failed flush is logged and retried at the next tick (the counters stay in memory); it never stops the node.
/// </summary>
public sealed partial class TrafficStatisticsFlusher(TrafficStatistics statistics, TimeProvider time, ILogger<TrafficStatisticsFlusher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(statistics.FlushInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
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
        if (!statistics.HasPending)
        {
            return;
        }

        try
        {
            await statistics.FlushAsync(cancellationToken);
        }
        catch (Exception e) when (e is StorageUnavailableException or IOException or HttpRequestException or UnauthorizedAccessException)
        {
            LogFlushFailed(logger, e.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            LogFlushCancelled(logger);
        }
    }
}
