using System.Text;
using Azure.Core.Pipeline;

namespace OrleansCrates.Storage.AzureBlob.Tests;

/// <summary>Every REST operation the provider uses, against a real Azurite, signed with Shared Key.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class BlobRestClientTests(AzuriteFixture azurite)
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    private async Task<BlobRestClient> NewContainerAsync()
    {
        var client = BlobRestClient.Create(azurite.Options());
        Assert.True(await client.CreateContainerIfMissingAsync(_ct));
        return client;
    }

    [Fact]
    public async Task Creates_a_container_once_and_probes_it()
    {
        var client = BlobRestClient.Create(azurite.Options());
        Assert.Equal(404, (await client.ProbeContainerAsync(_ct)).Status);
        Assert.True(await client.CreateContainerIfMissingAsync(_ct));
        Assert.False(await client.CreateContainerIfMissingAsync(_ct)); // 409 ContainerAlreadyExists is fine
        Assert.Equal((200, (string?)null), await client.ProbeContainerAsync(_ct));
    }

    [Fact]
    public async Task Signs_keys_with_plus_signs_and_metadata()
    {
        var client = await NewContainerAsync();
        const string key = "crates/a/a-1.0.0+build.7.crate";
        var metadata = new Dictionary<string, string> { ["sha256"] = "abc123", ["origin"] = "crates.io mirror" };
        var put = await client.PutBlobAsync(key, "crate bytes"u8.ToArray(), WriteCondition.IfNotExists, metadata, _ct);
        Assert.Equal(PutStatus.Written, put.Status);
        Assert.StartsWith("\"", put.ETag);

        var properties = await client.GetPropertiesAsync(key, _ct);
        Assert.NotNull(properties);
        Assert.Equal(11, properties.Length);
        Assert.Equal(put.ETag, properties.ETag);
        Assert.Equal("abc123", properties.Metadata["sha256"]);
        Assert.Equal("crates.io mirror", properties.Metadata["origin"]);
        Assert.Equal("available", properties.LeaseState);

        // The '+' is literal: listing with a prefix that contains it finds exactly this blob.
        var page = await client.ListBlobsAsync("crates/a/a-1.0.0+", null, null, _ct);
        Assert.Equal(key, Assert.Single(page.Items).Name);

        await using var read = await client.GetBlobAsync(key, _ct);
        Assert.NotNull(read);
        Assert.Equal("crate bytes", await new StreamReader(read.Content).ReadToEndAsync(_ct));
    }

    [Fact]
    public async Task Metadata_names_outside_lower_case_alphanumerics_are_refused_before_sending()
    {
        var client = BlobRestClient.Create(azurite.Options());
        await Assert.ThrowsAsync<ArgumentException>(() => client.PutBlobAsync(
            "k", "x"u8.ToArray(), WriteCondition.None, new Dictionary<string, string> { ["Upper_Case"] = "v" }, _ct));
    }

    [Fact]
    public async Task Put_blob_maps_conditions_to_outcomes()
    {
        var client = await NewContainerAsync();
        var first = await client.PutBlobAsync("k", "one"u8.ToArray(), WriteCondition.IfNotExists, null, _ct);
        Assert.Equal(PutStatus.Written, first.Status);

        // If-None-Match: * on an existing blob → 409 BlobAlreadyExists.
        Assert.Equal(PutStatus.AlreadyExists, (await client.PutBlobAsync("k", "two"u8.ToArray(), WriteCondition.IfNotExists, null, _ct)).Status);

        // If-Match with the current ETag replaces; with a stale one → 412 ConditionNotMet.
        var second = await client.PutBlobAsync("k", "two"u8.ToArray(), WriteCondition.IfMatch(first.ETag!), null, _ct);
        Assert.Equal(PutStatus.Written, second.Status);
        Assert.NotEqual(first.ETag, second.ETag);
        Assert.Equal(PutStatus.PreconditionFailed, (await client.PutBlobAsync("k", "three"u8.ToArray(), WriteCondition.IfMatch(first.ETag!), null, _ct)).Status);

        // If-Match on a blob that does not exist.
        Assert.Equal(PutStatus.PreconditionFailed, (await client.PutBlobAsync("missing", "x"u8.ToArray(), WriteCondition.IfMatch(first.ETag!), null, _ct)).Status);

        await using var read = await client.GetBlobAsync("k", _ct);
        Assert.Equal("two", await new StreamReader(read!.Content).ReadToEndAsync(_ct));
        Assert.Equal(second.ETag, read.ETag);
    }

    [Fact]
    public async Task Staged_blocks_are_invisible_until_the_block_list_commits_them()
    {
        var client = await NewContainerAsync();
        var ids = Enumerable.Range(0, 3).Select(i => BlockUploadStream.BlockId(Guid.NewGuid().ToString("N"), i)).ToList();
        Assert.All(ids, id => Assert.Equal(ids[0].Length, id.Length));
        for (var i = 0; i < ids.Count; i++)
        {
            await client.PutBlockAsync("blocks", ids[i], Encoding.ASCII.GetBytes($"part{i};"), _ct);
        }

        Assert.Null(await client.GetPropertiesAsync("blocks", _ct));
        Assert.Empty((await client.ListBlobsAsync("", null, null, _ct)).Items);

        var commit = await client.PutBlockListAsync("blocks", ids, WriteCondition.IfNotExists, _ct);
        Assert.Equal(PutStatus.Written, commit?.Status);
        await using var read = await client.GetBlobAsync("blocks", _ct);
        Assert.Equal("part0;part1;part2;", await new StreamReader(read!.Content).ReadToEndAsync(_ct));

        // Put Block List honours conditions too.
        var again = BlockUploadStream.BlockId(Guid.NewGuid().ToString("N"), 0);
        await client.PutBlockAsync("blocks", again, "other"u8.ToArray(), _ct);
        Assert.Equal(PutStatus.AlreadyExists, (await client.PutBlockListAsync("blocks", [again], WriteCondition.IfNotExists, _ct))?.Status);
        Assert.Equal(PutStatus.PreconditionFailed, (await client.PutBlockListAsync("blocks", [again], WriteCondition.IfMatch("\"0x0\""), _ct))?.Status);

        // A block list naming a block the service does not have → null (the caller resolves it).
        Assert.Null(await client.PutBlockListAsync("blocks", [BlockUploadStream.BlockId(Guid.NewGuid().ToString("N"), 0)], WriteCondition.None, _ct));
    }

    [Fact]
    public async Task Deletes_with_and_without_if_match()
    {
        var client = await NewContainerAsync();
        var put = await client.PutBlobAsync("d", "x"u8.ToArray(), WriteCondition.None, null, _ct);
        Assert.Equal(DeleteResult.PreconditionFailed, await client.DeleteBlobAsync("d", "\"0x8D000000000000\"", _ct));
        Assert.Equal(DeleteResult.Deleted, await client.DeleteBlobAsync("d", put.ETag, _ct));
        Assert.Equal(DeleteResult.NotFound, await client.DeleteBlobAsync("d", null, _ct));
        Assert.Equal(DeleteResult.NotFound, await client.DeleteBlobAsync("d", put.ETag, _ct));
        Assert.Null(await client.GetBlobAsync("d", _ct));
    }

    [Fact]
    public async Task Lists_page_by_page_with_next_marker()
    {
        var client = await NewContainerAsync();
        var keys = Enumerable.Range(0, 7).Select(i => $"index/ab/c{i}+x").Append("other/one").ToList();
        foreach (var key in keys)
        {
            await client.PutBlobAsync(key, Encoding.UTF8.GetBytes(key), WriteCondition.None, null, _ct);
        }

        var seen = new List<BlobItem>();
        var pages = 0;
        string? marker = null;
        do
        {
            var page = await client.ListBlobsAsync("index/", marker, 3, _ct);
            Assert.True(page.Items.Count <= 3);
            seen.AddRange(page.Items);
            marker = page.NextMarker;
            pages++;
        }
        while (marker is not null);

        Assert.Equal(3, pages);
        Assert.Equal(keys.Where(k => k.StartsWith("index/", StringComparison.Ordinal)).Order(StringComparer.Ordinal), seen.Select(i => i.Name).Order(StringComparer.Ordinal));
        var first = seen.Single(i => i.Name == "index/ab/c0+x");
        Assert.Equal("index/ab/c0+x".Length, first.Length);
        Assert.Equal((await client.GetPropertiesAsync(first.Name, _ct))!.ETag, first.ETag); // list ETags quoted like header ETags
        Assert.True(first.LastModified > DateTimeOffset.UtcNow.AddMinutes(-5));
    }

    [Fact]
    public async Task Retries_a_503_with_a_fresh_signature()
    {
        var options = azurite.Options();
        var handler = new FaultInjectingHandler(r => r.Method == HttpMethod.Put && r.RequestUri!.Query.Length == 0, failFirst: 2);
        var client = BlobRestClient.Create(options, transport: new HttpClientTransport(handler), timeProvider: new SteppingTimeProvider(TimeSpan.FromSeconds(1)));
        Assert.True(await client.CreateContainerIfMissingAsync(_ct));

        var put = await client.PutBlobAsync("retried", "x"u8.ToArray(), WriteCondition.IfNotExists, null, _ct);

        Assert.Equal(PutStatus.Written, put.Status);
        var attempts = handler.Attempts.Where(a => a.PathAndQuery.EndsWith("/retried", StringComparison.Ordinal)).ToList();
        Assert.Equal([503, 503, 201], attempts.Select(a => a.Status));
        Assert.Equal(3, attempts.Select(a => a.Date).Distinct().Count());
        Assert.Equal(3, attempts.Select(a => a.Authorization).Distinct().Count());
    }

    [Fact]
    public async Task Does_not_retry_409_or_412()
    {
        var handler = new FaultInjectingHandler(_ => false, failFirst: 0);
        var client = BlobRestClient.Create(azurite.Options(), transport: new HttpClientTransport(handler));
        Assert.True(await client.CreateContainerIfMissingAsync(_ct));
        var put = await client.PutBlobAsync("k", "x"u8.ToArray(), WriteCondition.None, null, _ct);
        handler.Attempts.Clear();

        Assert.Equal(PutStatus.AlreadyExists, (await client.PutBlobAsync("k", "y"u8.ToArray(), WriteCondition.IfNotExists, null, _ct)).Status);
        Assert.Equal(PutStatus.PreconditionFailed, (await client.PutBlobAsync("k", "y"u8.ToArray(), WriteCondition.IfMatch("\"0x1\""), null, _ct)).Status);

        Assert.Equal([409, 412], handler.Attempts.Select(a => a.Status));
        Assert.NotNull(put.ETag);
    }

    [Fact]
    public async Task Unexpected_answers_throw_storage_unavailable_with_the_error_code()
    {
        // No container: writing into it is a deployment fault, not an outcome.
        var client = BlobRestClient.Create(azurite.Options());
        var error = await Assert.ThrowsAsync<StorageUnavailableException>(() => client.PutBlobAsync("k", "x"u8.ToArray(), WriteCondition.None, null, _ct));
        Assert.Contains("404 ContainerNotFound: The specified container does not exist.", error.Message, StringComparison.Ordinal);

        // A wrong key is refused by the service: 403, not retried.
        var wrongKey = azurite.Options();
        wrongKey.ConnectionString = wrongKey.ConnectionString!.Replace(StorageConnectionString.DevelopmentAccountKey, Convert.ToBase64String(new byte[64]), StringComparison.Ordinal);
        var forbidden = await Assert.ThrowsAsync<StorageUnavailableException>(() => BlobRestClient.Create(wrongKey).CreateContainerIfMissingAsync(_ct));
        Assert.Contains("403", forbidden.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancellation_propagates_as_cancellation()
    {
        var client = await NewContainerAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetPropertiesAsync("k", cancelled.Token));
    }
}
