using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Mirror.Policy;

public sealed partial class MirrorPolicy
{
    [LoggerMessage(EventId = LogEvents.MirrorPolicyPendingFailed, Level = LogLevel.Warning, Message = "Policy: could not record the pending approval of {Crate}: {Error}")]
    private static partial void LogPendingFailed(ILogger logger, string crate, string error);
}
