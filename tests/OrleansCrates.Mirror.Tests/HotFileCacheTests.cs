using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Mirror;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Mirror.Tests;

/// <summary>The hot set's byte budget, its admission rules and the lookups behind the hit-ratio metric.</summary>
public sealed class HotFileCacheTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("oc-hotset-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void The_layer_never_holds_more_than_its_budget_however_many_files_are_offered()
    {
        const long budget = 10_000;
        using var cache = new HotFileCache(budget, maxFileBytes: 4_000);
        for (var i = 0; i < 50; i++)
        {
            cache.Add($"crates/f{i}", new byte[3_000], $"\"e{i}\"", DateTimeOffset.UnixEpoch);
            var statistics = cache.Statistics;
            Assert.True(statistics.Bytes <= budget, $"after {i + 1} files the layer holds {statistics.Bytes} bytes, over its budget of {budget}");
            Assert.Equal(budget, statistics.BudgetBytes);
        }

        // At most three 3,000-byte files (plus their overhead) fit into 10,000 bytes; the rest were turned away or evicted.
        var held = Enumerable.Range(0, 50).Count(i => cache.Contains($"crates/f{i}"));
        Assert.InRange(held, 0, 3);
    }

    [Fact]
    public async Task Files_over_the_size_limit_always_stream_from_storage()
    {
        var store = new FileSystemObjectStore(_root);
        await PutAsync(store, "crates/small", new byte[1_000]);
        await PutAsync(store, "crates/big", new byte[5_000]);
        using var cache = new HotFileCache(capacityBytes: 1_000_000, maxFileBytes: 4_096);

        await cache.WarmAsync("crates/small", store, CancellationToken.None);
        await cache.WarmAsync("crates/big", store, CancellationToken.None);

        Assert.True(cache.Contains("crates/small"));
        Assert.False(cache.Contains("crates/big"));
        Assert.Equal(1_000 + HotFileCache.EntryOverhead, cache.Statistics.Bytes);
    }

    [Fact]
    public async Task Lookups_are_counted_for_the_hit_ratio_and_a_hit_serves_the_stored_bytes_and_etag()
    {
        var store = new FileSystemObjectStore(_root);
        var content = Enumerable.Range(0, 2_000).Select(i => (byte)i).ToArray();
        var etag = await PutAsync(store, "crates/a", content);
        using var cache = new HotFileCache(capacityBytes: 100_000, maxFileBytes: 10_000);

        Assert.Null(cache.OpenOrNull("crates/a")); // a miss
        await cache.WarmAsync("crates/a", store, CancellationToken.None);
        for (var i = 0; i < 3; i++)
        {
            await using var hit = cache.OpenOrNull("crates/a");
            Assert.NotNull(hit);
            Assert.Equal(etag, hit.ETag);
            using var copy = new MemoryStream();
            await hit.Content.CopyToAsync(copy);
            Assert.Equal(content, copy.ToArray());
        }

        var statistics = cache.Statistics;
        Assert.Equal((3, 1), (statistics.Hits, statistics.Misses));
        Assert.Equal(0.75, statistics.HitRatio);
    }

    [Fact]
    public async Task Files_of_16_KiB_and_more_are_held_in_memory_files_the_kernel_can_send()
    {
        var big = Enumerable.Range(0, HotFileCache.MemoryFileMinimumBytes + 5).Select(i => (byte)(i * 7)).ToArray();
        var small = new byte[HotFileCache.MemoryFileMinimumBytes - 1];
        using var cache = new HotFileCache(capacityBytes: 1_000_000, maxFileBytes: 100_000);
        cache.Add("crates/big", big, "\"b\"", DateTimeOffset.UnixEpoch);
        cache.Add("crates/small", small, "\"s\"", DateTimeOffset.UnixEpoch);

        await using var first = cache.OpenOrNull("crates/big");
        await using var second = cache.OpenOrNull("crates/big");
        await using var other = cache.OpenOrNull("crates/small");

        Assert.True(OperatingSystem.IsLinux(), "memory files are Linux's");
        Assert.Equal((true, false), (first!.FileHandle is not null, other!.FileHandle is not null));
        var half = new byte[big.Length / 2];
        await first.Content.ReadExactlyAsync(half); // readers share the file, not a position
        Assert.Equal(big, await ReadAllAsync(second!.Content));
        Assert.Equal(big[(big.Length / 2)..], await ReadAllAsync(first.Content));
        Assert.Equal(big.Length + HotFileCache.EntryOverhead + small.Length + HotFileCache.EntryOverhead, cache.Statistics.Bytes);
    }

    [Fact]
    public async Task A_budget_of_zero_turns_the_layer_off()
    {
        var store = new FileSystemObjectStore(_root);
        await PutAsync(store, "crates/a", new byte[100]);
        using var cache = new HotFileCache(capacityBytes: 0, maxFileBytes: 10_000);

        await cache.WarmAsync("crates/a", store, CancellationToken.None);

        Assert.False(cache.Contains("crates/a"));
        Assert.Null(cache.OpenOrNull("crates/a"));
        Assert.Equal(new HotSetStatistics(0, 0, 0, 0), cache.Statistics);
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    private static async Task<string> PutAsync(IObjectStore store, string key, byte[] content)
    {
        await using var upload = await store.BeginUploadAsync(key, WriteCondition.None, CancellationToken.None);
        await upload.Content.WriteAsync(content);
        var put = await upload.CommitAsync(CancellationToken.None);
        Assert.True(put.Succeeded);
        return put.ETag!;
    }
}

/// <summary>The crate file key, built in one allocation on the warm path, is the documented layout for every name length.</summary>
public sealed class CrateFileKeyTests
{
    [Theory]
    [InlineData("a", "1.0.0", "crates/1/a/a-1.0.0.crate")]
    [InlineData("Ab", "0.1.0", "crates/2/ab/ab-0.1.0.crate")]
    [InlineData("abc", "1.1.0+build.5", "crates/3/a/abc/abc-1.1.0+build.5.crate")]
    [InlineData("Serde_Json", "1.0.0-rc.1", "crates/se/rd/serde_json/serde_json-1.0.0-rc.1.crate")]
    public void The_key_is_the_index_path_then_the_lower_case_file_name(string name, string version, string expected)
    {
        var crate = Protocol.CrateName.Parse(name);
        Assert.Equal(expected, MirrorKeys.CrateFile(crate, version));
        Assert.Equal($"crates/{crate.IndexPath}/{crate.Lower}-{version}.crate", MirrorKeys.CrateFile(crate, version));
    }
}
