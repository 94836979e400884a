using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Mirror.Policy;

public sealed partial class ApprovalStore
{
    [LoggerMessage(EventId = LogEvents.ApprovalStoreDecided, Level = LogLevel.Information, Message = "Policy: {Decision} {Crate} {Req} by {By}")]
    private static partial void LogDecided(ILogger logger, string decision, string crate, string req, string by);

    [LoggerMessage(EventId = LogEvents.ApprovalStorePendingRecorded, Level = LogLevel.Information, Message = "Policy: approval requested for {Crate} {Versions} by {By}")]
    private static partial void LogPendingRecorded(ILogger logger, string crate, string versions, string by);
}
