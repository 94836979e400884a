using Azure;
using Azure.Core;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>
/// Blob leases as a cluster-wide lock, one holder per lock blob: acquire for 15–60 s with a proposed lease id, renew
/// about every third of the duration, release when done; a crashed holder's lease simply expires. A lease fences only
/// its own blob (writes to a leased blob need its lease id, which <see cref="IObjectStore"/> never sends): keep lock
/// blobs apart from data and make data writes create-only or ETag-conditional.
/// </summary>
public sealed class AzureBlobLeaseClient
{
    public static readonly TimeSpan MinDuration = TimeSpan.FromSeconds(15);
    public static readonly TimeSpan MaxDuration = TimeSpan.FromSeconds(60);

    private readonly AzureBlobClients _clients;

    /// <summary>A lease client with a connection of its own; <see cref="AzureBlobObjectStore.CreateLeaseClient"/> shares the store's.</summary>
    public AzureBlobLeaseClient(AzureBlobStorageOptions options, TokenCredential? credential = null)
        : this(AzureBlobClients.Create(options, credential))
    {
    }

    internal AzureBlobLeaseClient(AzureBlobClients clients) => _clients = clients;

    /// <summary>
    /// Takes the lease on <paramref name="key"/>, creating an empty lock blob first if there is none. Returns the lease
    /// id, or null while someone else holds it. Acquiring again with the id already held renews it.
    /// </summary>
    /// <param name="duration">15–60 s, or <see cref="Timeout.InfiniteTimeSpan"/> for a lease that never expires.</param>
    /// <param name="proposedLeaseId">A GUID naming the holder; the service returns it as the lease id.</param>
    public async Task<string?> TryAcquireAsync(string key, TimeSpan duration, string proposedLeaseId, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        var serviceDuration = ServiceDuration(duration);
        if (!Guid.TryParse(proposedLeaseId, out _))
        {
            throw new ArgumentException($"The proposed lease id '{proposedLeaseId}' is not a GUID.", nameof(proposedLeaseId));
        }

        var blob = _clients.Container.GetBlobClient(key);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var lease = await blob.GetBlobLeaseClient(proposedLeaseId).AcquireAsync(serviceDuration, cancellationToken: cancellationToken);
                return lease.Value.LeaseId ?? proposedLeaseId;
            }
            catch (RequestFailedException e) when (e.Status == 409 && e.ErrorCode == BlobErrorCode.LeaseAlreadyPresent)
            {
                return null;
            }
            catch (RequestFailedException e) when (e.Status == 404 && attempt < 3)
            {
                // No lock blob yet. Create it only if still missing: never clobber one another node just made.
                await using var upload = new BlobUpload(_clients, key, WriteCondition.IfNotExists);
                await upload.CommitAsync(cancellationToken);
            }
            catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
            {
                throw AzureBlobErrors.Unavailable("lease acquire", key, e);
            }
        }
    }

    /// <summary>Extends a held lease by its duration; false when it was lost (taken over, broken, or its blob deleted).</summary>
    public async Task<bool> RenewAsync(string key, string leaseId, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        try
        {
            await Lease(key, leaseId).RenewAsync(cancellationToken: cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 404)
        {
            return false;
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            throw AzureBlobErrors.Unavailable("lease renew", key, e);
        }
    }

    /// <summary>Gives a held lease up so another holder can take it at once; false when it was no longer held.</summary>
    public async Task<bool> ReleaseAsync(string key, string leaseId, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        try
        {
            await Lease(key, leaseId).ReleaseAsync(cancellationToken: cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 404)
        {
            return false;
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            throw AzureBlobErrors.Unavailable("lease release", key, e);
        }
    }

    /// <summary>
    /// Ends whatever lease is on <paramref name="key"/> without knowing its id, after at most
    /// <paramref name="breakPeriod"/> (0–60 s). Returns the time left until it is broken, or null when there was no
    /// lease (or no blob) to break.
    /// </summary>
    public async Task<TimeSpan?> BreakAsync(string key, TimeSpan breakPeriod, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        if (breakPeriod < TimeSpan.Zero || breakPeriod > MaxDuration)
        {
            throw new ArgumentOutOfRangeException(nameof(breakPeriod), breakPeriod, "A break period is 0–60 s.");
        }

        try
        {
            var broken = await Lease(key, leaseId: null).BreakAsync(TimeSpan.FromSeconds(Math.Ceiling(breakPeriod.TotalSeconds)), cancellationToken: cancellationToken);
            return TimeSpan.FromSeconds(broken.Value.LeaseTime ?? 0);
        }
        catch (RequestFailedException e) when (e.Status == 404 || (e.Status == 409 && e.ErrorCode == BlobErrorCode.LeaseNotPresentWithLeaseOperation))
        {
            return null;
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            throw AzureBlobErrors.Unavailable("lease break", key, e);
        }
    }

    /// <summary>The lease state of <paramref name="key"/>'s blob; null when the blob does not exist.</summary>
    public async Task<BlobLeaseInfo?> GetLeaseInfoOrNullAsync(string key, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        BlobProperties properties;
        try
        {
            properties = (await _clients.Container.GetBlobClient(key).GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            throw AzureBlobErrors.Unavailable("get blob properties", key, e);
        }

        var state = properties.LeaseState switch
        {
            LeaseState.Available => BlobLeaseState.Available,
            LeaseState.Leased => BlobLeaseState.Leased,
            LeaseState.Expired => BlobLeaseState.Expired,
            LeaseState.Breaking => BlobLeaseState.Breaking,
            LeaseState.Broken => BlobLeaseState.Broken,
            var other => throw new StorageUnavailableException($"Unknown lease state '{other}' on '{key}'."),
        };
        return new BlobLeaseInfo(state, properties.LeaseStatus == LeaseStatus.Locked, properties.LeaseDuration == LeaseDurationType.Infinite);
    }

    private BlobLeaseClient Lease(string key, string? leaseId) => _clients.Container.GetBlobClient(key).GetBlobLeaseClient(leaseId);

    private static TimeSpan ServiceDuration(TimeSpan duration)
    {
        if (duration == Timeout.InfiniteTimeSpan)
        {
            return BlobLeaseClient.InfiniteLeaseDuration;
        }

        if (duration < MinDuration || duration > MaxDuration || duration.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "A lease lasts 15–60 whole seconds, or is infinite.");
        }

        return duration;
    }
}

/// <summary>Where a blob's lease stands.</summary>
public enum BlobLeaseState
{
    /// <summary>Never leased, or released: anyone can acquire.</summary>
    Available,

    /// <summary>Held.</summary>
    Leased,

    /// <summary>Its duration ran out without a renewal: anyone can acquire.</summary>
    Expired,

    /// <summary>Being broken: nobody can acquire until the break period ends.</summary>
    Breaking,

    /// <summary>Broken: anyone can acquire.</summary>
    Broken,
}

/// <param name="State">The lease state.</param>
/// <param name="Locked">True while a lease is in force (Leased or Breaking).</param>
/// <param name="Infinite">True when the lease in force never expires.</param>
public sealed record BlobLeaseInfo(BlobLeaseState State, bool Locked, bool Infinite);
