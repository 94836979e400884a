using System.Buffers;
using System.Security.Cryptography;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror.Streaming;

/// <summary>How one upstream body went into storage (<see cref="VerifiedReceiver"/>).</summary>
public enum ReceiveStatus
{
    /// <summary>Every byte arrived, the sha256 matched, and the file is committed (or was already there).</summary>
    Stored,

    /// <summary>The bytes are not the file: too many, too few, or another sha256. Nothing was stored.</summary>
    BadFile,

    /// <summary>The transfer broke off, stalled or dripped: the upstream's failure. Nothing was stored.</summary>
    BrokenTransfer,

    /// <summary>Storage could not take the file (full disk, quota, blob service): no upstream's failure.</summary>
    StorageFailed,
}

/// <param name="Detail">Why, for anything but <see cref="ReceiveStatus.Stored"/>.</param>
/// <param name="Failure">The storage exception, for <see cref="ReceiveStatus.StorageFailed"/>.</param>
public sealed record ReceiveOutcome(ReceiveStatus Status, long Received, string? Detail, PutStatus Committed = PutStatus.Written, Exception? Failure = null);

/// <summary>
/// Takes one upstream body into storage, verified: it streams into an uncommitted create-only upload while hashing, at
/// most <c>maxBytes</c>, and commits only if every byte arrived (the announced length, when there was one) and the
/// sha256 equals <c>expectedSha256</c>. When spools are given, the bytes go to an <see cref="InFlightSpool"/> as they
/// arrive, for clients that wait for the file (on this node, and on others through <see cref="SpoolRelay"/>); it
/// completes once the file is stored (or, asked to, as soon as the bytes verify) and fails on anything else.
/// Stateless; whoever owns the fetch (a crate's or a toolchain file's grain) calls it.
/// </summary>
public static class VerifiedReceiver
{
    /// <param name="releaseBeforeCommit">
    /// Complete the spool as soon as the bytes verify, so its readers have the file while the commit runs (crate files:
    /// the commit is most of what a cold request waits for after the bytes); otherwise only once the file is stored.
    /// </param>
    public static async Task<ReceiveOutcome> ReceiveAsync(
        IObjectStore store, string key, UpstreamDownload download, string expectedSha256, long maxBytes, string maxBytesSetting, InFlightSpools? spools, CancellationToken cancellationToken,
        bool releaseBeforeCommit = false)
    {
        if (download.ContentLength > maxBytes)
        {
            return new ReceiveOutcome(ReceiveStatus.BadFile, 0, $"{download.ContentLength} bytes announced, more than {maxBytesSetting} ({maxBytes})");
        }

        var spool = spools?.Start(key, download.ContentLength, expectedSha256);
        try
        {
            var outcome = await ReceiveAsync(store, key, download, expectedSha256, maxBytes, maxBytesSetting, spool, releaseBeforeCommit, cancellationToken);
            if (outcome.Status == ReceiveStatus.Stored)
            {
                spool?.Complete();
            }
            else
            {
                spool?.Fail(outcome.Detail ?? outcome.Status.ToString()); // a no-op on a spool released before the commit: its bytes are the file
            }

            return outcome;
        }
        catch (Exception e)
        {
            spool?.Fail(e.Message);
            throw;
        }
        finally
        {
            if (spool is not null)
            {
                spools!.End(spool);
            }
        }
    }

    private static async Task<ReceiveOutcome> ReceiveAsync(
        IObjectStore store, string key, UpstreamDownload download, string expectedSha256, long maxBytes, string maxBytesSetting, InFlightSpool? spool, bool releaseBeforeCommit,
        CancellationToken cancellationToken)
    {
        IObjectUpload upload;
        try
        {
            upload = await store.BeginUploadAsync(key, WriteCondition.IfNotExists, cancellationToken);
        }
        catch (Exception e) when (StorageWriteHealth.IsStorageFailure(e))
        {
            return new ReceiveOutcome(ReceiveStatus.StorageFailed, 0, StorageWriteHealth.ShortCause(e), Failure: e);
        }

        await using var _ = upload;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long received = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
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
                    return new ReceiveOutcome(ReceiveStatus.BrokenTransfer, received, $"transfer broke off after {received} bytes: {e.Message}");
                }

                if (read == 0)
                {
                    break;
                }

                received += read;
                if (received > maxBytes)
                {
                    return new ReceiveOutcome(ReceiveStatus.BadFile, received, $"more than {maxBytesSetting} ({maxBytes}) bytes");
                }

                if (download.ContentLength is { } announced && received > announced)
                {
                    return new ReceiveOutcome(ReceiveStatus.BadFile, received, $"more than the {announced} bytes announced");
                }

                sha.AppendData(buffer, 0, read);
                try
                {
                    await upload.Content.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
                catch (Exception e) when (StorageWriteHealth.IsStorageFailure(e))
                {
                    return new ReceiveOutcome(ReceiveStatus.StorageFailed, received, StorageWriteHealth.ShortCause(e), Failure: e);
                }

                if (spool is not null)
                {
                    try
                    {
                        await spool.AppendAsync(buffer.AsMemory(0, read), cancellationToken);
                    }
                    catch (IOException e)
                    {
                        // The spool is a courtesy to waiting clients; its own disk failing breaks their streams, not the download.
                        spool.Fail($"the spool could not be written: {e.Message}");
                        spool = null;
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (download.ContentLength is { } expected && expected != received)
        {
            return new ReceiveOutcome(ReceiveStatus.BadFile, received, $"received {received} of {expected} bytes");
        }

        var actual = Convert.ToHexStringLower(sha.GetHashAndReset());
        if (!string.Equals(actual, expectedSha256, StringComparison.OrdinalIgnoreCase))
        {
            return new ReceiveOutcome(
                ReceiveStatus.BadFile, received, $"sha256 {actual} ({received} bytes, {download.ContentType ?? "no content type"}) does not match the published {expectedSha256}");
        }

        // Asked to (crate files): the bytes are the published file, so whoever waits for them may have them now, while the commit (an fsync and
        // a link on the filesystem, a block list on Azure) runs. A failed commit loses the mirror its copy, never a
        // client its file: the next request fetches it again.
        if (releaseBeforeCommit)
        {
            spool?.Complete(); // null when the spool itself failed: its readers are already broken
        }

        try
        {
            var committed = await upload.CommitAsync(cancellationToken);
            return new ReceiveOutcome(ReceiveStatus.Stored, received, null, committed.Status);
        }
        catch (Exception e) when (StorageWriteHealth.IsStorageFailure(e))
        {
            return new ReceiveOutcome(ReceiveStatus.StorageFailed, received, StorageWriteHealth.ShortCause(e), Failure: e);
        }
    }
}
