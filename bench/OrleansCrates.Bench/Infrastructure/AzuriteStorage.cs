using OrleansCrates.Testing;

namespace OrleansCrates.Bench.Infrastructure;

/// <summary>Azurite for the bench (the test library's <see cref="AzuriteProcess"/>) and the mirror settings that point at it.</summary>
internal static class AzuriteStorage
{
    /// <summary>Starts a private Azurite on a port of its own; dispose it to stop it and delete its data.</summary>
    public static async Task<AzuriteProcess> StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var azurite = await AzuriteProcess.StartAsync(cancellationToken);
            Console.WriteLine($"[bench] Azurite at {azurite.BlobEndpoint} (pid {azurite.ProcessId}, data in {azurite.Location})");
            return azurite;
        }
        catch (InvalidOperationException ex)
        {
            throw new BenchException(ex.Message, ex);
        }
    }

    /// <summary>
    /// The mirror settings for a container of <paramref name="azurite"/> (created by the mirror if missing), on top of
    /// <paramref name="extra"/> (the user's <c>--mirror-env</c>).
    /// </summary>
    public static Dictionary<string, string> Environment(AzuriteProcess azurite, string container, IReadOnlyDictionary<string, string> extra)
    {
        var environment = new Dictionary<string, string>(extra, StringComparer.Ordinal)
        {
            ["Storage__Provider"] = "AzureBlob",
            ["Storage__AzureBlob__ConnectionString"] = azurite.ConnectionString,
            ["Storage__AzureBlob__Container"] = container,
        };
        return environment;
    }
}
