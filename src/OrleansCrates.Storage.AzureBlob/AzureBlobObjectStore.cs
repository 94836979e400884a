using System.Runtime.CompilerServices;
using Azure;
using Azure.Core;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>
/// Objects as block blobs in one container, through the Azure SDK (<c>Azure.Storage.Blobs</c>). Keys map to blob
/// names one to one. Create-only writes send <c>If-None-Match: *</c>, replaces of a known version send
/// <c>If-Match</c>, so racing nodes never overwrite each other; the service's ETags are the store's ETags. Reads
/// stream straight from the HTTP response (<c>DownloadStreamingAsync</c>).
/// </summary>
public sealed partial class AzureBlobObjectStore : IObjectStore
{
    public const string ProviderName = "AzureBlob";

    private readonly AzureBlobClients _clients;
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
        : this(AzureBlobClients.Create(options, credential), logger)
    {
    }

    internal AzureBlobObjectStore(AzureBlobClients clients, ILogger? logger = null)
    {
        _clients = clients;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The container's URI, e.g. <c>https://account.blob.core.windows.net/orleanscrates</c>.</summary>
    public Uri ContainerUri => _clients.ContainerUri;

    /// <summary>Page size for <see cref="ListAsync"/>; null for the service's (5000). Small values are for tests.</summary>
    internal int? ListPageSize { get; init; }

    internal AzureBlobClients Clients => _clients;

    /// <summary>Creates the container if it is missing. Call once at start-up; true when it was created.</summary>
    public async Task<bool> EnsureContainerAsync(CancellationToken cancellationToken)
    {
        try
        {
            var created = await _clients.Container.CreateIfNotExistsAsync(cancellationToken: cancellationToken) is not null;
            if (created)
            {
                Log.ContainerCreated(_logger, ContainerUri);
            }

            return created;
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            throw AzureBlobErrors.Unavailable("create container", ContainerUri.ToString(), e);
        }
    }

    public async Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        try
        {
            // Streams from the live response; the SDK resumes a broken body with a range request pinned to the ETag.
            var response = await _clients.Container.GetBlobClient(key).DownloadStreamingAsync(cancellationToken: cancellationToken);
            var details = response.Value.Details;
            return new StoredObject(response.Value.Content, details.ContentLength, details.ETag.ToString("H"), details.LastModified);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            throw AzureBlobErrors.Unavailable("get blob", key, e);
        }
    }

    public async Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        try
        {
            var properties = (await _clients.Container.GetBlobClient(key).GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
            return new ObjectProperties(key, properties.ContentLength, properties.ETag.ToString("H"), properties.LastModified);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            throw AzureBlobErrors.Unavailable("get blob properties", key, e);
        }
    }

    public Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        if (condition.Kind == WriteConditionKind.IfMatch && string.IsNullOrEmpty(condition.ETag))
        {
            throw new ArgumentException("An IfMatch write condition needs an ETag.", nameof(condition));
        }

        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult<IObjectUpload>(new BlobUpload(_clients, key, condition));
    }

    public async Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        var blob = _clients.Container.GetBlobClient(key);
        try
        {
            await blob.DeleteAsync(conditions: ifMatch is null ? null : new BlobRequestConditions { IfMatch = new ETag(ifMatch) }, cancellationToken: cancellationToken);
            return DeleteResult.Deleted;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return DeleteResult.NotFound;
        }
        catch (RequestFailedException e) when (ifMatch is not null && (e.Status == 304 || (e.Status == 412 && e.ErrorCode is null or "ConditionNotMet")))
        {
            // An If-Match on a missing blob fails the condition too (Azurite answers 412): tell the two apart.
            return await GetPropertiesOrNullAsync(key, cancellationToken) is null ? DeleteResult.NotFound : DeleteResult.PreconditionFailed;
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            throw AzureBlobErrors.Unavailable("delete blob", key, e);
        }
    }

    public async IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ObjectKey.ValidatePrefix(prefix);
        var pages = _clients.Container
            .GetBlobsAsync(new GetBlobsOptions { Prefix = prefix.Length == 0 ? null : prefix }, cancellationToken)
            .AsPages(continuationToken: null, pageSizeHint: ListPageSize)
            .GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                Page<BlobItem> page;
                try
                {
                    if (!await pages.MoveNextAsync())
                    {
                        yield break;
                    }

                    page = pages.Current;
                }
                catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
                {
                    throw AzureBlobErrors.Unavailable("list blobs", prefix, e);
                }

                foreach (var item in page.Values)
                {
                    if (ObjectKey.IsValid(item.Name) && item.Properties is { } properties)
                    {
                        yield return new ObjectProperties(
                            item.Name,
                            properties.ContentLength ?? 0,
                            properties.ETag?.ToString("H") ?? "",
                            properties.LastModified ?? DateTimeOffset.UnixEpoch);
                    }
                }
            }
        }
        finally
        {
            await pages.DisposeAsync();
        }
    }

    public async Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken)
    {
        string detail;
        try
        {
            await _clients.HealthProbe.GetPropertiesAsync(cancellationToken: cancellationToken);
            return new StorageHealth(true, ProviderName, ContainerUri.ToString());
        }
        catch (RequestFailedException e) when (e.Status > 0)
        {
            detail = $"{ContainerUri}: Get Container Properties answered {e.Status} {e.ErrorCode ?? "(no error code)"}" +
                (e.Status == 404 ? " (the container does not exist)" : e.Status == 403 ? " (check the credential and its role assignment)" : "");
        }
        catch (Exception e) when (AzureBlobErrors.IsStorageFailure(e, cancellationToken))
        {
            detail = AzureBlobErrors.Unavailable("get container properties", ContainerUri.ToString(), e).Message;
        }

        Log.HealthCheckFailed(_logger, detail);
        return new StorageHealth(false, ProviderName, detail);
    }
}
