using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>Configuration section <c>Storage:AzureBlob</c>. Set exactly one of <see cref="ConnectionString"/> and <see cref="ServiceUri"/>.</summary>
public sealed class AzureBlobStorageOptions
{
    public const string SectionName = "Storage:AzureBlob";

    public const int DefaultBlockSize = 2 * 1024 * 1024;
    public const int MinBlockSize = 1024;
    public const int MaxBlockSize = 100 * 1024 * 1024;
    public const int DefaultUploadConcurrency = 2;
    public const int MaxUploadConcurrency = 16;

    /// <summary>
    /// A storage connection string as the Azure SDK reads it: <c>UseDevelopmentStorage=true</c> (Azurite on
    /// 127.0.0.1:10000), or <c>DefaultEndpointsProtocol=https;AccountName=..;AccountKey=..;</c> with either
    /// <c>BlobEndpoint=..</c> or <c>EndpointSuffix=..</c> (default <c>core.windows.net</c>). For Azurite and tests;
    /// production uses <see cref="ServiceUri"/> with Entra ID and no shared keys.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Entra ID access: the account's blob endpoint, e.g. <c>https://myaccount.blob.core.windows.net</c>, reached with
    /// <c>DefaultAzureCredential</c> (managed identity in Azure). The identity needs "Storage Blob Data Contributor".
    /// </summary>
    public Uri? ServiceUri { get; set; }

    /// <summary>User-assigned managed identity to use with <see cref="ServiceUri"/>; null for the system-assigned one.</summary>
    public string? ManagedIdentityClientId { get; set; }

    /// <summary>Container holding every object; 3–63 characters of <c>[a-z0-9-]</c>. Default <c>orleanscrates</c>.</summary>
    public string Container { get; set; } = "orleanscrates";

    /// <summary>
    /// Content up to this size is sent as one Put Blob; larger content as staged blocks of this size
    /// (the SDK's <c>StorageTransferOptions.InitialTransferSize</c> and <c>MaximumTransferSize</c>). Default 2 MiB (most crates are far smaller; 2 MiB blocks keep an upload at 6 MiB);
    /// 1 KiB to 100 MiB.
    /// </summary>
    public int BlockSize { get; set; } = DefaultBlockSize;

    /// <summary>
    /// Blocks of one upload staged at once while the next one fills (<c>StorageTransferOptions.MaximumConcurrency</c>).
    /// An upload holds at most <c>(UploadConcurrency + 1) × BlockSize</c> bytes. Default 2; 1 to 16.
    /// </summary>
    public int UploadConcurrency { get; set; } = DefaultUploadConcurrency;

    /// <summary>Retries after a transient failure (timeouts, 408, 429, 500, 502, 503, 504). Default 5.</summary>
    public int MaxRetries { get; set; } = 5;

    /// <summary>First retry delay; later ones back off exponentially with jitter. Default 0.5 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(0.5);

    /// <summary>Longest delay between two retries. Default 30 s.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait for a response or for each read of a response body. Default 100 s.</summary>
    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromSeconds(100);
}

/// <summary>Checks <see cref="AzureBlobStorageOptions"/> at start-up.</summary>
public sealed class AzureBlobStorageOptionsValidator : IValidateOptions<AzureBlobStorageOptions>
{
    public ValidateOptionsResult Validate(string? name, AzureBlobStorageOptions options)
    {
        var errors = new List<string>();
        var hasConnectionString = !string.IsNullOrWhiteSpace(options.ConnectionString);
        if (hasConnectionString == (options.ServiceUri is not null))
        {
            errors.Add($"Set exactly one of {AzureBlobStorageOptions.SectionName}:ConnectionString (Shared Key) and {AzureBlobStorageOptions.SectionName}:ServiceUri (Entra ID).");
        }
        else if (hasConnectionString && ConnectionStringError(options.ConnectionString!) is { } error)
        {
            errors.Add($"{AzureBlobStorageOptions.SectionName}:ConnectionString is invalid: {error}");
        }
        else if (options.ServiceUri is { } uri && (!uri.IsAbsoluteUri || uri.Scheme != Uri.UriSchemeHttps || !string.IsNullOrEmpty(uri.Query)))
        {
            errors.Add($"{AzureBlobStorageOptions.SectionName}:ServiceUri must be an absolute https:// URI without a query (bearer tokens are only sent over TLS), not '{uri}'.");
        }

        if (!IsValidContainerName(options.Container))
        {
            errors.Add($"{AzureBlobStorageOptions.SectionName}:Container '{options.Container}' is not a valid container name: 3–63 characters of lower-case letters, digits and '-', starting and ending with a letter or digit, no '--'.");
        }

        if (options.BlockSize is < AzureBlobStorageOptions.MinBlockSize or > AzureBlobStorageOptions.MaxBlockSize)
        {
            errors.Add($"{AzureBlobStorageOptions.SectionName}:BlockSize must be between {AzureBlobStorageOptions.MinBlockSize} and {AzureBlobStorageOptions.MaxBlockSize} bytes, not {options.BlockSize}.");
        }

        if (options.UploadConcurrency is < 1 or > AzureBlobStorageOptions.MaxUploadConcurrency)
        {
            errors.Add($"{AzureBlobStorageOptions.SectionName}:UploadConcurrency must be between 1 and {AzureBlobStorageOptions.MaxUploadConcurrency}, not {options.UploadConcurrency}.");
        }

        if (options.MaxRetries < 0)
        {
            errors.Add($"{AzureBlobStorageOptions.SectionName}:MaxRetries must not be negative.");
        }

        if (options.RetryDelay < TimeSpan.Zero || options.MaxRetryDelay < options.RetryDelay)
        {
            errors.Add($"{AzureBlobStorageOptions.SectionName}:RetryDelay must not be negative nor above MaxRetryDelay.");
        }

        if (options.NetworkTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{AzureBlobStorageOptions.SectionName}:NetworkTimeout must be positive.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Why the SDK cannot use <paramref name="connectionString"/>, or null when it can. Never repeats the string (it holds a key).</summary>
    internal static string? ConnectionStringError(string connectionString)
    {
        try
        {
            _ = new BlobServiceClient(connectionString);
            return null;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            return e.GetType().Name + " (" + (e.Message.Contains(connectionString, StringComparison.Ordinal) ? "see the connection string's format" : e.Message) + ")";
        }
    }

    /// <summary>Container names: 3–63 of <c>[a-z0-9-]</c>, starting and ending with a letter or digit, no "--".</summary>
    public static bool IsValidContainerName(string? name)
    {
        if (name is null || name.Length is < 3 or > 63 || name[0] == '-' || name[^1] == '-' || name.Contains("--", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                return false;
            }
        }

        return true;
    }
}
