using OrleansCrates.Mirror;

namespace OrleansCrates.Server.Hosting;

/// <summary>
/// Graceful leave on SIGTERM. The host stops the web server first (Kestrel finishes in-flight responses), then this
/// service waits for the node's in-flight upstream fetches — also those its crate grains run for callers on other
/// silos — up to <c>Cluster:DrainTimeout</c>, and only then does the silo stop and leave the cluster, so the crates'
/// grains are activated again elsewhere with their work done rather than abandoned. Registered after the silo, so it
/// stops before it.
/// </summary>
public sealed partial class MirrorDrain(CrateCoordinator coordinator, TimeSpan drainTimeout, TimeProvider time, ILogger<MirrorDrain> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        coordinator.DrainOnStop(drainTimeout);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var inFlight = coordinator.UpstreamWorkInFlight;
        if (inFlight == 0)
        {
            return;
        }

        var started = time.GetTimestamp();
        LogDraining(logger, inFlight, drainTimeout.TotalSeconds);
        var drained = await coordinator.WhenDrainedAsync(cancellationToken);
        LogDrained(logger, drained, coordinator.UpstreamWorkInFlight, time.GetElapsedTime(started).TotalSeconds);
    }
}
