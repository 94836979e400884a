using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Storage;
using OrleansCrates.Storage.AzureBlob;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Upstream;
using Polly;
using Polly.Retry;

namespace OrleansCrates.Mirror;

/// <summary>The mirror's core services and the configured object store, registered the same way by the server and the CLI.</summary>
public static class MirrorServiceRegistration
{
    /// <summary>
    /// The mirror's core, shared by the server and the CLI's offline <c>prefetch</c>: the options (validated), the configured
    /// object store, the upstreams and the <see cref="CrateCoordinator"/> (whose crates' owners are the cluster's grains on
    /// a server, and this process's own without one). Needs
    /// <see cref="IConfiguration"/>, logging and an <see cref="IHostApplicationLifetime"/> registered beside it.
    /// </summary>
    public static IServiceCollection AddMirrorCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(TimeProvider.System);

        services.AddOptions<MirrorOptions>()
            .BindConfiguration(MirrorOptions.SectionName)
            .Validate(MirrorOptionsValidation.IsValid, MirrorOptionsValidation.Rules)
            .ValidateOnStart();
        services.AddObjectStore(configuration);
        services.AddOrleansCratesMetrics(); // after the store: wraps it to time every storage call
        // The upstreams' HTTP clients (IHttpClientFactory + resilience), named per configured upstream, as the options say at start.
        var mirror = configuration.GetSection(MirrorOptions.SectionName).Get<MirrorOptions>() ?? new MirrorOptions();
        services.AddUpstreamHttpClients(mirror.ResolveUpstreams(), mirror.ToUpstreamPolicy());
        services.AddSingleton<UpstreamSet>();
        // Cold downloads in progress, streamed to waiting clients: this node's, and (with a SpoolRelay registered by the
        // server of a multi-silo cluster) other nodes' read over their internal HTTP listener.
        services.AddSingleton(sp => new Streaming.InFlightSpools(relay: sp.GetService<Streaming.SpoolRelay>(), logger: sp.GetService<ILogger<Streaming.InFlightSpools>>()));
        services.AddSingleton<CrateCoordinator>();
        services.AddSingleton<CrateDownloads>();
        services.AddSingleton<CratePrefetcher>();
        return services;
    }

    /// <summary>
    /// The object store, chosen by <c>Storage:Provider</c> (<c>FileSystem</c>, the default, or <c>AzureBlob</c>) and
    /// validated at start-up: the one place storage is set up, for the server and the CLI alike. A host runs its
    /// hosted services (the filesystem's janitor, or the creation of a missing blob container in the background); a
    /// process that is not a host calls <see cref="EnsureStorageReadyAsync"/> instead.
    /// </summary>
    public static IServiceCollection AddObjectStore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<StorageOptions>()
            .BindConfiguration(StorageOptions.SectionName)
            .Validate(o => o.Provider is "FileSystem" or "AzureBlob", "Storage:Provider must be FileSystem or AzureBlob.")
            .Validate(o => o.Provider != "FileSystem" || !string.IsNullOrWhiteSpace(o.FileSystem.Root), "Storage:FileSystem:Root must not be empty.")
            .ValidateOnStart();
        if (configuration[$"{StorageOptions.SectionName}:{nameof(StorageOptions.Provider)}"] == "AzureBlob")
        {
            services.AddAzureBlobObjectStore(configuration);
            services.AddHostedService<AzureContainerInitializer>();
            return services;
        }

        services.AddSingleton(sp => new FileSystemObjectStore(sp.GetRequiredService<IOptions<StorageOptions>>()));
        services.AddSingleton<IObjectStore>(sp => sp.GetRequiredService<FileSystemObjectStore>());
        services.AddHostedService<StorageJanitor>();
        return services;
    }

    /// <summary>
    /// For a process that is not a host (the CLI): validates the storage options now, so bad settings fail before any
    /// work, and creates the blob container if it is missing (nothing to do for the filesystem).
    /// </summary>
    public static async Task<IObjectStore> EnsureStorageReadyAsync(this IServiceProvider services, CancellationToken cancellationToken)
    {
        _ = services.GetRequiredService<IOptions<StorageOptions>>().Value;
        if (services.GetService<AzureBlobObjectStore>() is { } azure)
        {
            await azure.EnsureContainerAsync(cancellationToken);
        }

        return services.GetRequiredService<IObjectStore>();
    }
}

internal static class MirrorOptionsValidation
{
    public const string Rules =
        "Mirror: every Upstreams:N:IndexUrl must be an absolute http(s) URL, Timeout positive, MinBytesPerSecond not negative and TransferDeadline, if set, positive; MaxCrateBytes at least 1; upstream names (Name, else the " +
        "IndexUrl's host:port) must differ, so give upstreams on one host a Name; PublicUrl, if set, an absolute http(s) URL; " +
        "IndexTtl, NotFoundTtl, FailureBackoff and UpstreamCooldown not negative; MaxUpstreamConcurrency, UpstreamMaxAttempts and MaxCrateBytes at least 1.";

    public static bool IsValid(MirrorOptions o) =>
        o.Upstreams.All(u => IsHttpUrl(u.IndexUrl) && u.Timeout > TimeSpan.Zero && u.MinBytesPerSecond >= 0 && (u.TransferDeadline is null || u.TransferDeadline > TimeSpan.Zero)) &&
        o.MaxCrateBytes >= 1 &&
        o.Upstreams.Select(u => u.ResolveName()).Distinct(StringComparer.Ordinal).Count() == o.Upstreams.Count &&
        o.UpstreamCooldown >= TimeSpan.Zero &&
        (string.IsNullOrEmpty(o.PublicUrl) || IsHttpUrl(o.PublicUrl)) &&
        o.IndexTtl >= TimeSpan.Zero && o.NotFoundTtl >= TimeSpan.Zero && o.FailureBackoff >= TimeSpan.Zero &&
        o.MaxUpstreamConcurrency >= 1 && o.UpstreamMaxAttempts >= 1 && o.MaxCrateBytes >= 1;

    private static bool IsHttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";
}

/// <summary>Clears temp and lock files a crashed process left in the filesystem store. Never blocks start-up.</summary>
internal sealed class StorageJanitor(FileSystemObjectStore store) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        store.DeleteAbandonedTempFiles(TimeSpan.FromHours(1));
        store.DeleteAbandonedLockFiles();
        return Task.CompletedTask;
    }
}

/// <summary>
/// Creates the blob container if it is missing, retrying in the background until storage answers (a Polly retry:
/// exponential backoff with jitter from 1 s, at most 30 s apart, until the host stops). The node starts either way;
/// until storage is reachable <c>/health/ready</c> says 503 and requests fail with 503, never wrong data.
/// </summary>
internal sealed partial class AzureContainerInitializer(AzureBlobObjectStore store, ILogger<AzureContainerInitializer> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var untilStorageAnswers = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<StorageUnavailableException>().Handle<HttpRequestException>().Handle<IOException>(),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromSeconds(1),
                MaxDelay = TimeSpan.FromSeconds(30),
                OnRetry = args =>
                {
                    LogContainerUnavailable(logger, store.ContainerUri, args.Outcome.Exception?.Message ?? "no answer", args.RetryDelay.TotalSeconds);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
        return untilStorageAnswers.ExecuteAsync(async ct => await store.EnsureContainerAsync(ct), stoppingToken).AsTask();
    }
}
