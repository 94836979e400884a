using Microsoft.Extensions.Options;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;

namespace OrleansCrates.Toolchains.Tests;

/// <summary>
/// This node's memory of stored records and manifest listings: a record is read once per stored version and served from
/// that one buffer; the memory stays within <c>Toolchains:MemoryCacheBytes</c>; an archive is found through the
/// manifests under its date, which the policy is applied to.
/// </summary>
public sealed class ToolchainRecordsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("oc-tc-records-").FullName;

    [Fact]
    public async Task A_record_is_read_once_per_stored_version_and_memory_stays_within_the_budget()
    {
        var ct = CancellationToken.None;
        var store = new FileSystemObjectStore(_root);
        using var records = new ToolchainRecords(store, Options.Create(new ToolchainOptions { MemoryCacheBytes = 40_000 }));
        var keys = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var key = $"toolchains/docs/dist/channel-rust-1.{i}.toml";
            await store.PutAsync(key, Record(new string('x', 15_000)).Serialize(), WriteCondition.IfNotExists, ct);
            keys.Add(key);
        }

        foreach (var key in keys)
        {
            Assert.NotNull(await records.ReadOrNullAsync(key, ct));
        }

        Assert.InRange(records.CachedBytes, 1, 40_000); // 90 KB of records read, at most the budget held

        // The same version: the same buffer, not read again. A new version: read once more.
        using var roomy = new ToolchainRecords(store, Options.Create(new ToolchainOptions()));
        var first = await roomy.ReadOrNullAsync(keys[^1], ct);
        Assert.Same(first, await roomy.ReadOrNullAsync(keys[^1], ct));
        await store.PutAsync(keys[^1], Record("changed").Serialize(), WriteCondition.IfMatch(first!.ETag), ct);
        var changed = await roomy.ReadOrNullAsync(keys[^1], ct);
        Assert.NotSame(first, changed);
        Assert.Equal("changed"u8.ToArray(), changed!.Document.Body.ToArray());
    }

    [Fact]
    public async Task An_archive_is_found_through_the_manifests_under_its_date_and_the_policy_applies_to_them()
    {
        var ct = CancellationToken.None;
        var store = new FileSystemObjectStore(_root);
        var release = FakeToolchain.Create();
        var manifest = release.Files["dist/channel-rust-stable.toml"];
        var kept = new ToolchainDocument(DateTimeOffset.UnixEpoch, "up", manifest, release.Files["dist/channel-rust-stable.toml.sha256"], null)
        {
            Date = release.Date,
            KeptFrom = "dist/channel-rust-stable.toml",
        };
        await store.PutAsync(ToolchainPath.DatedManifestKey("stable", release.Date), kept.Serialize(), WriteCondition.IfNotExists, ct);
        var archive = release.Archives[1];

        using var open = new ToolchainRecords(store, Options.Create(new ToolchainOptions()));
        Assert.Equal(new ArchiveListing(FakeToolchain.Hex(release.Files[archive]), true), await open.FindArchiveAsync(archive, release.Date, ct));
        Assert.Equal(ArchiveListing.NotListed, await open.FindArchiveAsync($"dist/{release.Date}/not-listed.tar.xz", release.Date, ct));

        // "stable" allows the mirror's own dated copy of the stable it served; "nightly-*" does not.
        using var stable = new ToolchainRecords(store, Options.Create(new ToolchainOptions { AllowedChannels = ["stable"] }));
        Assert.True((await stable.FindArchiveAsync(archive, release.Date, ct)).Allowed);
        using var nightly = new ToolchainRecords(store, Options.Create(new ToolchainOptions { AllowedChannels = ["nightly-*"] }));
        Assert.Equal(new ArchiveListing(FakeToolchain.Hex(release.Files[archive]), false), await nightly.FindArchiveAsync(archive, release.Date, ct));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static ToolchainDocument Record(string body) =>
        new(DateTimeOffset.UnixEpoch, "up", System.Text.Encoding.ASCII.GetBytes(body), FakeToolchain.Sha256File(System.Text.Encoding.ASCII.GetBytes(body), "x.toml"), null);
}
