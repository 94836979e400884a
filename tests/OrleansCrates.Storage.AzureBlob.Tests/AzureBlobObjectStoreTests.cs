using System.Text;

namespace OrleansCrates.Storage.AzureBlob.Tests;

/// <summary>The <see cref="IObjectStore"/> contract, as the filesystem provider defines it, on Azurite.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzureBlobObjectStoreTests(AzuriteFixture azurite)
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    [Fact]
    public async Task Round_trips_content_with_length_and_etag()
    {
        var store = await azurite.CreateStoreAsync();
        var put = await store.PutAsync("crates/a/a-1.0.0+b.1.crate", "hello"u8.ToArray(), WriteCondition.IfNotExists, _ct);
        Assert.Equal(PutStatus.Written, put.Status);

        await using var read = await store.OpenReadOrNullAsync("crates/a/a-1.0.0+b.1.crate", _ct);
        Assert.NotNull(read);
        Assert.Equal(5, read.Length);
        Assert.Equal(put.ETag, read.ETag);
        Assert.Equal("hello", await new StreamReader(read.Content).ReadToEndAsync(_ct));

        var properties = await store.GetPropertiesOrNullAsync("crates/a/a-1.0.0+b.1.crate", _ct);
        Assert.Equal(new ObjectProperties("crates/a/a-1.0.0+b.1.crate", 5, put.ETag!, read.LastModified), properties);
    }

    [Fact]
    public async Task Empty_objects_round_trip()
    {
        var store = await azurite.CreateStoreAsync();
        Assert.Equal(PutStatus.Written, (await store.PutAsync("empty", ReadOnlyMemory<byte>.Empty, WriteCondition.IfNotExists, _ct)).Status);
        await using var read = await store.OpenReadOrNullAsync("empty", _ct);
        Assert.Equal(0, read!.Length);
        Assert.Equal(-1, read.Content.ReadByte());
    }

    [Fact]
    public async Task Missing_objects_are_null()
    {
        var store = await azurite.CreateStoreAsync();
        Assert.Null(await store.OpenReadOrNullAsync("nope/x", _ct));
        Assert.Null(await store.GetPropertiesOrNullAsync("nope/x", _ct));
    }

    [Fact]
    public async Task Invalid_keys_are_refused_before_any_request()
    {
        var store = await azurite.CreateStoreAsync();
        await Assert.ThrowsAsync<ArgumentException>(() => store.OpenReadOrNullAsync("../escape", _ct));
        await Assert.ThrowsAsync<ArgumentException>(() => store.BeginUploadAsync("a//b", WriteCondition.None, _ct));
        await Assert.ThrowsAsync<ArgumentException>(() => store.DeleteAsync("a b", null, _ct));
    }

    [Fact]
    public async Task Create_only_never_overwrites()
    {
        var store = await azurite.CreateStoreAsync();
        var first = await store.PutAsync("k/v", "first"u8.ToArray(), WriteCondition.IfNotExists, _ct);
        Assert.Equal(PutStatus.Written, first.Status);
        var second = await store.PutAsync("k/v", "second"u8.ToArray(), WriteCondition.IfNotExists, _ct);
        Assert.Equal(new PutResult(PutStatus.AlreadyExists, null), second);
        Assert.Equal("first", await store.ReadStringOrNullAsync("k/v", _ct));
        Assert.Equal(first.ETag, (await store.GetPropertiesOrNullAsync("k/v", _ct))!.ETag);
    }

    [Fact]
    public async Task Create_only_multi_block_upload_never_overwrites()
    {
        var store = await azurite.CreateStoreAsync(blockSize: 1024);
        Assert.Equal(PutStatus.Written, (await store.PutAsync("big", new byte[5000], WriteCondition.IfNotExists, _ct)).Status);
        var again = await store.PutAsync("big", Enumerable.Repeat((byte)1, 5000).ToArray(), WriteCondition.IfNotExists, _ct);
        Assert.Equal(PutStatus.AlreadyExists, again.Status);
        var read = await store.ReadSmallOrNullAsync("big", _ct);
        Assert.All(read!.Value.Content, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task If_match_replaces_only_the_version_it_names()
    {
        var store = await azurite.CreateStoreAsync();
        var first = await store.PutAsync("doc", "v1"u8.ToArray(), WriteCondition.None, _ct);
        var second = await store.PutAsync("doc", "v2"u8.ToArray(), WriteCondition.IfMatch(first.ETag!), _ct);
        Assert.Equal(PutStatus.Written, second.Status);
        Assert.NotEqual(first.ETag, second.ETag);

        var stale = await store.PutAsync("doc", "v3"u8.ToArray(), WriteCondition.IfMatch(first.ETag!), _ct);
        Assert.Equal(new PutResult(PutStatus.PreconditionFailed, null), stale);
        Assert.Equal("v2", await store.ReadStringOrNullAsync("doc", _ct));

        var missing = await store.PutAsync("other", "x"u8.ToArray(), WriteCondition.IfMatch(first.ETag!), _ct);
        Assert.Equal(PutStatus.PreconditionFailed, missing.Status);
        Assert.Null(await store.GetPropertiesOrNullAsync("other", _ct));
    }

    [Fact]
    public async Task If_match_multi_block_upload_replaces_only_the_version_it_names()
    {
        var store = await azurite.CreateStoreAsync(blockSize: 1024);
        var first = await store.PutAsync("doc", new byte[3000], WriteCondition.None, _ct);
        var second = await store.PutAsync("doc", Enumerable.Repeat((byte)2, 3000).ToArray(), WriteCondition.IfMatch(first.ETag!), _ct);
        Assert.Equal(PutStatus.Written, second.Status);
        var stale = await store.PutAsync("doc", Enumerable.Repeat((byte)3, 3000).ToArray(), WriteCondition.IfMatch(first.ETag!), _ct);
        Assert.Equal(PutStatus.PreconditionFailed, stale.Status);
        Assert.All((await store.ReadSmallOrNullAsync("doc", _ct))!.Value.Content, b => Assert.Equal(2, b));
    }

    [Fact]
    public async Task Unconditional_writes_replace()
    {
        var store = await azurite.CreateStoreAsync(blockSize: 1024);
        await store.PutAsync("doc", "v1"u8.ToArray(), WriteCondition.None, _ct);
        Assert.Equal(PutStatus.Written, (await store.PutAsync("doc", Encoding.ASCII.GetBytes(new string('z', 2500)), WriteCondition.None, _ct)).Status);
        Assert.Equal(new string('z', 2500), await store.ReadStringOrNullAsync("doc", _ct));
    }

    [Fact]
    public async Task Concurrent_create_only_writes_have_exactly_one_winner()
    {
        var store = await azurite.CreateStoreAsync(blockSize: 1024);
        // Half single-shot, half multi-block: both paths race on the same key.
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            store.PutAsync("race/key", Encoding.UTF8.GetBytes($"writer {i} " + new string('x', i % 2 == 0 ? 10 : 3000)), WriteCondition.IfNotExists, _ct)));
        Assert.Equal(1, results.Count(r => r.Status == PutStatus.Written));
        Assert.Equal(7, results.Count(r => r.Status == PutStatus.AlreadyExists));
        Assert.StartsWith("writer ", await store.ReadStringOrNullAsync("race/key", _ct));
    }

    [Fact]
    public async Task Interleaved_multi_block_uploads_to_one_key_do_not_mix_blocks()
    {
        var store = await azurite.CreateStoreAsync(blockSize: 1024);
        await using var a = await store.BeginUploadAsync("same", WriteCondition.IfNotExists, _ct);
        await using var b = await store.BeginUploadAsync("same", WriteCondition.IfNotExists, _ct);
        for (var i = 0; i < 3; i++)
        {
            await a.Content.WriteAsync(Enumerable.Repeat((byte)'a', 1024).ToArray(), _ct);
            await b.Content.WriteAsync(Enumerable.Repeat((byte)'b', 1024).ToArray(), _ct);
        }

        Assert.Equal(PutStatus.Written, (await a.CommitAsync(_ct)).Status);
        Assert.Equal(PutStatus.AlreadyExists, (await b.CommitAsync(_ct)).Status);
        Assert.Equal(new string('a', 3072), await store.ReadStringOrNullAsync("same", _ct));
    }

    [Fact]
    public async Task Concurrent_compare_and_swap_loses_no_update()
    {
        var store = await azurite.CreateStoreAsync();
        await store.PutAsync("counter", "0"u8.ToArray(), WriteCondition.None, _ct);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            for (var done = 0; done < 5;)
            {
                var (content, etag) = (await store.ReadSmallOrNullAsync("counter", _ct))!.Value;
                var next = int.Parse(Encoding.ASCII.GetString(content), System.Globalization.CultureInfo.InvariantCulture) + 1;
                var put = await store.PutAsync("counter", Encoding.ASCII.GetBytes(next.ToString(System.Globalization.CultureInfo.InvariantCulture)), WriteCondition.IfMatch(etag), _ct);
                if (put.Succeeded)
                {
                    done++;
                }
            }
        })));
        Assert.Equal("20", await store.ReadStringOrNullAsync("counter", _ct));
    }

    [Fact]
    public async Task Multi_block_uploads_stage_full_blocks_as_they_fill()
    {
        var store = await azurite.CreateStoreAsync(blockSize: 1024);
        var content = Enumerable.Range(0, 5 * 1024 + 100).Select(i => (byte)(i * 7)).ToArray();
        await using var upload = await store.BeginUploadAsync("multi", WriteCondition.IfNotExists, _ct);
        var stream = (BlobUploadStream)upload.Content;

        // Odd-sized writes; a block is staged only once content beyond it arrives.
        for (var offset = 0; offset < content.Length; offset += 333)
        {
            await upload.Content.WriteAsync(content.AsMemory(offset, Math.Min(333, content.Length - offset)), _ct);
            Assert.Equal(Math.Max(0, (offset + Math.Min(333, content.Length - offset) - 1) / 1024), stream.StagedBlockIds.Count);
        }

        Assert.Null(await store.GetPropertiesOrNullAsync("multi", _ct)); // staged blocks are not visible
        var put = await upload.CommitAsync(_ct);
        Assert.Equal(PutStatus.Written, put.Status);
        Assert.Equal(6, stream.StagedBlockIds.Count);

        var read = await store.ReadSmallOrNullAsync("multi", _ct);
        Assert.Equal(content, read!.Value.Content);
        Assert.Equal(put.ETag, read.Value.ETag);
    }

    [Fact]
    public async Task Content_of_exactly_one_block_is_one_put_blob()
    {
        var store = await azurite.CreateStoreAsync(blockSize: 1024);
        await using var upload = await store.BeginUploadAsync("one", WriteCondition.IfNotExists, _ct);
        upload.Content.Write(new byte[1024]); // synchronous writes work too
        Assert.Equal(PutStatus.Written, (await upload.CommitAsync(_ct)).Status);
        Assert.Empty(((BlobUploadStream)upload.Content).StagedBlockIds);
        Assert.Equal(1024, (await store.GetPropertiesOrNullAsync("one", _ct))!.Length);
    }

    [Fact]
    public async Task An_upload_disposed_without_commit_leaves_nothing()
    {
        var store = await azurite.CreateStoreAsync(blockSize: 1024);
        await using (var upload = await store.BeginUploadAsync("abandoned", WriteCondition.IfNotExists, _ct))
        {
            await upload.Content.WriteAsync(new byte[4000], _ct); // three blocks staged
            Assert.Equal(3, ((BlobUploadStream)upload.Content).StagedBlockIds.Count);
        }

        await using (var small = await store.BeginUploadAsync("abandoned-small", WriteCondition.None, _ct))
        {
            await small.Content.WriteAsync("x"u8.ToArray(), _ct);
        }

        Assert.Null(await store.GetPropertiesOrNullAsync("abandoned", _ct));
        Assert.Null(await store.OpenReadOrNullAsync("abandoned", _ct));
        Assert.Null(await store.GetPropertiesOrNullAsync("abandoned-small", _ct));
        Assert.Empty(await ToListAsync(store.ListAsync("", _ct)));

        // The key stays free for a later writer.
        Assert.Equal(PutStatus.Written, (await store.PutAsync("abandoned", "later"u8.ToArray(), WriteCondition.IfNotExists, _ct)).Status);
    }

    [Fact]
    public async Task Commit_twice_and_writes_after_commit_are_refused()
    {
        var store = await azurite.CreateStoreAsync();
        await using var upload = await store.BeginUploadAsync("once", WriteCondition.None, _ct);
        await upload.Content.WriteAsync("x"u8.ToArray(), _ct);
        await upload.CommitAsync(_ct);
        await Assert.ThrowsAsync<InvalidOperationException>(() => upload.CommitAsync(_ct));
        await Assert.ThrowsAsync<InvalidOperationException>(() => upload.Content.WriteAsync("y"u8.ToArray(), _ct).AsTask());
    }

    [Fact]
    public async Task Deletes_with_and_without_if_match()
    {
        var store = await azurite.CreateStoreAsync();
        var put = await store.PutAsync("d/1", "x"u8.ToArray(), WriteCondition.None, _ct);
        await store.PutAsync("d/2", "x"u8.ToArray(), WriteCondition.None, _ct);

        Assert.Equal(DeleteResult.PreconditionFailed, await store.DeleteAsync("d/1", "\"0x8D0000000000000\"", _ct));
        Assert.NotNull(await store.GetPropertiesOrNullAsync("d/1", _ct));
        Assert.Equal(DeleteResult.Deleted, await store.DeleteAsync("d/1", put.ETag, _ct));
        Assert.Equal(DeleteResult.Deleted, await store.DeleteAsync("d/2", null, _ct));
        Assert.Equal(DeleteResult.NotFound, await store.DeleteAsync("d/2", null, _ct));
        Assert.Null(await store.GetPropertiesOrNullAsync("d/1", _ct));
    }

    [Fact]
    public async Task Lists_by_prefix_across_pages()
    {
        var store = await azurite.CreateStoreAsync(listPageSize: 2);
        var keys = new[] { "index/3/s/serde", "index/se/rd/serde_json", "index/se/rd/serde+x", "crates/serde/serde-1.0.0.crate", "indexes" };
        foreach (var key in keys)
        {
            await store.PutAsync(key, Encoding.UTF8.GetBytes(key), WriteCondition.None, _ct);
        }

        var listed = await ToListAsync(store.ListAsync("index/", _ct));
        Assert.Equal(["index/3/s/serde", "index/se/rd/serde+x", "index/se/rd/serde_json"], listed.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.All(listed, p => Assert.Equal(p.Key.Length, p.Length));

        var all = await ToListAsync(store.ListAsync("", _ct));
        Assert.Equal(keys.Length, all.Count);
        var serde = all.Single(p => p.Key == "index/3/s/serde");
        Assert.Equal(await store.GetPropertiesOrNullAsync("index/3/s/serde", _ct), serde);

        await Assert.ThrowsAsync<ArgumentException>(async () => await ToListAsync(store.ListAsync("../", _ct)));
    }

    [Fact]
    public async Task Reports_healthy_when_the_container_answers()
    {
        var store = await azurite.CreateStoreAsync();
        var health = await store.CheckHealthAsync(_ct);
        Assert.True(health.Healthy, health.Detail);
        Assert.Equal("AzureBlob", health.Provider);
    }

    [Fact]
    public async Task Reports_unhealthy_when_the_container_is_missing()
    {
        var store = new AzureBlobObjectStore(azurite.Options());
        var health = await store.CheckHealthAsync(_ct);
        Assert.False(health.Healthy);
        Assert.Contains("404", health.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reports_unhealthy_without_throwing_when_nothing_listens()
    {
        int closedPort;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            closedPort = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        var options = azurite.Options();
        options.ConnectionString = options.ConnectionString!.Replace($":{azurite.Port}/", $":{closedPort}/", StringComparison.Ordinal);
        var store = new AzureBlobObjectStore(options);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var health = await store.CheckHealthAsync(_ct);
        Assert.False(health.Healthy);
        Assert.Contains($"127.0.0.1:{closedPort}", health.Detail, StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"A health check against a closed port took {started.Elapsed}; it should not retry.");

        // Regular operations retry, then throw StorageUnavailableException.
        await Assert.ThrowsAsync<StorageUnavailableException>(() => store.GetPropertiesOrNullAsync("k", _ct));
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
}
