using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Operations.Directory;

public sealed partial class MirrorDirectoryWorker
{
    [LoggerMessage(EventId = LogEvents.MirrorDirectoryAnnounceFailed, Level = LogLevel.Warning, Message = "Could not announce this mirror in the directory ({Error})")]
    private static partial void LogAnnounceFailed(ILogger logger, string error);

    [LoggerMessage(EventId = LogEvents.MirrorDirectoryCheckFailed, Level = LogLevel.Warning, Message = "Could not list the mirror directory for health checks ({Error})")]
    private static partial void LogCheckFailed(ILogger logger, string error);
}
