using System.Buffers;
using System.Globalization;
using System.Text;
using Azure;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>
/// A write in progress, pushed by the caller through <see cref="Content"/> and made visible atomically by
/// <see cref="CommitAsync"/>: content of at most one block goes as one Put Blob (the SDK's
/// <see cref="BlockBlobClient.UploadAsync(Stream, BlobUploadOptions, CancellationToken)"/>), larger content is staged
/// block by block (<see cref="BlockBlobClient.StageBlockAsync(string, Stream, BlockBlobStageBlockOptions, CancellationToken)"/>)
/// while it is written and committed with one Put Block List. Both carry the write condition.
/// <para>
/// Why not hand a stream to the SDK's partitioned upload: its block ids depend only on the offset (Azure SDK TODO
/// #8162), so two writers racing on one key (a duplicate activation, a silo that resumes after takeover) overwrite
/// each other's uncommitted blocks and the winner can commit the loser's bytes. Block ids here start with a
/// per-upload GUID. Memory: one block filling plus <c>MaximumConcurrency</c> blocks being staged. Whole blocks are the
/// upload's own arrays, reused from block to block (at most <c>MaximumConcurrency + 1</c> of them for any size of
/// content): renting them from the shared array pool instead let each thread and core that returned one keep it, and a
/// 400 MB upload measured 48.8 MB above its starting RSS against Azurite. Smaller content grows in pooled arrays.
/// </para>
/// </summary>
internal sealed class BlobUpload : IObjectUpload
{
    private readonly BlobUploadStream _stream;
    private bool _finished;

    public BlobUpload(AzureBlobClients clients, string key, WriteCondition condition) =>
        _stream = new BlobUploadStream(clients, key, condition);

    public Stream Content => _stream;

    public async Task<PutResult> CommitAsync(CancellationToken cancellationToken)
    {
        if (_finished)
        {
            throw new InvalidOperationException("The upload was already committed or abandoned.");
        }

        _finished = true;
        return await _stream.CommitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _finished = true;
        await _stream.AbandonAsync();
    }
}

/// <summary>The write side of a <see cref="BlobUpload"/>. Not thread-safe, like any stream; disposing the upload abandons it.</summary>
internal sealed class BlobUploadStream : Stream
{
    public const int MaxBlockCount = 50_000;
    private const int InitialBufferSize = 64 * 1024;
    private const string ContentType = "application/octet-stream";

    private readonly BlockBlobClient _blob;
    private readonly string _key;
    private readonly WriteCondition _condition;
    private readonly int _blockSize;
    private readonly int _concurrency;

    // Every block id of one upload has the same length and a prefix unique to the upload, so two uploads racing to
    // the same blob never commit each other's blocks. 32 hex digits + 6 digits = 38 bytes, base64 = 52 characters.
    private readonly string _uploadId = Guid.NewGuid().ToString("N");
    private readonly List<string> _blockIds = [];
    private readonly Queue<Task> _staging = new();
    private readonly System.Collections.Concurrent.ConcurrentBag<byte[]> _freeBlocks = [];
    private readonly CancellationTokenSource _abandon = new();
    private byte[]? _buffer;
    private int _count;
    private long _length;
    private bool _closed;

    public BlobUploadStream(AzureBlobClients clients, string key, WriteCondition condition)
    {
        _blob = clients.Container.GetBlockBlobClient(key);
        _key = key;
        _condition = condition;
        _blockSize = clients.BlockSize;
        _concurrency = clients.Transfer.MaximumConcurrency ?? 1;
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => !_closed;

    public override long Length => _length;

    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException();
    }

    /// <summary>Ids of the blocks handed to staging so far, in order.</summary>
    internal IReadOnlyList<string> StagedBlockIds => _blockIds;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        while (!buffer.IsEmpty)
        {
            if (_count == _blockSize)
            {
                await StageBufferedBlockAsync(cancellationToken);
            }

            var taken = Append(buffer.Span);
            buffer = buffer[taken..];
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ThrowIfClosed();
        while (!buffer.IsEmpty)
        {
            if (_count == _blockSize)
            {
                // Synchronous writers block while a full block waits for a staging slot; asynchronous ones should be preferred.
                StageBufferedBlockAsync(CancellationToken.None).GetAwaiter().GetResult();
            }

            var taken = Append(buffer);
            buffer = buffer[taken..];
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void WriteByte(byte value) => Write([value]);

    /// <summary>Nothing to flush: content becomes visible only on commit.</summary>
    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    internal async Task<PutResult> CommitAsync(CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        _closed = true;
        try
        {
            if (_blockIds.Count == 0)
            {
                var put = await PutBlobAsync(cancellationToken);
                if (put.Status != PutStatus.AlreadyExists || await ExistsAsync(cancellationToken))
                {
                    return put;
                }

                // "Already exists", yet there is no blob: Azurite counts a blob that has only uncommitted blocks (an
                // abandoned upload) as existing for Put Blob's If-None-Match: *, where Put Block List (and Azure)
                // treat it as missing. Commit the content as a block list instead.
            }

            if (_count > 0)
            {
                await StageBufferedBlockAsync(cancellationToken);
            }

            while (_staging.TryPeek(out var staged))
            {
                await staged.WaitAsync(cancellationToken);
                _ = _staging.Dequeue(); // only once done: abandoning waits for whatever is still in flight
            }

            return await CommitBlockListAsync(cancellationToken) ?? await ResolveMissingBlocksAsync(cancellationToken);
        }
        finally
        {
            await AbandonAsync();
        }
    }

    /// <summary>Stops staging, waits for blocks in flight and returns the buffers; further writes fail. Staged blocks expire on their own.</summary>
    internal async ValueTask AbandonAsync()
    {
        _closed = true;
        if (!_abandon.IsCancellationRequested)
        {
            await _abandon.CancelAsync();
        }

        while (_staging.TryDequeue(out var staged))
        {
            try
            {
                await staged;
            }
            catch (Exception e) when (e is OperationCanceledException or StorageUnavailableException || AzureBlobErrors.IsStorageFailure(e, CancellationToken.None))
            {
                // Abandoned: nothing of it is committed.
            }
        }

        if (_buffer is { } buffer)
        {
            _buffer = null;
            Release(buffer);
        }

        _freeBlocks.Clear(); // the upload's own block arrays go with it
        _abandon.Dispose();
    }

    private async Task<PutResult> PutBlobAsync(CancellationToken cancellationToken)
    {
        var options = new BlobUploadOptions
        {
            Conditions = Conditions(_condition),
            HttpHeaders = new BlobHttpHeaders { ContentType = ContentType },
            TransferOptions = new() { InitialTransferSize = _blockSize, MaximumTransferSize = _blockSize, MaximumConcurrency = 1 },
        };
        try
        {
            using var content = new MemoryStream(_buffer ?? [], 0, _count, writable: false);
            var response = await _blob.UploadAsync(content, options, cancellationToken);
            return new PutResult(PutStatus.Written, response.Value.ETag.ToString("H"));
        }
        catch (Exception e) when (ConditionOutcome(e) is { } outcome)
        {
            return outcome;
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            throw AzureBlobErrors.Unavailable("put blob", _key, e);
        }
    }

    /// <summary>Null when the service no longer has every block (a concurrent commit to the same blob discards the uncommitted blocks it does not name).</summary>
    private async Task<PutResult?> CommitBlockListAsync(CancellationToken cancellationToken)
    {
        var options = new CommitBlockListOptions
        {
            Conditions = Conditions(_condition),
            HttpHeaders = new BlobHttpHeaders { ContentType = ContentType },
        };
        try
        {
            var response = await _blob.CommitBlockListAsync(_blockIds, options, cancellationToken);
            return new PutResult(PutStatus.Written, response.Value.ETag.ToString("H"));
        }
        catch (Exception e) when (ConditionOutcome(e) is { } outcome)
        {
            return outcome;
        }
        catch (Exception e) when (AzureBlobErrors.Is(e, 400, BlobErrorCode.InvalidBlockList))
        {
            return null;
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            throw AzureBlobErrors.Unavailable("put block list", _key, e);
        }
    }

    /// <summary>The outcome of a conditional write the service refused, or null when the failure is not about the condition.</summary>
    private PutResult? ConditionOutcome(Exception e)
    {
        var refused = (AzureBlobErrors.Status(e), AzureBlobErrors.Code(e)) switch
        {
            (409, var code) => code == BlobErrorCode.BlobAlreadyExists.ToString(),
            (412, var code) => code is null || code == BlobErrorCode.ConditionNotMet.ToString(),
            (304, _) => _condition.Kind != WriteConditionKind.None, // Azurite answers some refused conditions with 304
            (404, var code) => _condition.Kind == WriteConditionKind.IfMatch && code == BlobErrorCode.BlobNotFound.ToString(),
            _ => false,
        };
        return refused
            ? new PutResult(_condition.Kind == WriteConditionKind.IfNotExists ? PutStatus.AlreadyExists : PutStatus.PreconditionFailed, null)
            : null;
    }

    /// <summary>
    /// Put Block List found blocks missing: another upload's commit to this blob discarded them. Answer as the
    /// condition would have if it was checked first; a plain overwrite cannot be answered and must be retried.
    /// </summary>
    private async Task<PutResult> ResolveMissingBlocksAsync(CancellationToken cancellationToken)
    {
        var current = await GetETagOrNullAsync(cancellationToken);
        return _condition.Kind switch
        {
            WriteConditionKind.IfNotExists when current is not null => new PutResult(PutStatus.AlreadyExists, null),
            WriteConditionKind.IfMatch when current is null || current != _condition.ETag => new PutResult(PutStatus.PreconditionFailed, null),
            _ => throw new StorageUnavailableException(
                $"Put Block List for '{_key}' found its staged blocks gone: a concurrent write to the same key committed first and discarded them. Retry the write."),
        };
    }

    private async Task<bool> ExistsAsync(CancellationToken cancellationToken) => await GetETagOrNullAsync(cancellationToken) is not null;

    private async Task<string?> GetETagOrNullAsync(CancellationToken cancellationToken)
    {
        try
        {
            return (await _blob.GetPropertiesAsync(cancellationToken: cancellationToken)).Value.ETag.ToString("H");
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            throw AzureBlobErrors.Unavailable("get blob properties", _key, e);
        }
    }

    private int Append(ReadOnlySpan<byte> source)
    {
        var taken = Math.Min(source.Length, _blockSize - _count);
        EnsureCapacity(_count + taken);
        source[..taken].CopyTo(_buffer.AsSpan(_count));
        _count += taken;
        _length += taken;
        return taken;
    }

    private void EnsureCapacity(int needed)
    {
        if (_buffer is not null && _buffer.Length >= needed)
        {
            return;
        }

        // Grow geometrically up to one block, so small objects never hold a whole block's worth of memory; once a
        // block has been staged the content is large, so later blocks take a whole block at once.
        var size = _blockIds.Count > 0
            ? _blockSize
            : Math.Min(_blockSize, Math.Max(needed, Math.Max(InitialBufferSize, (_buffer?.Length ?? 0) * 2)));
        var grown = size == _blockSize ? WholeBlock() : ArrayPool<byte>.Shared.Rent(size);
        if (_buffer is { } old)
        {
            old.AsSpan(0, _count).CopyTo(grown);
            Release(old);
        }

        _buffer = grown;
    }

    /// <summary>A whole block's array: one the upload staged before and got back, else a new one.</summary>
    private byte[] WholeBlock() => _freeBlocks.TryTake(out var block) ? block : GC.AllocateUninitializedArray<byte>(_blockSize);

    /// <summary>A whole block's array goes back to this upload; a smaller one to the shared pool it came from.</summary>
    private void Release(byte[] buffer)
    {
        if (buffer.Length == _blockSize && !_abandon.IsCancellationRequested)
        {
            _freeBlocks.Add(buffer);
        }
        else if (buffer.Length != _blockSize)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Hands the buffered block to staging, first waiting for a slot when <c>MaximumConcurrency</c> blocks are in flight.</summary>
    private async Task StageBufferedBlockAsync(CancellationToken cancellationToken)
    {
        if (_blockIds.Count == MaxBlockCount)
        {
            throw new StorageUnavailableException(
                $"'{_key}' is larger than {MaxBlockCount} blocks of {_blockSize} bytes; raise {AzureBlobStorageOptions.SectionName}:BlockSize.");
        }

        while (_staging.Count >= _concurrency)
        {
            await _staging.Peek().WaitAsync(cancellationToken);
            _ = _staging.Dequeue();
        }

        var blockId = BlockId(_uploadId, _blockIds.Count);
        _blockIds.Add(blockId);
        _staging.Enqueue(StageAsync(blockId, _buffer ?? [], _count, _abandon.Token));
        _buffer = null;
        _count = 0;
    }

    private async Task StageAsync(string blockId, byte[] block, int count, CancellationToken cancellationToken)
    {
        try
        {
            using var content = new MemoryStream(block, 0, count, writable: false);
            await _blob.StageBlockAsync(blockId, content, new BlockBlobStageBlockOptions(), cancellationToken);
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            throw AzureBlobErrors.Unavailable("put block", _key, e);
        }
        finally
        {
            if (block.Length > 0)
            {
                Release(block);
            }
        }
    }

    internal static BlobRequestConditions? Conditions(WriteCondition condition) => condition.Kind switch
    {
        WriteConditionKind.IfNotExists => new() { IfNoneMatch = ETag.All },
        WriteConditionKind.IfMatch => new() { IfMatch = new ETag(condition.ETag ?? throw new ArgumentException("An IfMatch write condition needs an ETag.", nameof(condition))) },
        _ => null,
    };

    internal static string BlockId(string uploadId, int index) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{uploadId}{index:D6}")));

    private void ThrowIfClosed()
    {
        if (_closed)
        {
            throw new InvalidOperationException("The upload was already committed or abandoned.");
        }
    }
}
