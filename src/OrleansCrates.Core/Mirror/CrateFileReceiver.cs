using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Core.Mirror;

/// <summary>
/// Takes one crate file from one upstream's download into storage, verified: it streams into an uncommitted upload
/// while hashing, at most <c>Mirror:MaxCrateBytes</c>, and commits only if every byte arrived and the sha256 equals
/// the index checksum. The outcome says whose failure anything else was: a transfer that broke off, stalled or dripped
/// is the upstream's (the next one is asked), bytes that are not the file are a bad file, and a write that failed (a
/// full disk, a quota, the blob service) is storage's — no upstream is blamed for it. Stateless: whoever owns the fetch
/// (the coordinator, or a grain) calls it.
/// </summary>
internal static partial class CrateFileReceiver
{
    /// <summary>
    /// Streams one upstream's download into an uncommitted upload while hashing it, and commits only if every byte
    /// arrived and the sha256 equals the index checksum. Anything else leaves nothing behind.
    /// </summary>
    public static async Task<FetchOutcome> ReceiveAndStoreAsync(
        IObjectStore store, long maxCrateBytes, ILogger logger, CrateName name, IndexLine line, string key, UpstreamDownload download, CancellationToken cancellationToken)
    {
        if (download.ContentLength > maxCrateBytes)
        {
            return Rejected(logger, name, line, $"{download.ContentLength} bytes announced, more than Mirror:MaxCrateBytes ({maxCrateBytes})");
        }

        // Reading upstream and writing storage fail differently: a broken transfer is the upstream's failure (the next
        // one is asked), a write that fails (full disk, quota, blob service) is storage's (no upstream is blamed).
        IObjectUpload upload;
        try
        {
            upload = await store.BeginUploadAsync(key, WriteCondition.IfNotExists, cancellationToken);
        }
        catch (Exception e) when (StorageWriteHealth.IsStorageFailure(e))
        {
            return StorageFailed(logger, name, line, e);
        }

        await using var _ = upload;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long received = 0;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            while (true)
            {
                int read;
                try
                {
                    read = await download.Body!.ReadAsync(buffer, cancellationToken);
                }
                catch (Exception e) when (e is IOException or HttpRequestException or TimeoutException)
                {
                    // A transfer that broke off, stalled or dripped too slowly is an upstream failure, not a bad file.
                    LogBadUpstreamFile(logger, name.Value, line.Version, $"transfer broke off after {received} bytes: {e.Message}");
                    return new FetchOutcome(CrateFileStatus.UpstreamUnavailable, $"transfer of {name} {line.Version} broke off after {received} bytes: {e.Message}", null);
                }

                if (read == 0)
                {
                    break;
                }

                received += read;
                if (received > maxCrateBytes)
                {
                    return Rejected(logger, name, line, $"more than Mirror:MaxCrateBytes ({maxCrateBytes}) bytes");
                }

                sha.AppendData(buffer, 0, read);
                try
                {
                    await upload.Content.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
                catch (Exception e) when (StorageWriteHealth.IsStorageFailure(e))
                {
                    return StorageFailed(logger, name, line, e);
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        if (download.ContentLength is { } expected && expected != received)
        {
            return Rejected(logger, name, line, $"received {received} of {expected} bytes");
        }

        var actual = Convert.ToHexStringLower(sha.GetHashAndReset());
        if (!string.Equals(actual, line.Checksum, StringComparison.Ordinal))
        {
            return Rejected(logger, name, line, $"sha256 {actual} ({received} bytes, {download.ContentType ?? "no content type"}) does not match the index checksum {line.Checksum}");
        }

        PutResult committed;
        try
        {
            committed = await upload.CommitAsync(cancellationToken);
        }
        catch (Exception e) when (StorageWriteHealth.IsStorageFailure(e))
        {
            return StorageFailed(logger, name, line, e);
        }

        LogStored(logger, name.Value, line.Version, received, committed.Status);
        return FetchOutcome.Stored;
    }

    private static FetchOutcome StorageFailed(ILogger logger, CrateName name, IndexLine line, Exception e)
    {
        LogStorageWriteFailed(logger, MirrorKeys.CrateFile(name, line.Version), e.Message);
        return FetchOutcome.StorageFailed($"{name} {line.Version} cannot be stored: {StorageWriteHealth.ShortCause(e)}");
    }

    private static FetchOutcome Rejected(ILogger logger, CrateName name, IndexLine line, string reason)
    {
        LogBadUpstreamFile(logger, name.Value, line.Version, reason);
        return new FetchOutcome(CrateFileStatus.BadUpstreamFile, $"upstream sent a bad file for {name} {line.Version}: {reason}", null);
    }

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Rejected the upstream file of {Crate} {Version}: {Reason}")]
    private static partial void LogBadUpstreamFile(ILogger logger, string crate, string version, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Stored {Crate} {Version} ({Bytes} bytes, {Status})")]
    private static partial void LogStored(ILogger logger, string crate, string version, long bytes, PutStatus status);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Could not store {Key}: {Error}")]
    private static partial void LogStorageWriteFailed(ILogger logger, string key, string error);
}
