using OrleansCrates.Testing;

namespace OrleansCrates.Storage.AzureBlob.Tests;

/// <summary>
/// A real Azurite blob service for a test collection: <see cref="AzuriteProcess"/> (shared with the end-to-end tests
/// and the bench) started once, killed with its process tree and its data folder deleted on dispose.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private AzuriteProcess? _azurite;

    private AzuriteProcess Azurite => _azurite ?? throw new InvalidOperationException("Azurite has not been started.");

    public int Port => Azurite.Port;

    public string ConnectionString => Azurite.ConnectionString;

    public async Task InitializeAsync() => _azurite = await AzuriteProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_azurite is not null)
        {
            await _azurite.DisposeAsync();
        }
    }

    /// <summary>Options for a fresh, randomly named container (not yet created).</summary>
    public AzureBlobStorageOptions Options(int blockSize = AzureBlobStorageOptions.DefaultBlockSize, int uploadConcurrency = AzureBlobStorageOptions.DefaultUploadConcurrency) => new()
    {
        UploadConcurrency = uploadConcurrency,
        ConnectionString = ConnectionString,
        Container = "test-" + Guid.NewGuid().ToString("N")[..20],
        BlockSize = blockSize,
        MaxRetries = 2,
        RetryDelay = TimeSpan.FromMilliseconds(50),
        MaxRetryDelay = TimeSpan.FromMilliseconds(200),
    };

    /// <summary>A store on its own new container.</summary>
    public async Task<AzureBlobObjectStore> CreateStoreAsync(int blockSize = AzureBlobStorageOptions.DefaultBlockSize, int? listPageSize = null, Azure.Core.Pipeline.HttpPipelineTransport? transport = null)
    {
        var store = new AzureBlobObjectStore(AzureBlobClients.Create(Options(blockSize), transport: transport)) { ListPageSize = listPageSize };
        Assert.True(await store.EnsureContainerAsync(CancellationToken.None));
        return store;
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
