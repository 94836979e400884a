using OrleansCrates.Storage;
using OrleansCrates.Storage.AzureBlob;
using OrleansCrates.Testing;

namespace OrleansCrates.Registry.Tests;

/// <summary>One Azurite for the Azure tests of this project.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private AzuriteProcess? _azurite;

    public AzuriteProcess Azurite => _azurite ?? throw new InvalidOperationException("Azurite has not been started.");

    public async Task InitializeAsync() => _azurite = await AzuriteProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_azurite is not null)
        {
            await _azurite.DisposeAsync();
        }
    }

    /// <summary>A fresh container, and a factory of store clients for it (one per node, with a little added latency).</summary>
    public async Task<Func<IObjectStore>> NewContainerAsync(StoreStats stats)
    {
        var options = new AzureBlobStorageOptions
        {
            ConnectionString = Azurite.ConnectionString,
            Container = AzuriteProcess.NewContainerName("registry"),
            MaxRetries = 2,
            RetryDelay = TimeSpan.FromMilliseconds(50),
            MaxRetryDelay = TimeSpan.FromMilliseconds(200),
        };
        Assert.True(await new AzureBlobObjectStore(options).EnsureContainerAsync(CancellationToken.None));
        return () => new LatencyStore(new AzureBlobObjectStore(options), stats);
    }
}

/// <summary>The same races against a real Azure Blob emulator: ETag-conditional and create-only writes over HTTP.</summary>
public sealed class AzureConcurrencyTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private readonly StoreStats _stats = new();

    [Fact]
    public async Task Different_versions_published_at_once_from_several_nodes_all_land()
    {
        var newStore = await azurite.NewContainerAsync(_stats);
        using var h = new RegistryHarness(newStore());
        await Races.DifferentVersionsAllLandAsync(h, newStore);
        Assert.True(_stats.LostIfMatch > 0, $"Expected index updates to conflict and be retried, but {_stats}.");
    }

    [Fact]
    public async Task The_same_version_published_at_once_from_several_nodes_has_exactly_one_winner()
    {
        var newStore = await azurite.NewContainerAsync(_stats);
        using var h = new RegistryHarness(newStore());
        await Races.SameVersionHasOneWinnerAsync(h, newStore);
        Races.AssertRaced(_stats);
    }

    [Fact]
    public async Task Two_users_creating_one_name_at_once_leave_exactly_one_owner()
    {
        var newStore = await azurite.NewContainerAsync(_stats);
        using var h = new RegistryHarness(newStore());
        await Races.NewNameHasOneOwnerAsync(h, newStore, rounds: 3);
        Races.AssertRaced(_stats);
    }

    [Fact]
    public async Task A_publish_round_trip_with_yank_works_on_blob_storage()
    {
        var newStore = await azurite.NewContainerAsync(_stats);
        using var h = new RegistryHarness(newStore());
        await h.PublishAsync("alice", "blobbed", "1.0.0+meta");
        var name = OrleansCrates.Protocol.CrateName.Parse("blobbed");
        Assert.True((await h.Registry.YankAsync("alice", false, name, "1.0.0+meta", true, CancellationToken.None)).Succeeded);
        var reader = h.NewNode(store: newStore());
        Assert.Contains("\"yanked\":true", await h.IndexTextAsync("blobbed", reader), StringComparison.Ordinal);
        await using var file = await reader.OpenCrateFileAsync(name, "1.0.0+meta", CancellationToken.None);
        Assert.True(file.Found, file.Detail);
        Assert.Equal("private/meta/blobbed.json", Assert.Single(await h.PrivateKeysAsync(), k => k.StartsWith("private/meta/", StringComparison.Ordinal)));
    }
}
