using Microsoft.Extensions.Logging;

namespace OrleansCrates.Storage.AzureBlob;

public sealed partial class AzureBlobObjectStore
{
    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.AzureBlobObjectStoreContainerCreated, Level = LogLevel.Information, Message = "Created blob container {ContainerUri}")]
        public static partial void ContainerCreated(ILogger logger, Uri containerUri);

        [LoggerMessage(EventId = LogEvents.AzureBlobObjectStoreHealthCheckFailed, Level = LogLevel.Warning, Message = "Azure Blob Storage health check failed: {Detail}")]
        public static partial void HealthCheckFailed(ILogger logger, string detail);
    }
}
