using System.Runtime.CompilerServices;
using Azure.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>
/// Objects as block blobs in one container. Keys map to blob names one to one. Create-only writes send
/// <c>If-None-Match: *</c>, replaces of a known version send <c>If-Match</c>, so racing nodes never overwrite each
/// other; the service's ETags are the store's ETags. Reads stream straight from the HTTP response.
/// </summary>
public sealed partial class AzureBlobObjectStore : IObjectStore
{
    public const string ProviderName = "AzureBlob";

    private readonly BlobRestClient _client;
    private readonly int _blockSize;
    private readonly ILogger _logger;

    /// <summary>For dependency injection; see <see cref="AzureBlobServiceCollectionExtensions.AddAzureBlobObjectStore"/>.</summary>
    public AzureBlobObjectStore(IOptions<AzureBlobStorageOptions> options, ILogger<AzureBlobObjectStore> logger)
        : this(options.Value, credential: null, logger)
    {
    }

    /// <summary>
    /// A store for <paramref name="options"/> (validated: <see cref="OptionsValidationException"/> if they are not);
    /// <paramref name="credential"/> replaces <c>DefaultAzureCredential</c>
    /// when <see cref="AzureBlobStorageOptions.ServiceUri"/> is used.
    /// </summary>
    public AzureBlobObjectStore(AzureBlobStorageOptions options, TokenCredential? credential = null, ILogger<AzureBlobObjectStore>? logger = null)
        : this(BlobRestClient.Create(options, credential), options.BlockSize, logger)
    {
    }

    internal AzureBlobObjectStore(BlobRestClient client, int blockSize, ILogger? logger = null)
    {
        _client = client;
        _blockSize = blockSize;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The container's URI, e.g. <c>https://account.blob.core.windows.net/orleanscrates</c>.</summary>
    public Uri ContainerUri => _client.ContainerUri;

    /// <summary>Page size for <see cref="ListAsync"/>; null for the service's (5000). Small values are for tests.</summary>
    internal int? ListPageSize { get; init; }

    internal BlobRestClient Client => _client;

    /// <summary>Creates the container if it is missing. Call once at start-up; true when it was created.</summary>
    public async Task<bool> EnsureContainerAsync(CancellationToken cancellationToken)
    {
        var created = await _client.CreateContainerIfMissingAsync(cancellationToken);
        if (created)
        {
            Log.ContainerCreated(_logger, _client.ContainerUri);
        }

        return created;
    }

    public Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        return _client.GetBlobAsync(key, cancellationToken);
    }

    public async Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        var properties = await _client.GetPropertiesAsync(key, cancellationToken);
        return properties is null ? null : new ObjectProperties(key, properties.Length, properties.ETag, properties.LastModified);
    }

    public Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        if (condition.Kind == WriteConditionKind.IfMatch && string.IsNullOrEmpty(condition.ETag))
        {
            throw new ArgumentException("An IfMatch write condition needs an ETag.", nameof(condition));
        }

        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult<IObjectUpload>(new BlockBlobUpload(_client, key, condition, _blockSize));
    }

    public Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        return _client.DeleteBlobAsync(key, ifMatch, cancellationToken);
    }

    public async IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ObjectKey.ValidatePrefix(prefix);
        string? marker = null;
        do
        {
            var page = await _client.ListBlobsAsync(prefix, marker, ListPageSize, cancellationToken);
            foreach (var item in page.Items)
            {
                if (ObjectKey.IsValid(item.Name))
                {
                    yield return new ObjectProperties(item.Name, item.Length, item.ETag, item.LastModified);
                }
            }

            marker = page.NextMarker;
        }
        while (marker is not null);
    }

    public async Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken)
    {
        try
        {
            var (status, code) = await _client.ProbeContainerAsync(cancellationToken);
            if (status == 200)
            {
                return new StorageHealth(true, ProviderName, _client.ContainerUri.ToString());
            }

            var detail = $"{_client.ContainerUri}: Get Container Properties answered {status} {code ?? "(no error code)"}" +
                (status == 404 ? " (the container does not exist)" : status == 403 ? " (check the credential and its role assignment)" : "");
            Log.HealthCheckFailed(_logger, detail);
            return new StorageHealth(false, ProviderName, detail);
        }
        catch (StorageUnavailableException e)
        {
            Log.HealthCheckFailed(_logger, e.Message);
            return new StorageHealth(false, ProviderName, e.Message);
        }
    }
}
