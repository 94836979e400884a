using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Sas;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>
/// Short-lived read-only URLs for stored blobs (<see cref="IReadUrlIssuer"/>): a service SAS signed locally when the
/// client holds the account's shared key (a connection string, e.g. Azurite), otherwise a user-delegation SAS signed
/// with a key fetched through the client's Entra ID credential (the managed identity; "Storage Blob Data Contributor"
/// includes the right to ask for one), cached by <see cref="UserDelegationKeyCache"/>. Each URL grants read on one blob
/// only, starts <see cref="UserDelegationKeyCache.ClockSkew"/> early and expires after the asked lifetime.
/// </summary>
public sealed partial class AzureBlobReadUrls : IReadUrlIssuer
{
    private readonly BlobContainerClient _container;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly UserDelegationKeyCache _keys;

    internal AzureBlobReadUrls(BlobContainerClient container, TimeProvider time, ILogger? logger = null, UserDelegationKeyCache? keys = null)
    {
        _container = container;
        _time = time;
        _logger = logger ?? NullLogger.Instance;
        _keys = keys ?? new UserDelegationKeyCache(FetchKeyAsync, time);
    }

    /// <summary>For dependency injection: the store's own clients.</summary>
    public AzureBlobReadUrls(AzureBlobObjectStore store, TimeProvider time, ILogger<AzureBlobReadUrls> logger)
        : this(store.Clients.Container, time, logger)
    {
    }

    /// <summary>Whether URLs are signed with the shared key (service SAS) rather than a user-delegation key.</summary>
    public bool UsesSharedKey => _container.CanGenerateSasUri;

    public async ValueTask<Uri?> ReadUrlOrNullAsync(string key, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        ObjectKey.Validate(key);
        var blob = _container.GetBlobClient(key);
        var now = _time.GetUtcNow();
        var sas = ReadSas(_container.Name, key, now, now + lifetime, httpsOnly: blob.Uri.Scheme == Uri.UriSchemeHttps);
        if (blob.CanGenerateSasUri)
        {
            return blob.GenerateSasUri(sas);
        }

        try
        {
            var delegationKey = await _keys.GetAsync(sas.ExpiresOn, cancellationToken);
            return WithUserDelegationSas(blob.Uri, sas, delegationKey, blob.AccountName);
        }
        catch (Exception e) when (e is RequestFailedException or Azure.Identity.AuthenticationFailedException or Azure.Identity.CredentialUnavailableException or HttpRequestException or IOException)
        {
            LogNoDelegationKey(_logger, e.Message);
            return null;
        }
    }

    /// <summary>The SAS of one read URL: read permission on one blob, from a little before now until <paramref name="expiresOn"/>; HTTPS only unless storage itself is plain http.</summary>
    internal static BlobSasBuilder ReadSas(string container, string blobName, DateTimeOffset now, DateTimeOffset expiresOn, bool httpsOnly)
    {
        var sas = new BlobSasBuilder
        {
            BlobContainerName = container,
            BlobName = blobName,
            Resource = "b",
            StartsOn = now - UserDelegationKeyCache.ClockSkew,
            ExpiresOn = expiresOn,
            Protocol = httpsOnly ? SasProtocol.Https : SasProtocol.HttpsAndHttp, // plain http only where storage is (Azurite)
        };
        sas.SetPermissions(BlobSasPermissions.Read);
        return sas;
    }

    /// <summary>The blob's URL with a user-delegation SAS signed by <paramref name="delegationKey"/>.</summary>
    internal static Uri WithUserDelegationSas(Uri blobUri, BlobSasBuilder sas, UserDelegationKey delegationKey, string accountName) =>
        new BlobUriBuilder(blobUri) { Sas = sas.ToSasQueryParameters(delegationKey, accountName) }.ToUri();

    private async Task<UserDelegationKey> FetchKeyAsync(DateTimeOffset startsOn, DateTimeOffset expiresOn, CancellationToken cancellationToken)
    {
        var service = _container.GetParentBlobServiceClient();
        var response = await service.GetUserDelegationKeyAsync(new BlobGetUserDelegationKeyOptions(expiresOn) { StartsOn = startsOn }, cancellationToken);
        return response.Value;
    }
}
