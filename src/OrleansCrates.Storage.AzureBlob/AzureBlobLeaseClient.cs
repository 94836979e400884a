using System.Globalization;
using Azure.Core;

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

    private readonly BlobRestClient _client;

    /// <summary>A lease client with a connection of its own; <see cref="AzureBlobObjectStore.CreateLeaseClient"/> shares the store's.</summary>
    public AzureBlobLeaseClient(AzureBlobStorageOptions options, TokenCredential? credential = null)
        : this(BlobRestClient.Create(options, credential))
    {
    }

    internal AzureBlobLeaseClient(BlobRestClient client) => _client = client;

    /// <summary>
    /// Takes the lease on <paramref name="key"/>, creating an empty lock blob first if there is none. Returns the lease
    /// id, or null while someone else holds it. Acquiring again with the id already held renews it.
    /// </summary>
    /// <param name="duration">15–60 s, or <see cref="Timeout.InfiniteTimeSpan"/> for a lease that never expires.</param>
    /// <param name="proposedLeaseId">A GUID naming the holder; the service returns it as the lease id.</param>
    public async Task<string?> TryAcquireAsync(string key, TimeSpan duration, string proposedLeaseId, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        var seconds = DurationSeconds(duration);
        if (!Guid.TryParse(proposedLeaseId, out _))
        {
            throw new ArgumentException($"The proposed lease id '{proposedLeaseId}' is not a GUID.", nameof(proposedLeaseId));
        }

        for (var attempt = 0; ; attempt++)
        {
            var response = await _client.LeaseAsync(key, "acquire", null, proposedLeaseId, seconds, null, cancellationToken);
            switch (response.Status)
            {
                case 201:
                    return response.LeaseId ?? proposedLeaseId;
                case 409 when response.ErrorCode == "LeaseAlreadyPresent":
                    return null;
                case 404 when attempt < 3:
                    // No lock blob yet. Create it only if still missing: never clobber one another node just made.
                    await _client.PutBlobAsync(key, ReadOnlyMemory<byte>.Empty, WriteCondition.IfNotExists, metadata: null, cancellationToken);
                    continue;
                default:
                    throw Unexpected(response, "acquire", key);
            }
        }
    }

    /// <summary>Extends a held lease by its duration; false when it was lost (taken over, broken, or its blob deleted).</summary>
    public async Task<bool> RenewAsync(string key, string leaseId, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        var response = await _client.LeaseAsync(key, "renew", leaseId, null, null, null, cancellationToken);
        return response.Status switch
        {
            200 => true,
            409 or 404 => false,
            _ => throw Unexpected(response, "renew", key),
        };
    }

    /// <summary>Gives a held lease up so another holder can take it at once; false when it was no longer held.</summary>
    public async Task<bool> ReleaseAsync(string key, string leaseId, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        var response = await _client.LeaseAsync(key, "release", leaseId, null, null, null, cancellationToken);
        return response.Status switch
        {
            200 => true,
            409 or 404 => false,
            _ => throw Unexpected(response, "release", key),
        };
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

        var response = await _client.LeaseAsync(key, "break", null, null, null, (int)Math.Ceiling(breakPeriod.TotalSeconds), cancellationToken);
        return response.Status switch
        {
            202 => TimeSpan.FromSeconds(response.LeaseTimeSeconds ?? 0),
            404 => null,
            409 when response.ErrorCode == "LeaseNotPresentWithLeaseOperation" => null,
            _ => throw Unexpected(response, "break", key),
        };
    }

    /// <summary>The lease state of <paramref name="key"/>'s blob; null when the blob does not exist.</summary>
    public async Task<BlobLeaseInfo?> GetLeaseInfoOrNullAsync(string key, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        var properties = await _client.GetPropertiesAsync(key, cancellationToken);
        if (properties is null)
        {
            return null;
        }

        var state = properties.LeaseState switch
        {
            "available" => BlobLeaseState.Available,
            "leased" => BlobLeaseState.Leased,
            "expired" => BlobLeaseState.Expired,
            "breaking" => BlobLeaseState.Breaking,
            "broken" => BlobLeaseState.Broken,
            var other => throw new StorageUnavailableException($"Unknown lease state '{other}' on '{key}'."),
        };
        return new BlobLeaseInfo(state, properties.LeaseStatus == "locked", properties.LeaseDuration == "infinite");
    }

    private static int DurationSeconds(TimeSpan duration)
    {
        if (duration == Timeout.InfiniteTimeSpan)
        {
            return -1;
        }

        if (duration < MinDuration || duration > MaxDuration || duration.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "A lease lasts 15–60 whole seconds, or is infinite.");
        }

        return (int)duration.TotalSeconds;
    }

    private static StorageUnavailableException Unexpected(LeaseResponse response, string action, string key) =>
        new(string.Create(CultureInfo.InvariantCulture, $"Lease {action} on '{key}' answered {response.Status} {response.ErrorCode ?? "(no error code)"}."));
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
