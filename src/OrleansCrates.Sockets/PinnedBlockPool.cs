using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace OrleansCrates.Sockets;

/// <summary>
/// The connections' pipe memory: 4 KiB blocks allocated pinned (the pinned object heap) and reused, so a send can hand
/// the kernel their addresses without pinning anything per call. What the pipes ask beyond a block comes from the
/// shared array pool, as with any pool.
/// </summary>
internal sealed class PinnedBlockPool : MemoryPool<byte>
{
    public const int BlockSize = 4096;

    private readonly ConcurrentQueue<Block> _free = new();

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        return _free.TryDequeue(out var block) ? block : new Block(this);
    }

    protected override void Dispose(bool disposing)
    {
        _free.Clear();
    }

    private sealed class Block(PinnedBlockPool pool) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory { get; } = MemoryMarshal.CreateFromPinnedArray(GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true), 0, BlockSize);

        public void Dispose() => pool._free.Enqueue(this);
    }
}
