using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Registry.Tests;

/// <summary>
/// What the registry needs from storage, checked on the real filesystem store: "exactly one owner of a new name" and
/// "no published version is lost" rest on create-only writes having exactly one winner.
/// </summary>
public sealed class StoragePreconditionTests
{
    [Fact]
    public async Task Filesystem_create_only_writes_racing_on_one_key_have_exactly_one_winner()
    {
        using var h = new RegistryHarness();
        var rounds = new List<int>();
        for (var round = 0; round < 200; round++)
        {
            var key = $"private/precondition/k{round}";
            var results = await Races.AllAtOnceAsync(4, i =>
                new LatencyStore(new FileSystemObjectStore(h.Root), new StoreStats()).PutAsync(key, new[] { (byte)i }, WriteCondition.IfNotExists, CancellationToken.None));
            if (results.Count(r => r.Status == PutStatus.Written) != 1)
            {
                rounds.Add(round);
            }
        }

        Assert.True(
            rounds.Count == 0,
            $"Expected exactly one of 4 racing IfNotExists writes per key to be Written, but {rounds.Count} of 200 keys had several. " +
            "FileSystemObjectStore commits create-only writes with File.Move(temp, path, overwrite: false), which .NET on Linux " +
            "performs as lstat(path) then rename(temp, path): not atomic. Fix: commit create-only writes under the key's FileLock " +
            "(as replaces already are) and check File.Exists inside it, or link(2) the temp file to the key directly.");
    }
}
