using Microsoft.Extensions.Logging;

namespace OrleansCrates.Mirror.Streaming;

public sealed partial class SpoolRelay
{
    [LoggerMessage(EventId = LogEvents.SpoolRelayFollowing, Level = LogLevel.Information, Message = "Following download {SpoolId} on {Node} ({Length} bytes announced)")]
    private static partial void LogFollowing(ILogger logger, string spoolId, Uri node, long? length);

    [LoggerMessage(EventId = LogEvents.SpoolRelayNotFollowed, Level = LogLevel.Information, Message = "Not following download {SpoolId} on {Node}: {Reason}; waiting for the stored file")]
    private static partial void LogNotFollowed(ILogger logger, string spoolId, Uri node, string reason);

    [LoggerMessage(EventId = LogEvents.SpoolRelayRelayed, Level = LogLevel.Information, Message = "Relayed download {SpoolId} from {Node}: {Bytes} bytes, verified")]
    private static partial void LogRelayed(ILogger logger, string spoolId, Uri node, long bytes);

    [LoggerMessage(EventId = LogEvents.SpoolRelayBroke, Level = LogLevel.Warning, Message = "Relay of download {SpoolId} from {Node} broke: {Problem}; its clients' transfers are aborted")]
    private static partial void LogRelayBroke(ILogger logger, string spoolId, Uri node, string problem);
}
