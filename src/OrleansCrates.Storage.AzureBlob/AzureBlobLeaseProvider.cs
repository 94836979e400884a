using Microsoft.Extensions.Logging;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>
/// Leases as blob leases on lock blobs under <c>locks/</c>, apart from data. A held lease is renewed every third of
/// its duration; if the holder dies, renewals stop and the lease expires, and a waiting node takes over.
/// </summary>
public sealed partial class AzureBlobLeaseProvider(AzureBlobLeaseClient client, TimeSpan duration, ILogger<AzureBlobLeaseProvider> logger) : ILeaseProvider
{
    public const string Prefix = "locks/";

    private readonly AzureBlobLeaseClient _client = client;
    private readonly TimeSpan _duration = duration;
    private readonly ILogger _logger = logger;

    public async Task<ILease?> TryAcquireAsync(string key, CancellationToken cancellationToken)
    {
        var lockKey = Prefix + key;
        var id = await _client.TryAcquireAsync(lockKey, _duration, Guid.NewGuid().ToString(), cancellationToken);
        return id is null ? null : new Lease(this, key, lockKey, id);
    }

    private sealed class Lease : ILease
    {
        private readonly AzureBlobLeaseProvider _owner;
        private readonly string _lockKey;
        private readonly string _id;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _renewals;

        public Lease(AzureBlobLeaseProvider owner, string key, string lockKey, string id)
        {
            _owner = owner;
            Key = key;
            _lockKey = lockKey;
            _id = id;
            _renewals = RenewAsync(_stop.Token);
        }

        public string Key { get; }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _renewals;
            _stop.Dispose();
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _owner._client.ReleaseAsync(_lockKey, _id, timeout.Token);
            }
            catch (Exception e) when (e is StorageUnavailableException or OperationCanceledException or IOException)
            {
                LogReleaseFailed(_owner._logger, Key, e.Message); // it expires on its own
            }
        }

        private async Task RenewAsync(CancellationToken stop)
        {
            try
            {
                while (true)
                {
                    await Task.Delay(_owner._duration / 3, stop);
                    if (!await _owner._client.RenewAsync(_lockKey, _id, stop))
                    {
                        LogLost(_owner._logger, Key);
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Released.
            }
            catch (Exception e) when (e is StorageUnavailableException or IOException)
            {
                LogLost(_owner._logger, Key); // storage unreachable: the lease will lapse; writes stay conditional
            }
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Lost the lease on {Key}; another node may take over")]
    private static partial void LogLost(ILogger logger, string key);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Debug, Message = "Releasing the lease on {Key} failed ({Error}); it will expire")]
    private static partial void LogReleaseFailed(ILogger logger, string key, string error);
}
