using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Testing;

namespace OrleansCrates.Registry.Tests;

/// <summary>A publish claims a new name only together with its first version; spool files never outlive their process.</summary>
public sealed class AllOrNothingTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task A_first_publish_that_fails_after_claiming_the_name_releases_it()
    {
        using var h = new RegistryHarness();
        var node = h.NewNode(store: new FailingIndexStore(h.Store));
        var crate = CrateGraph.BuildCrate("claimed", "1.0.0");

        await Assert.ThrowsAsync<StorageUnavailableException>(() =>
            node.PublishAsync("alice", PublishBody.Stream(PublishBody.NewCrateJson(crate), crate.CrateBytes), Ct));

        Assert.False(await node.IsPrivateCrateAsync("claimed", Ct));
        Assert.False(await h.NewNode().IsPrivateCrateAsync("claimed", Ct));
        Assert.Null(await h.Store.GetPropertiesOrNullAsync(RegistryKeys.Meta(CrateName.Parse("claimed")), Ct));
        Assert.Empty(await ToListAsync(PrivateRegistry.FindUnpublishedClaimsAsync(h.Store, Ct)));

        // Someone else may now take the name, which the failed publish would otherwise have blocked.
        await h.PublishAsync("bob", "claimed", "1.0.0");
    }

    [Fact]
    public async Task A_failed_publish_of_an_existing_crate_leaves_its_claim_and_versions_alone()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "kept", "1.0.0");
        var crate = CrateGraph.BuildCrate("kept", "1.1.0");

        await Assert.ThrowsAsync<StorageUnavailableException>(() =>
            h.NewNode(store: new FailingIndexStore(h.Store)).PublishAsync("alice", PublishBody.Stream(PublishBody.NewCrateJson(crate), crate.CrateBytes), Ct));

        Assert.True(await h.NewNode().IsPrivateCrateAsync("kept", Ct));
        Assert.Contains("\"vers\":\"1.0.0\"", await h.IndexTextAsync("kept"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_claim_without_versions_left_by_a_dead_process_is_found()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "landed", "1.0.0");
        var meta = """{"name":"Orphan","owners":["alice"],"created":"2026-01-01T00:00:00+00:00","updated":"2026-01-01T00:00:00+00:00"}"""u8.ToArray();
        await h.Store.PutAsync(RegistryKeys.Meta(CrateName.Parse("Orphan")), meta, WriteCondition.IfNotExists, Ct);

        var found = Assert.Single(await ToListAsync(PrivateRegistry.FindUnpublishedClaimsAsync(h.Store, Ct)));
        Assert.Equal("Orphan", found.Name);
        Assert.Contains("no version", found.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Spool_files_live_in_a_folder_of_this_process_and_go_when_the_upload_ends()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "spooled", "1.0.0");

        var folder = Assert.Single(Directory.GetDirectories(h.SpoolRoot));
        Assert.StartsWith(Environment.ProcessId + "-", Path.GetFileName(folder), StringComparison.Ordinal);
        Assert.Equal([PublishSpool.LockFileName], Directory.GetFiles(folder).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Clean_up_beside_spools_being_opened_never_removes_a_live_one()
    {
        // Each spool that opens runs the clean-up too; here a second thread runs it without pause as well. A live
        // folder's lock file must never be seen unlocked (on Unix a FileStream takes its lock just after creating the
        // file: that gap once let a starting node remove another's live spool, and its publish failed).
        var root = Directory.CreateTempSubdirectory("orleanscrates-spool-").FullName;
        using var stop = new CancellationTokenSource();
        var cleaner = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                PublishSpool.RemoveAbandoned(root, NullLogger.Instance);
            }
        });
        try
        {
            // Four nodes opening spools at once, as a cluster's nodes start beside each other.
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                for (var i = 0; i < 150; i++)
                {
                    using var spool = new PublishSpool(Microsoft.Extensions.Options.Options.Create(new PrivateRegistryOptions { SpoolPath = root }), NullLogger<PublishSpool>.Instance);
                    await using var file = spool.CreateFile(); // throws if the live folder was removed under it
                    await file.WriteAsync("x"u8.ToArray(), Ct);
                }
            })));
        }
        finally
        {
            await stop.CancelAsync();
            await cleaner;
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task What_a_dead_process_spooled_is_removed_at_start_up_and_a_live_process_folder_is_kept()
    {
        var root = Directory.CreateTempSubdirectory("orleanscrates-spool-").FullName;
        try
        {
            var dead = MakeFolder(root, "111-dead");
            var live = MakeFolder(root, "222-live");

            // A real other process holds the lock of the live folder, as a running server does (flock(1) takes the same
            // exclusive lock .NET takes for FileShare.None); the dead folder's lock is free, as after kill -9.
            using var holder = Process.Start(new ProcessStartInfo("flock", ["--exclusive", "--no-fork", Path.Combine(live, PublishSpool.LockFileName), "cat"])
            {
                RedirectStandardInput = true,
            })!;
            try
            {
                await WaitUntilLockedAsync(Path.Combine(live, PublishSpool.LockFileName));

                using var spool = new PublishSpool(Microsoft.Extensions.Options.Options.Create(new PrivateRegistryOptions { SpoolPath = root }), NullLogger<PublishSpool>.Instance);
                var own = spool.Folder;

                Assert.False(Directory.Exists(dead));
                Assert.True(File.Exists(Path.Combine(live, "upload.crate")));
                Assert.True(Directory.Exists(own));
            }
            finally
            {
                holder.Kill();
                await holder.WaitForExitAsync();
            }

            // Its process gone, the folder goes at the next start.
            Assert.Equal(1, PublishSpool.RemoveAbandoned(root, NullLogger.Instance));
            Assert.False(Directory.Exists(live));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static string MakeFolder(string root, string name)
    {
        var folder = Directory.CreateDirectory(Path.Combine(root, name)).FullName;
        File.WriteAllText(Path.Combine(folder, PublishSpool.LockFileName), "");
        File.WriteAllBytes(Path.Combine(folder, "upload.crate"), new byte[1000]);
        return folder;
    }

    /// <summary>Waits (by trying to take the lock, not by sleeping a guess) until another process holds it.</summary>
    private static async Task WaitUntilLockedAsync(string path)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                await using var probe = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "flock never took the lock");
            await Task.Yield();
        }
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }

    /// <summary>Storage that fails every write of an index file, as a full disk or an outage right after the claim would.</summary>
    private sealed class FailingIndexStore(IObjectStore inner) : IObjectStore
    {
        public Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken) => inner.OpenReadOrNullAsync(key, cancellationToken);

        public Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken) => inner.GetPropertiesOrNullAsync(key, cancellationToken);

        public Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken) =>
            key.StartsWith(RegistryKeys.IndexPrefix, StringComparison.Ordinal)
                ? throw new StorageUnavailableException("index writes fail in this test")
                : inner.BeginUploadAsync(key, condition, cancellationToken);

        public Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken) => inner.DeleteAsync(key, ifMatch, cancellationToken);

        public IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

        public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);
    }
}
