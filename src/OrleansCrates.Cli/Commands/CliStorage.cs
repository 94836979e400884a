using OrleansCrates.Storage;
using OrleansCrates.Storage.AzureBlob;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Server.Cli;

/// <summary>
/// The object store the server would use, built from the same configuration keys without a web host:
/// <c>Storage:Provider</c> <c>FileSystem</c> (default; <c>Storage:FileSystem:Root</c>, default <c>data</c>, relative
/// to the working directory) or <c>AzureBlob</c> (<c>Storage:AzureBlob:*</c>, validated as the server does).
/// Call <see cref="EnsureReadyAsync"/> before use (creates the Azure container if missing) and dispose when done.
/// </summary>
public sealed class CliStorage : IAsyncDisposable
{
    private readonly ServiceProvider? _services;
    private readonly AzureBlobObjectStore? _azure;

    private CliStorage(IObjectStore store, ServiceProvider? services, AzureBlobObjectStore? azure)
    {
        Store = store;
        _services = services;
        _azure = azure;
    }

    public IObjectStore Store { get; }

    /// <summary>
    /// Builds the configured store. Throws <see cref="InvalidOperationException"/> for an unknown provider or an empty
    /// root, and <see cref="Microsoft.Extensions.Options.OptionsValidationException"/> for invalid Azure settings.
    /// </summary>
    public static CliStorage Create(IConfiguration configuration)
    {
        var provider = configuration[$"{StorageOptions.SectionName}:{nameof(StorageOptions.Provider)}"] ?? "FileSystem";
        switch (provider)
        {
            case "FileSystem":
                var root = configuration[$"{StorageOptions.SectionName}:{nameof(StorageOptions.FileSystem)}:{nameof(FileSystemStorageOptions.Root)}"]
                    ?? new FileSystemStorageOptions().Root;
                if (string.IsNullOrWhiteSpace(root))
                {
                    throw new InvalidOperationException("Storage:FileSystem:Root must not be empty.");
                }

                return new CliStorage(new FileSystemObjectStore(root), services: null, azure: null);

            case "AzureBlob":
                var services = new ServiceCollection()
                    .AddLogging(logging => logging.AddCliLogging())
                    .AddAzureBlobObjectStore(configuration)
                    .BuildServiceProvider();
                try
                {
                    var azure = services.GetRequiredService<AzureBlobObjectStore>();
                    return new CliStorage(azure, services, azure);
                }
                catch
                {
                    services.Dispose();
                    throw;
                }

            default:
                throw new InvalidOperationException("Storage:Provider must be FileSystem or AzureBlob.");
        }
    }

    /// <summary>Creates the Azure container if it is missing; nothing to do for the filesystem.</summary>
    public async Task EnsureReadyAsync(CancellationToken cancellationToken)
    {
        if (_azure is not null)
        {
            await _azure.EnsureContainerAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }
    }
}

internal static class CliLogging
{
    /// <summary>Warnings and errors only, and all of it on stderr: stdout carries nothing but command output.</summary>
    public static ILoggingBuilder AddCliLogging(this ILoggingBuilder logging) => logging
        .SetMinimumLevel(LogLevel.Warning)
        .AddSimpleConsole(console => console.SingleLine = true)
        .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
}
