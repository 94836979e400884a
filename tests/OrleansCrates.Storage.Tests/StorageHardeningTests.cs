using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;

namespace OrleansCrates.Storage.Tests;

/// <summary>Lock files that outlive their use, and a disk that fills up for real (a tmpfs).</summary>
public sealed class StorageHardeningTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "oc-fs-" + Guid.NewGuid().ToString("N"));
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private string LockFolder => Path.Combine(_root, ".locks");

    [Fact]
    public async Task Key_locks_leave_no_lock_file_behind()
    {
        var store = new FileSystemObjectStore(_root);
        for (var i = 0; i < 200; i++)
        {
            await using var probe = FileLock.TryAcquire(store.LockPathFor($"index/pr/ob/probe-{i}"));
            Assert.NotNull(probe);
        }

        await store.PutAsync("doc", "v1"u8.ToArray(), WriteCondition.None, _ct); // a replace takes the key's lock
        Assert.Equal(DeleteResult.Deleted, await store.DeleteAsync("doc", null, _ct));

        Assert.Empty(Directory.EnumerateFiles(LockFolder));
    }

    [Fact]
    public async Task Racing_holders_of_one_lock_never_overlap_while_its_file_comes_and_goes()
    {
        var path = Path.Combine(LockFolder, "contended.lock");
        var inside = 0;
        var overlaps = 0;
        var entered = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 200; i++)
            {
                await using var held = await FileLock.AcquireAsync(path, _ct);
                if (Interlocked.Increment(ref inside) != 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                Interlocked.Increment(ref entered);
                await Task.Yield();
                Interlocked.Decrement(ref inside);
            }
        })));

        Assert.Equal(0, overlaps);
        Assert.Equal(1600, entered);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void The_janitor_removes_abandoned_lock_files_but_not_held_ones()
    {
        var store = new FileSystemObjectStore(_root);
        File.WriteAllBytes(Path.Combine(LockFolder, "lease!abandoned.lock"), []); // what kill -9 leaves
        using var held = FileLock.TryAcquire(Path.Combine(LockFolder, "lease!held.lock"));
        Assert.NotNull(held);

        Assert.Equal(1, store.DeleteAbandonedLockFiles());

        Assert.Equal(["lease!held.lock"], Directory.EnumerateFiles(LockFolder).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_full_disk_fails_writes_leaves_no_temp_file_keeps_reads_and_recovers_when_space_returns()
    {
        await using var disk = await TmpfsMount.MountAsync(1024 * 1024, _ct);
        var store = new FileSystemObjectStore(Path.Combine(disk.Path, "store"));
        await store.PutAsync("held", "kept"u8.ToArray(), WriteCondition.IfNotExists, _ct);
        await disk.FillAsync(_ct);

        var write = await Assert.ThrowsAnyAsync<IOException>(() => store.PutAsync("new", new byte[256 * 1024], WriteCondition.IfNotExists, _ct));
        Assert.Equal(28, write.HResult); // ENOSPC
        Assert.Equal("no space left on the storage device", StorageWriteHealth.ShortCause(write));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(disk.Path, "store", ".tmp")));
        Assert.Null(await store.GetPropertiesOrNullAsync("new", _ct));

        var full = await store.CheckHealthAsync(_ct);
        Assert.True(full.Healthy); // it can still be read: serving what it holds goes on
        Assert.False(full.Writable);
        Assert.Equal("kept", System.Text.Encoding.UTF8.GetString((await store.ReadSmallOrNullAsync("held", _ct))!.Value.Content));

        disk.Free();

        Assert.True((await store.CheckHealthAsync(_ct)).Writable);
        Assert.Equal(PutStatus.Written, (await store.PutAsync("new", new byte[256 * 1024], WriteCondition.IfNotExists, _ct)).Status);
    }
}
