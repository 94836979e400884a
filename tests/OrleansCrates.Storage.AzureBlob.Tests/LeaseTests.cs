namespace OrleansCrates.Storage.AzureBlob.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class LeaseTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan Duration = AzureBlobLeaseClient.MinDuration;
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    [Fact]
    public async Task Acquire_refuses_a_second_holder_until_release()
    {
        var store = await azurite.CreateStoreAsync();
        var leases = store.CreateLeaseClient();
        string a = Guid.NewGuid().ToString(), b = Guid.NewGuid().ToString();

        Assert.Null(await leases.GetLeaseInfoOrNullAsync("locks/crate-serde", _ct));
        Assert.Equal(a, await leases.TryAcquireAsync("locks/crate-serde", Duration, a, _ct)); // creates the lock blob
        Assert.Equal(new BlobLeaseInfo(BlobLeaseState.Leased, Locked: true, Infinite: false), await leases.GetLeaseInfoOrNullAsync("locks/crate-serde", _ct));

        Assert.Null(await leases.TryAcquireAsync("locks/crate-serde", Duration, b, _ct)); // 409 LeaseAlreadyPresent
        Assert.Equal(a, await leases.TryAcquireAsync("locks/crate-serde", Duration, a, _ct)); // same id: idempotent

        Assert.True(await leases.RenewAsync("locks/crate-serde", a, _ct));
        Assert.False(await leases.RenewAsync("locks/crate-serde", b, _ct));
        Assert.False(await leases.ReleaseAsync("locks/crate-serde", b, _ct));

        Assert.True(await leases.ReleaseAsync("locks/crate-serde", a, _ct));
        Assert.Equal(BlobLeaseState.Available, (await leases.GetLeaseInfoOrNullAsync("locks/crate-serde", _ct))!.State);
        Assert.False(await leases.RenewAsync("locks/crate-serde", a, _ct)); // lost: released
        Assert.Equal(b, await leases.TryAcquireAsync("locks/crate-serde", Duration, b, _ct));
        Assert.True(await leases.ReleaseAsync("locks/crate-serde", b, _ct));
    }

    [Fact]
    public async Task The_lock_blob_is_created_once_and_never_clobbered()
    {
        var store = await azurite.CreateStoreAsync();
        var existing = await store.PutAsync("locks/existing", "holder notes"u8.ToArray(), WriteCondition.IfNotExists, _ct);
        var leases = store.CreateLeaseClient();
        var id = Guid.NewGuid().ToString();

        Assert.Equal(id, await leases.TryAcquireAsync("locks/existing", Duration, id, _ct));
        Assert.Equal("holder notes", await store.ReadStringOrNullAsync("locks/existing", _ct));
        Assert.Equal(existing.ETag, (await store.GetPropertiesOrNullAsync("locks/existing", _ct))!.ETag);

        // A leased blob refuses writes and deletes that carry no lease id: a deployment fault, not an outcome.
        await Assert.ThrowsAsync<StorageUnavailableException>(() => store.DeleteAsync("locks/existing", null, _ct));
        await Assert.ThrowsAsync<StorageUnavailableException>(() => store.PutAsync("locks/existing", "x"u8.ToArray(), WriteCondition.None, _ct));
        Assert.True(await leases.ReleaseAsync("locks/existing", id, _ct));
    }

    [Fact]
    public async Task Racing_acquirers_have_exactly_one_winner()
    {
        var store = await azurite.CreateStoreAsync();
        var leases = store.CreateLeaseClient();
        var ids = Enumerable.Range(0, 6).Select(_ => Guid.NewGuid().ToString()).ToList();
        var results = await Task.WhenAll(ids.Select(id => leases.TryAcquireAsync("locks/race", Duration, id, _ct)));
        var winner = Assert.Single(results, r => r is not null);
        Assert.Contains(winner, ids);
    }

    [Fact]
    public async Task Break_ends_a_lease_without_its_id()
    {
        var store = await azurite.CreateStoreAsync();
        var leases = store.CreateLeaseClient();
        string a = Guid.NewGuid().ToString(), b = Guid.NewGuid().ToString();

        Assert.Null(await leases.BreakAsync("locks/missing", TimeSpan.Zero, _ct));
        Assert.Equal(a, await leases.TryAcquireAsync("locks/b", Timeout.InfiniteTimeSpan, a, _ct));
        Assert.True((await leases.GetLeaseInfoOrNullAsync("locks/b", _ct))!.Infinite);

        Assert.Equal(TimeSpan.Zero, await leases.BreakAsync("locks/b", TimeSpan.Zero, _ct));
        Assert.Equal(BlobLeaseState.Broken, (await leases.GetLeaseInfoOrNullAsync("locks/b", _ct))!.State);
        Assert.False(await leases.RenewAsync("locks/b", a, _ct)); // a broken lease cannot be renewed
        Assert.Equal(b, await leases.TryAcquireAsync("locks/b", Duration, b, _ct));
        Assert.True(await leases.ReleaseAsync("locks/b", b, _ct));
        Assert.Null(await leases.BreakAsync("locks/b", TimeSpan.Zero, _ct)); // nothing left to break
    }

    [Fact]
    public async Task Arguments_are_checked_before_any_request()
    {
        var leases = (await azurite.CreateStoreAsync()).CreateLeaseClient();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => leases.TryAcquireAsync("locks/x", TimeSpan.FromSeconds(10), Guid.NewGuid().ToString(), _ct));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => leases.TryAcquireAsync("locks/x", TimeSpan.FromSeconds(61), Guid.NewGuid().ToString(), _ct));
        await Assert.ThrowsAsync<ArgumentException>(() => leases.TryAcquireAsync("locks/x", Duration, "not-a-guid", _ct));
        await Assert.ThrowsAsync<ArgumentException>(() => leases.TryAcquireAsync("../x", Duration, Guid.NewGuid().ToString(), _ct));
    }
}

/// <summary>Lease expiry takes the minimum 15 s, so it runs in its own collection (own Azurite), beside the others.</summary>
[Collection(Name)]
public sealed class LeaseExpiryTests(AzuriteFixture azurite)
{
    public const string Name = "Azurite lease expiry";
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    [Fact]
    public async Task An_unrenewed_lease_expires_and_another_holder_takes_over()
    {
        var store = await azurite.CreateStoreAsync();
        var leases = store.CreateLeaseClient();
        string crashed = Guid.NewGuid().ToString(), next = Guid.NewGuid().ToString();

        Assert.Equal(crashed, await leases.TryAcquireAsync("locks/expiry", AzureBlobLeaseClient.MinDuration, crashed, _ct));
        Assert.Null(await leases.TryAcquireAsync("locks/expiry", AzureBlobLeaseClient.MinDuration, next, _ct));

        // The holder "crashes": nobody renews. Poll the lease state until it expires (15 s on Azurite), with a deadline.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        BlobLeaseInfo? info;
        while ((info = await leases.GetLeaseInfoOrNullAsync("locks/expiry", _ct))!.State != BlobLeaseState.Expired)
        {
            Assert.True(DateTime.UtcNow < deadline, $"The 15 s lease was still {info.State} after 30 s; expected Expired.");
            Assert.Equal(BlobLeaseState.Leased, info.State);
            await Task.Delay(250, _ct);
        }

        Assert.False(info.Locked);
        Assert.Equal(next, await leases.TryAcquireAsync("locks/expiry", AzureBlobLeaseClient.MinDuration, next, _ct));
        Assert.False(await leases.RenewAsync("locks/expiry", crashed, _ct)); // the old holder learns it lost the lock
        Assert.True(await leases.RenewAsync("locks/expiry", next, _ct));
        Assert.True(await leases.ReleaseAsync("locks/expiry", next, _ct));
    }
}

[CollectionDefinition(LeaseExpiryTests.Name)]
public sealed class AzuriteLeaseExpiryCollection : ICollectionFixture<AzuriteFixture>;
