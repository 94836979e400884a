using System.Diagnostics;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.Storage;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>
/// The SDK clients for one container, built once from <see cref="AzureBlobStorageOptions"/>: a connection string
/// (Shared Key, e.g. Azurite) or a service URI reached with a <see cref="TokenCredential"/> (Entra ID,
/// <see cref="DefaultAzureCredential"/> unless one is given). The store and the read-URL issuer share them.
/// </summary>
internal sealed class AzureBlobClients
{
    private static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(10);

    private AzureBlobClients(BlobContainerClient container, BlobContainerClient healthProbe, StorageTransferOptions transfer, int blockSize)
    {
        Container = container;
        HealthProbe = healthProbe;
        Transfer = transfer;
        BlockSize = blockSize;
    }

    /// <summary>Every operation: retries transient failures (never 409 or 412) as the options say.</summary>
    public BlobContainerClient Container { get; }

    /// <summary>The same container, one attempt with a short network timeout: health checks must answer quickly.</summary>
    public BlobContainerClient HealthProbe { get; }

    /// <summary>How uploads are cut up; see <see cref="AzureBlobStorageOptions.BlockSize"/>.</summary>
    public StorageTransferOptions Transfer { get; }

    public int BlockSize { get; }

    public Uri ContainerUri => Container.Uri;

    /// <summary>
    /// Builds the clients, validating <paramref name="options"/> first (<see cref="OptionsValidationException"/>).
    /// <paramref name="credential"/> replaces <see cref="DefaultAzureCredential"/>; <paramref name="transport"/> is for tests.
    /// </summary>
    public static AzureBlobClients Create(AzureBlobStorageOptions options, TokenCredential? credential = null, HttpPipelineTransport? transport = null)
    {
        var validation = new AzureBlobStorageOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(nameof(AzureBlobStorageOptions), typeof(AzureBlobStorageOptions), validation.Failures);
        }

        var transfer = new StorageTransferOptions
        {
            // Content up to one block goes as one Put Blob; larger content as blocks of BlockSize, UploadConcurrency
            // of them in flight while the next one fills. Nothing else is buffered.
            InitialTransferSize = options.BlockSize,
            MaximumTransferSize = options.BlockSize,
            MaximumConcurrency = options.UploadConcurrency,
        };
        return new AzureBlobClients(
            ContainerClient(options, credential, ClientOptions(options, transport, options.MaxRetries, options.NetworkTimeout)),
            ContainerClient(options, credential, ClientOptions(options, transport, maxRetries: 0, HealthTimeout)),
            transfer,
            options.BlockSize);
    }

    private static BlobContainerClient ContainerClient(AzureBlobStorageOptions options, TokenCredential? credential, BlobClientOptions clientOptions)
    {
        if (!string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            return new BlobContainerClient(options.ConnectionString, options.Container, clientOptions);
        }

        if (options.ServiceUri is { } serviceUri)
        {
            credential ??= new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = options.ManagedIdentityClientId });
            var containerUri = new Uri(serviceUri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/" + options.Container);
            return new BlobContainerClient(containerUri, credential, clientOptions);
        }

        throw new UnreachableException("Validated options have a connection string or a service URI.");
    }

    private static BlobClientOptions ClientOptions(AzureBlobStorageOptions options, HttpPipelineTransport? transport, int maxRetries, TimeSpan networkTimeout)
    {
        var clientOptions = new BlobClientOptions();
        clientOptions.Retry.Mode = RetryMode.Exponential;
        clientOptions.Retry.MaxRetries = maxRetries;
        clientOptions.Retry.Delay = options.RetryDelay;
        clientOptions.Retry.MaxDelay = options.MaxRetryDelay;
        clientOptions.Retry.NetworkTimeout = networkTimeout;
        clientOptions.Diagnostics.ApplicationId = "OrleansCrates";
        foreach (var header in (string[])["x-ms-error-code", "x-ms-blob-type", "x-ms-lease-action", "x-ms-lease-state", "If-Match", "If-None-Match", "ETag"])
        {
            clientOptions.Diagnostics.LoggedHeaderNames.Add(header);
        }

        foreach (var parameter in (string[])["restype", "comp", "prefix", "marker", "maxresults"])
        {
            clientOptions.Diagnostics.LoggedQueryParameters.Add(parameter);
        }

        if (transport is not null)
        {
            clientOptions.Transport = transport;
        }

        return clientOptions;
    }
}
