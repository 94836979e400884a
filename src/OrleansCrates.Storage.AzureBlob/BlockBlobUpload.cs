using System.Buffers;
using System.Globalization;
using System.Text;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>
/// A write in progress. Content is buffered up to one block; each full block is staged with Put Block as soon as more
/// content arrives, and the commit either sends everything as one Put Blob (content of at most one block) or stages
/// the last block and commits the list with Put Block List. Both carry the write condition, so the blob appears (or
/// not) atomically. Staged blocks of an abandoned upload are never visible and expire on their own.
/// </summary>
internal sealed class BlockBlobUpload : IObjectUpload
{
    private readonly BlockUploadStream _stream;
    private readonly WriteCondition _condition;
    private bool _finished;

    public BlockBlobUpload(BlobRestClient client, string blobName, WriteCondition condition, int blockSize)
    {
        _stream = new BlockUploadStream(client, blobName, blockSize);
        _condition = condition;
    }

    public Stream Content => _stream;

    public async Task<PutResult> CommitAsync(CancellationToken cancellationToken)
    {
        if (_finished)
        {
            throw new InvalidOperationException("The upload was already committed or abandoned.");
        }

        _finished = true;
        return await _stream.CommitAsync(_condition, cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        _finished = true;
        _stream.Release();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// The write side of a <see cref="BlockBlobUpload"/>. Not thread-safe, like any stream. Disposing it does not abandon
/// the upload; disposing the upload does.
/// </summary>
internal sealed class BlockUploadStream(BlobRestClient client, string blobName, int blockSize) : Stream
{
    private const int InitialBufferSize = 64 * 1024;

    // Every block id of one upload has the same length and a prefix unique to the upload, so two uploads racing to
    // the same blob never commit each other's blocks. 32 hex digits + 6 digits = 38 bytes, base64 = 52 characters.
    private readonly string _uploadId = Guid.NewGuid().ToString("N");
    private readonly List<string> _blockIds = [];
    private byte[]? _buffer;
    private int _count;
    private long _length;
    private bool _closed;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => !_closed;

    public override long Length => _length;

    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException();
    }

    internal IReadOnlyList<string> StagedBlockIds => _blockIds;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        while (!buffer.IsEmpty)
        {
            if (_count == blockSize)
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
            if (_count == blockSize)
            {
                // Synchronous writers block on the upload of a full block; asynchronous ones should be preferred.
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

    internal async Task<PutResult> CommitAsync(WriteCondition condition, CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        _closed = true;
        try
        {
            if (_blockIds.Count == 0)
            {
                var put = await client.PutBlobAsync(blobName, _buffer.AsMemory(0, _count), condition, metadata: null, cancellationToken);
                if (put.Status != PutStatus.AlreadyExists || await client.GetPropertiesAsync(blobName, cancellationToken) is not null)
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

            return await client.PutBlockListAsync(blobName, _blockIds, condition, cancellationToken)
                ?? await ResolveMissingBlocksAsync(condition, cancellationToken);
        }
        finally
        {
            Release();
        }
    }

    /// <summary>Returns the buffer; further writes fail. Staged blocks are left to expire.</summary>
    internal void Release()
    {
        _closed = true;
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private int Append(ReadOnlySpan<byte> source)
    {
        var taken = Math.Min(source.Length, blockSize - _count);
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

        // Grow geometrically up to one block, so small objects never hold a whole block's worth of memory.
        var size = Math.Min(blockSize, Math.Max(needed, Math.Max(InitialBufferSize, (_buffer?.Length ?? 0) * 2)));
        var grown = ArrayPool<byte>.Shared.Rent(size);
        if (_buffer is { } old)
        {
            old.AsSpan(0, _count).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(old);
        }

        _buffer = grown;
    }

    private async Task StageBufferedBlockAsync(CancellationToken cancellationToken)
    {
        if (_blockIds.Count == BlobRestClient.MaxBlockCount)
        {
            throw new StorageUnavailableException(
                $"'{blobName}' is larger than {BlobRestClient.MaxBlockCount} blocks of {blockSize} bytes; raise {AzureBlobStorageOptions.SectionName}:BlockSize.");
        }

        var blockId = BlockId(_uploadId, _blockIds.Count);
        await client.PutBlockAsync(blobName, blockId, _buffer.AsMemory(0, _count), cancellationToken);
        _blockIds.Add(blockId);
        _count = 0;
    }

    /// <summary>
    /// Put Block List found blocks missing: another upload's commit to this blob discarded them. Answer as the
    /// condition would have if it was checked first; a plain overwrite cannot be answered and must be retried.
    /// </summary>
    private async Task<PutResult> ResolveMissingBlocksAsync(WriteCondition condition, CancellationToken cancellationToken)
    {
        var current = await client.GetPropertiesAsync(blobName, cancellationToken);
        return condition.Kind switch
        {
            WriteConditionKind.IfNotExists when current is not null => new PutResult(PutStatus.AlreadyExists, null),
            WriteConditionKind.IfMatch when current is null || current.ETag != condition.ETag => new PutResult(PutStatus.PreconditionFailed, null),
            _ => throw new StorageUnavailableException(
                $"Put Block List for '{blobName}' found its staged blocks gone: a concurrent write to the same key committed first and discarded them. Retry the write."),
        };
    }

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
