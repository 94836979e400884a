using OrleansCrates.Mirror;

namespace OrleansCrates.Server.Hosting;

public sealed partial class MirrorDrain
{
    [LoggerMessage(EventId = LogEvents.MirrorDrainDraining, Level = LogLevel.Information, Message = "Stopping: waiting for {InFlight} upstream fetches to finish (at most {Seconds} s) before leaving the cluster")]
    private static partial void LogDraining(ILogger logger, int inFlight, double seconds);

    [LoggerMessage(EventId = LogEvents.MirrorDrainDrained, Level = LogLevel.Information, Message = "Stopping: drained {Drained} ({Left} fetches left) after {Seconds:0.0} s; leaving the cluster")]
    private static partial void LogDrained(ILogger logger, bool drained, int left, double seconds);
}
