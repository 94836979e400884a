using System.Diagnostics.CodeAnalysis;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>The parts of a Shared Key storage connection string this provider uses.</summary>
internal sealed record StorageConnectionString(Uri BlobEndpoint, string AccountName, byte[] AccountKey)
{
    public const string DevelopmentAccountName = "devstoreaccount1";

    /// <summary>Azurite's well-known key (public, documented; it only opens the local emulator).</summary>
    public const string DevelopmentAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    public static StorageConnectionString Parse(string connectionString) =>
        TryParse(connectionString, out var parsed, out var error)
            ? parsed
            : throw new ArgumentException($"Invalid storage connection string: {error}", nameof(connectionString));

    public static bool TryParse(string connectionString, [NotNullWhen(true)] out StorageConnectionString? parsed, [NotNullWhen(false)] out string? error)
    {
        parsed = null;
        var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                error = $"'{Redact(part)}' is not a Name=Value pair.";
                return false;
            }

            settings[part[..equals].Trim()] = part[(equals + 1)..].Trim();
        }

        if (settings.ContainsKey("SharedAccessSignature"))
        {
            error = "SAS connection strings are not supported; use an account key or ServiceUri with Entra ID.";
            return false;
        }

        if (settings.TryGetValue("UseDevelopmentStorage", out var development) && development.Equals("true", StringComparison.OrdinalIgnoreCase))
        {
            var proxy = settings.TryGetValue("DevelopmentStorageProxyUri", out var proxyUri) && Uri.TryCreate(proxyUri, UriKind.Absolute, out var p)
                ? p
                : new Uri("http://127.0.0.1");
            parsed = new StorageConnectionString(
                new Uri($"{proxy.Scheme}://{proxy.Host}:10000/{DevelopmentAccountName}"),
                DevelopmentAccountName,
                Convert.FromBase64String(DevelopmentAccountKey));
            error = null;
            return true;
        }

        if (!settings.TryGetValue("AccountName", out var account) || account.Length == 0)
        {
            error = "AccountName is missing.";
            return false;
        }

        if (!settings.TryGetValue("AccountKey", out var keyText) || keyText.Length == 0)
        {
            error = "AccountKey is missing (only Shared Key connection strings are supported).";
            return false;
        }

        var key = new byte[keyText.Length];
        if (!Convert.TryFromBase64String(keyText, key, out var keyLength))
        {
            error = "AccountKey is not base64.";
            return false;
        }

        Uri? endpoint;
        if (settings.TryGetValue("BlobEndpoint", out var blobEndpoint))
        {
            if (!Uri.TryCreate(blobEndpoint, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https"))
            {
                error = $"BlobEndpoint '{blobEndpoint}' is not an absolute http(s) URI.";
                return false;
            }
        }
        else
        {
            var protocol = settings.TryGetValue("DefaultEndpointsProtocol", out var p) ? p.ToLowerInvariant() : "https";
            if (protocol is not ("http" or "https"))
            {
                error = $"DefaultEndpointsProtocol '{protocol}' is neither http nor https.";
                return false;
            }

            var suffix = settings.TryGetValue("EndpointSuffix", out var s) && s.Length > 0 ? s : "core.windows.net";
            if (!Uri.TryCreate($"{protocol}://{account}.blob.{suffix}", UriKind.Absolute, out endpoint))
            {
                error = $"AccountName '{account}' and EndpointSuffix '{suffix}' do not make a valid endpoint.";
                return false;
            }
        }

        parsed = new StorageConnectionString(endpoint, account, key[..keyLength]);
        error = null;
        return true;
    }

    // Never echo a key back into logs or validation messages.
    private static string Redact(string part) => part.Length <= 12 ? part : part[..12] + "…";
}
