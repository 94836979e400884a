using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Sas;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansCrates.Storage.AzureBlob;

public sealed partial class AzureBlobReadUrls
{
    [LoggerMessage(EventId = LogEvents.AzureBlobReadUrlsNoDelegationKey, Level = LogLevel.Warning, Message = "No user-delegation key for read URLs ({Error}); serving downloads directly meanwhile")]
    private static partial void LogNoDelegationKey(ILogger logger, string error);
}
