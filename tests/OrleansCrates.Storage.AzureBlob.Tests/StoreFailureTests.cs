using System.Text;
using Azure.Core.Pipeline;

namespace OrleansCrates.Storage.AzureBlob.Tests;

/// <summary>
/// What the store promises when storage misbehaves, through the SDK pipeline it is built on: transient answers are
/// retried, conditional refusals never are, and anything unexpected is a <see cref="StorageUnavailableException"/>
/// naming the service's error code.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class StoreFailureTests(AzuriteFixture azurite)
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    [Fact]
    public async Task A_503_is_retried_and_the_write_lands_once()
    {
        var handler = new FaultInjectingHandler(r => r.Method == HttpMethod.Put && r.RequestUri!.AbsolutePath.EndsWith("/retried", StringComparison.Ordinal), failFirst: 2);
        var store = await azurite.CreateStoreAsync(transport: new HttpClientTransport(handler));

        var put = await store.PutAsync("retried", "x"u8.ToArray(), WriteCondition.IfNotExists, _ct);

        Assert.Equal(PutStatus.Written, put.Status);
        var attempts = handler.Attempts.Where(a => a.PathAndQuery.EndsWith("/retried", StringComparison.Ordinal) && a.Method == "PUT").ToList();
        Assert.Equal([503, 503, 201], attempts.Select(a => a.Status));
        Assert.All(attempts, a => Assert.StartsWith("SharedKey devstoreaccount1:", a.Authorization, StringComparison.Ordinal)); // signed on every attempt
        Assert.Equal(put.ETag, (await store.GetPropertiesOrNullAsync("retried", _ct))!.ETag);
    }

    [Fact]
    public async Task A_503_while_staging_a_block_is_retried_too()
    {
        var handler = new FaultInjectingHandler(r => r.RequestUri!.Query.Contains("comp=block&", StringComparison.Ordinal), failFirst: 1);
        var store = await azurite.CreateStoreAsync(blockSize: 1024, transport: new HttpClientTransport(handler));
        var content = Enumerable.Range(0, 3000).Select(i => (byte)i).ToArray();

        Assert.Equal(PutStatus.Written, (await store.PutAsync("blocks", content, WriteCondition.IfNotExists, _ct)).Status);

        Assert.Equal(1, handler.Attempts.Count(a => a.Status == 503));
        Assert.Equal(content, (await store.ReadSmallOrNullAsync("blocks", _ct))!.Value.Content);
    }

    [Fact]
    public async Task A_block_that_cannot_be_staged_fails_the_commit_and_leaves_nothing()
    {
        var handler = new FaultInjectingHandler(r => r.RequestUri!.Query.Contains("comp=block&", StringComparison.Ordinal), failFirst: 1000);
        var store = await azurite.CreateStoreAsync(blockSize: 1024, transport: new HttpClientTransport(handler));

        await using (var upload = await store.BeginUploadAsync("failing", WriteCondition.IfNotExists, _ct))
        {
            await upload.Content.WriteAsync(new byte[2500], _ct); // two blocks handed to staging, both refused after retries
            var error = await Assert.ThrowsAsync<StorageUnavailableException>(() => upload.CommitAsync(_ct));
            Assert.Contains("put block of 'failing' answered 503 ServerBusy", error.Message, StringComparison.Ordinal);
        }

        await using (var abandoned = await store.BeginUploadAsync("abandoned", WriteCondition.IfNotExists, _ct))
        {
            await abandoned.Content.WriteAsync(new byte[2500], _ct); // disposing waits for the failing blocks and does not throw
        }

        Assert.Null(await store.GetPropertiesOrNullAsync("failing", _ct));
        Assert.Null(await store.GetPropertiesOrNullAsync("abandoned", _ct));
        Assert.DoesNotContain(handler.Attempts, a => a.PathAndQuery.Contains("comp=blocklist", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refused_conditions_409_and_412_are_answers_never_retried()
    {
        var handler = new FaultInjectingHandler(_ => false, failFirst: 0);
        var store = await azurite.CreateStoreAsync(blockSize: 1024, transport: new HttpClientTransport(handler));
        await store.PutAsync("k", "x"u8.ToArray(), WriteCondition.None, _ct);
        await store.PutAsync("big", new byte[2000], WriteCondition.None, _ct);
        handler.Attempts.Clear();

        Assert.Equal(PutStatus.AlreadyExists, (await store.PutAsync("k", "y"u8.ToArray(), WriteCondition.IfNotExists, _ct)).Status);
        Assert.Equal(PutStatus.PreconditionFailed, (await store.PutAsync("k", "y"u8.ToArray(), WriteCondition.IfMatch("\"0x1\""), _ct)).Status);
        Assert.Equal([409, 412], handler.Attempts.Where(a => a.Method == "PUT").Select(a => a.Status));

        // The same through Put Block List (content larger than one block).
        handler.Attempts.Clear();
        Assert.Equal(PutStatus.AlreadyExists, (await store.PutAsync("big", new byte[2000], WriteCondition.IfNotExists, _ct)).Status);
        Assert.Equal(PutStatus.PreconditionFailed, (await store.PutAsync("big", new byte[2000], WriteCondition.IfMatch("\"0x1\""), _ct)).Status);
        Assert.Equal([409, 412], handler.Attempts.Where(a => a.PathAndQuery.Contains("comp=blocklist", StringComparison.Ordinal)).Select(a => a.Status));
        Assert.Equal(2, handler.Attempts.Count(a => a.Status >= 400));
    }

    [Fact]
    public async Task Unexpected_answers_throw_storage_unavailable_with_the_error_code()
    {
        // No container: writing into it is a deployment fault, not an outcome.
        var store = new AzureBlobObjectStore(azurite.Options());
        var error = await Assert.ThrowsAsync<StorageUnavailableException>(() => store.PutAsync("k", "x"u8.ToArray(), WriteCondition.None, _ct));
        Assert.Contains("404 ContainerNotFound: The specified container does not exist.", error.Message, StringComparison.Ordinal);
        Assert.Contains("'k'", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<StorageUnavailableException>(async () => await store.ListAsync("", _ct).GetAsyncEnumerator(_ct).MoveNextAsync());

        // A wrong key is refused by the service: 403, not retried, and the key is not in the message.
        var wrongKey = azurite.Options();
        var key = wrongKey.ConnectionString!.Split(';').Single(p => p.StartsWith("AccountKey=", StringComparison.Ordinal))["AccountKey=".Length..];
        wrongKey.ConnectionString = wrongKey.ConnectionString.Replace(key, Convert.ToBase64String(new byte[64]), StringComparison.Ordinal);
        var forbidden = await Assert.ThrowsAsync<StorageUnavailableException>(() => new AzureBlobObjectStore(wrongKey).EnsureContainerAsync(_ct));
        Assert.Contains("403", forbidden.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(key, forbidden.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Creates_a_container_once()
    {
        var store = new AzureBlobObjectStore(azurite.Options());
        Assert.True(await store.EnsureContainerAsync(_ct));
        Assert.False(await store.EnsureContainerAsync(_ct)); // ContainerAlreadyExists is fine
        Assert.True((await store.CheckHealthAsync(_ct)).Healthy);
    }

    [Fact]
    public async Task Keys_with_plus_signs_round_trip_and_list_by_a_prefix_holding_one()
    {
        var store = await azurite.CreateStoreAsync();
        const string key = "crates/a/a-1.0.0+build.7.crate";
        await store.PutAsync(key, "crate bytes"u8.ToArray(), WriteCondition.IfNotExists, _ct);
        await store.PutAsync("crates/a/a-1.0.0-build.7.crate", "other"u8.ToArray(), WriteCondition.IfNotExists, _ct); // '+' is literal, not a space

        var listed = new List<ObjectProperties>();
        await foreach (var item in store.ListAsync("crates/a/a-1.0.0+", _ct))
        {
            listed.Add(item);
        }

        Assert.Equal(key, Assert.Single(listed).Key);
        Assert.Equal("crate bytes", await store.ReadStringOrNullAsync(key, _ct));
    }

    [Fact]
    public async Task Cancellation_propagates_as_cancellation()
    {
        var store = await azurite.CreateStoreAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.GetPropertiesOrNullAsync("k", cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.OpenReadOrNullAsync("k", cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.PutAsync("k", Encoding.ASCII.GetBytes("x"), WriteCondition.None, cancelled.Token));
    }
}
