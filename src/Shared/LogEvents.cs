namespace OrleansCrates;

/// <summary>
/// The one table of log event ids, linked into every project under <c>src/</c> (Directory.Build.props): each
/// <c>[LoggerMessage]</c> names its id here, so ids stay unique across the whole program (a test checks it) and an
/// operator can look an id up in one place. Ranges by area; never reuse a retired id.
/// </summary>
internal static class LogEvents
{
    // Mirror: the crate coordinator, file receiver and upstream failover (Mirror)
    public const int CrateCoordinatorRevalidationFailed = 1001;
    public const int CrateFileReceiverBadUpstreamFile = 1002;
    public const int CrateFileReceiverStored = 1003;
    public const int CrateCoordinatorStorageWriteFailed = 1004;
    public const int CrateCoordinatorStorageReadFailed = 1005;
    public const int CrateCoordinatorKeptDeletedVersions = 1006;
    public const int CrateCoordinatorIndexWriteConflict = 1007;
    public const int CrateCoordinatorIndexUnavailable = 1008;
    public const int CrateFileReceiverStorageWriteFailed = 1009;
    public const int UpstreamSetUpstreamFailed = 1101;

    // Streaming cold downloads: following a download on another node (Mirror.Streaming)
    public const int InFlightSpoolsLocateFailed = 1201;
    public const int InFlightSpoolsRelaySpoolFailed = 1202;
    public const int SpoolRelayFollowing = 1211;
    public const int SpoolRelayNotFollowed = 1212;
    public const int SpoolRelayRelayed = 1213;
    public const int SpoolRelayBroke = 1214;

    // Upstream HTTP client (Upstream)
    public const int UpstreamRegistryIndexFetched = 2001;
    public const int UpstreamRegistryAttemptFailed = 2002;
    public const int UpstreamRegistryConfigUnavailable = 2003;

    // Storage (set-up in Mirror, Azure Blob)
    public const int MirrorServiceRegistrationContainerUnavailable = 3001;
    public const int AzureBlobObjectStoreContainerCreated = 3100;
    public const int AzureBlobObjectStoreHealthCheckFailed = 3101;
    public const int AzureBlobReadUrlsNoDelegationKey = 3102;

    // Private registry (Registry)
    public const int PrivateRegistryPublished = 4001;
    public const int PrivateRegistryYankChanged = 4002;
    public const int PrivateRegistryOwnersChanged = 4003;
    public const int PrivateRegistryTooManyConflicts = 4004;
    public const int PrivateRegistryCrateFileMissing = 4005;
    public const int PrivateRegistryUnreadableMeta = 4006;
    public const int PrivateRegistryPublishRefused = 4007;
    public const int PrivateRegistryClaimReleased = 4008;
    public const int PrivateRegistryClaimNotReleased = 4009;
    public const int PrivateCrateWriterRetryFoundCommitted = 4010;
    public const int PrivateCrateWriterWriteConflict = 4011;
    public const int PublishSpoolRemovedAbandoned = 4020;
    public const int PrivateRegistryNameReleased = 4050;

    // Policy and approvals (Mirror.Policy)
    public const int ApprovalStoreDecided = 4201;
    public const int ApprovalStorePendingRecorded = 4202;
    public const int MirrorPolicyPendingFailed = 4203;

    // Accounts: tokens and download records (Accounts)
    public const int TokenStoreTokenCreated = 5001;
    public const int TokenStoreTokenRevoked = 5002;
    public const int TokenStoreCorruptRecord = 5003;
    public const int DownloadLogFlusherFlushFailed = 5010;
    public const int DownloadLogFlusherFlushCancelled = 5011;
    public const int DownloadLogFlusherDropped = 5012;

    // Grains (Grains)
    public const int CrateGrainsCallFailed = 6001;
    public const int CrateGrainsGaveUp = 6002;
    public const int ToolchainGrainsCallFailed = 6011;
    public const int ToolchainGrainsGaveUp = 6012;
    public const int PrivateCrateGrainsCallFailed = 6021;
    public const int PrivateCrateGrainsGaveUp = 6022;
    public const int PrivateCrateGrainStorageFailed = 6023;

    // Hosting: drain on stop (Server)
    public const int MirrorDrainDraining = 6101;
    public const int MirrorDrainDrained = 6102;

    // Hosting: the internal HTTP listener other silos read in-flight downloads from (Server)
    public const int InternalHttpListening = 6111;

    // Hosting: where socket completions run (Server)
    public const int SocketCompletionsMode = 6121;

    // Hosting: whether index files take their direct route (Server)
    public const int DirectIndexRouteMode = 6151;

    // Dependency index prefetch (Server)
    public const int DependencyIndexPrefetchFailed = 6141;

    // Socket transport (Sockets)
    public const int TransportUnexpected = 6131;
    public const int TransportReceiveFailed = 6132;
    public const int TransportMode = 6133;

    // Statistics, mirror directory and alerts (Operations.Statistics, Server.Operations)
    public const int TrafficStatisticsFlusherFlushFailed = 7001;
    public const int TrafficStatisticsFlusherFlushCancelled = 7002;
    public const int MirrorDirectoryAnnounceFailed = 7101;
    public const int MirrorDirectoryCheckFailed = 7102;
    public const int AlertMonitorDisabled = 7501;
    public const int AlertMonitorEnabled = 7502;
    public const int AlertMonitorProblem = 7503;
    public const int AlertMonitorRecovery = 7504;
    public const int AlertMonitorSent = 7505;
    public const int AlertMonitorRetrying = 7506;
    public const int AlertMonitorGaveUp = 7507;

    // Toolchain mirror (Toolchains)
    public const int ToolchainMirrorManifestStored = 8001;
    public const int ToolchainMirrorArchiveStored = 8002;
    public const int ToolchainMirrorRejected = 8003;
    public const int ToolchainMirrorRevalidationFailed = 8004;
    public const int ToolchainMirrorWriteConflict = 8005;
    public const int ToolchainMirrorStorageFailed = 8006;
    public const int ToolchainMirrorPairRefetched = 8007;
    public const int ToolchainMirrorEarlierGenerationServed = 8008;
    public const int ToolchainUpstreamsUpstreamFailed = 8101;
}
