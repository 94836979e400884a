namespace OrleansCrates.Storage;

/// <summary>
/// Storage writes as this node's requests met them: how many failed (out of space, over quota, refused, a 5xx from the
/// blob service), the last failure and when, and whether the latest write failed. A full disk is a storage failure, not
/// an upstream's: it is counted here, shown in <c>/health/ready</c> and alerted as storage, and clears with the next
/// write that succeeds. Thread-safe; a successful write costs one volatile read while nothing has failed.
/// </summary>
public sealed class StorageWriteHealth(TimeProvider time)
{
    private readonly Lock _gate = new();
    private volatile bool _failing;
    private long _failures;
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;

    /// <summary>Whether an exception from a storage write means storage failed (rather than a bug or a cancellation).</summary>
    public static bool IsStorageFailure(Exception e) =>
        e is IOException or UnauthorizedAccessException or StorageUnavailableException;

    /// <summary>A short cause for clients and health output, without paths or keys.</summary>
    public static string ShortCause(Exception e) => e switch
    {
        IOException { HResult: 28 } => "no space left on the storage device",
        IOException { HResult: 122 } => "storage quota exceeded",
        IOException { HResult: 30 } => "storage is read-only",
        UnauthorizedAccessException => "storage refused the write (permissions)",
        StorageUnavailableException => "storage is unavailable",
        _ => "storage write failed",
    };

    public void RecordFailure(Exception e)
    {
        lock (_gate)
        {
            _failing = true;
            _failures++;
            _lastError = ShortCause(e);
            _lastErrorAt = time.GetUtcNow();
        }
    }

    public void RecordSuccess()
    {
        if (_failing)
        {
            _failing = false;
        }
    }

    public StorageWriteSnapshot Snapshot()
    {
        lock (_gate)
        {
            return new StorageWriteSnapshot(!_failing, _failures, _lastError, _lastErrorAt);
        }
    }
}

/// <summary>What <see cref="StorageWriteHealth"/> knows now: whether the latest write succeeded, and the failures so far.</summary>
public sealed record StorageWriteSnapshot(bool LastWriteSucceeded, long Failures, string? LastError, DateTimeOffset? LastErrorAt);
