using Microsoft.Extensions.Options;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Server.Hosting;

public static class ServiceRegistration
{
    public static WebApplicationBuilder AddOrleansCrates(this WebApplicationBuilder builder)
    {
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Room for a typical crate file in one write, so serving it rarely waits on the socket mid-response.
            kestrel.Limits.MaxResponseBufferSize = 1024 * 1024;
        });
        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);

        services.AddOptions<MirrorOptions>()
            .BindConfiguration(MirrorOptions.SectionName)
            .Validate(MirrorOptionsValidation.IsValid, MirrorOptionsValidation.Rules)
            .ValidateOnStart();
        services.AddOptions<StorageOptions>()
            .BindConfiguration(StorageOptions.SectionName)
            .Validate(o => o.Provider is "FileSystem", "Storage:Provider must be FileSystem (AzureBlob arrives with the cluster work).")
            .Validate(o => !string.IsNullOrWhiteSpace(o.FileSystem.Root), "Storage:FileSystem:Root must not be empty.")
            .ValidateOnStart();

        services.AddSingleton<IObjectStore>(sp => new FileSystemObjectStore(sp.GetRequiredService<IOptions<StorageOptions>>()));
        services.AddHostedService<StorageJanitor>();
        services.AddSingleton<UpstreamSet>();
        services.AddSingleton<CrateCoordinator>();
        return builder;
    }
}

internal static class MirrorOptionsValidation
{
    public const string Rules =
        "Mirror: every Upstreams:N:IndexUrl must be an absolute http(s) URL and Timeout positive; PublicUrl, if set, an absolute http(s) URL; " +
        "IndexTtl, NotFoundTtl and FailureBackoff not negative; MaxUpstreamConcurrency and UpstreamMaxAttempts at least 1.";

    public static bool IsValid(MirrorOptions o) =>
        o.Upstreams.All(u => IsHttpUrl(u.IndexUrl) && u.Timeout > TimeSpan.Zero) &&
        (string.IsNullOrEmpty(o.PublicUrl) || IsHttpUrl(o.PublicUrl)) &&
        o.IndexTtl >= TimeSpan.Zero && o.NotFoundTtl >= TimeSpan.Zero && o.FailureBackoff >= TimeSpan.Zero &&
        o.MaxUpstreamConcurrency >= 1 && o.UpstreamMaxAttempts >= 1;

    private static bool IsHttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";
}

/// <summary>Clears temp files a crashed writer left in the filesystem store. Never blocks start-up.</summary>
internal sealed class StorageJanitor(IObjectStore store) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (store is FileSystemObjectStore fileSystem)
        {
            fileSystem.DeleteAbandonedTempFiles(TimeSpan.FromHours(1));
        }

        return Task.CompletedTask;
    }
}
