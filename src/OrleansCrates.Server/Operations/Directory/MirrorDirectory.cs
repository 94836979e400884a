using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Operations.Directory;

/// <summary>The last health check of one mirror, as this node saw it.</summary>
public sealed record MirrorCheck(string State, DateTimeOffset CheckedAt, int? Status, double? LatencyMs, string? Error, string? Probe);

/// <summary>One entry of <c>/mirrors.json</c>.</summary>
public sealed record DirectoryEntry(string Name, string Url, string Source, DateTimeOffset? AnnouncedAt, MirrorCheck? Check);

/// <summary>A node's announcement, <c>directory/announcements/{hash of url}.json</c>, overwritten every check interval.</summary>
public sealed record MirrorAnnouncement(string Name, string Url, string Node, DateTimeOffset AnnouncedAt);

/// <summary>
/// The community mirror directory: the configured mirrors plus the announcements of every node sharing this store, each
/// with this node's last health check (kept in memory per node; every node checks on its own). Announcements are keyed
/// by the announced URL, so the nodes of one cluster behind one public URL are one entry.
/// </summary>
public sealed class MirrorDirectory : IDisposable
{
    public const string AnnouncementPrefix = "directory/announcements/";

    private static readonly TimeSpan ListCacheTtl = TimeSpan.FromSeconds(5);

    private readonly IObjectStore _store;
    private readonly TimeProvider _time;
    private readonly DirectoryOptions _options;
    private readonly HttpClient _http;
    private readonly ConcurrentDictionary<string, MirrorCheck> _checks = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _listing = new(1, 1);
    private (IReadOnlyList<MirrorAnnouncement> Items, DateTimeOffset At)? _announcements;

    /// <summary>The named client of the health checks (<see cref="MirrorDirectoryRegistration.AddMirrorDirectory"/>).</summary>
    public const string CheckClient = "mirror-directory";

    public MirrorDirectory(IObjectStore store, TimeProvider time, IOptions<DirectoryOptions> options, IHttpClientFactory clients)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(clients);
        _store = store;
        _time = time;
        _options = options.Value;
        _http = clients.CreateClient(CheckClient);
    }

    public DirectoryOptions Options => _options;

    /// <summary>Every known mirror, configured ones first, each with its last check (null before the first one).</summary>
    public async Task<IReadOnlyList<DirectoryEntry>> ListAsync(CancellationToken cancellationToken)
    {
        var entries = new List<DirectoryEntry>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var mirror in _options.Mirrors)
        {
            var url = Normalize(mirror.Url);
            if (seen.Add(url))
            {
                entries.Add(new DirectoryEntry(string.IsNullOrWhiteSpace(mirror.Name) ? HostOf(url) : mirror.Name, url, "configured", null, CheckOrNull(url)));
            }
        }

        var oldest = _time.GetUtcNow() - _options.AnnouncementMaxAge;
        foreach (var announcement in await AnnouncementsAsync(cancellationToken))
        {
            var url = Normalize(announcement.Url);
            if (announcement.AnnouncedAt >= oldest && seen.Add(url))
            {
                entries.Add(new DirectoryEntry(announcement.Name, url, "announced", announcement.AnnouncedAt, CheckOrNull(url)));
            }
        }

        return entries;
    }

    /// <summary>Writes (overwrites) this deployment's announcement, when <see cref="DirectoryOptions.AnnounceUrl"/> is set.</summary>
    public async Task AnnounceAsync(string node, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(_options.AnnounceUrl))
        {
            return;
        }

        var url = Normalize(_options.AnnounceUrl);
        var announcement = new MirrorAnnouncement(string.IsNullOrWhiteSpace(_options.AnnounceName) ? HostOf(url) : _options.AnnounceName, url, node, _time.GetUtcNow());
        await _store.PutAsync(AnnouncementKey(url), JsonSerializer.SerializeToUtf8Bytes(announcement, JsonSerializerOptions.Web), WriteCondition.None, cancellationToken);
        _announcements = null; // show it at once on this node
    }

    /// <summary>Checks every known mirror at once and keeps the results.</summary>
    public async Task CheckAllAsync(CancellationToken cancellationToken)
    {
        var entries = await ListAsync(cancellationToken);
        await Task.WhenAll(entries.Select(e => CheckAsync(e.Url, cancellationToken)));
    }

    /// <summary>
    /// <c>GET {url}/health/ready</c> (an OrleansCrates mirror); when that is not found, <c>GET {url}/index/config.json</c>
    /// (any sparse registry mirror). Up on a 2xx; latency is the answering request's.
    /// </summary>
    public async Task<MirrorCheck> CheckAsync(string url, CancellationToken cancellationToken)
    {
        MirrorCheck check;
        try
        {
            var (status, latency) = await ProbeAsync(url + "/health/ready", cancellationToken);
            var probe = "/health/ready";
            if (status == 404)
            {
                (status, latency) = await ProbeAsync(url + "/index/config.json", cancellationToken);
                probe = "/index/config.json";
            }

            check = new MirrorCheck(status is >= 200 and < 300 ? "up" : "down", _time.GetUtcNow(), status, Math.Round(latency.TotalMilliseconds, 1),
                status is >= 200 and < 300 ? null : $"HTTP {status}", probe);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            check = new MirrorCheck("down", _time.GetUtcNow(), null, null, e is TaskCanceledException ? $"no answer within {_options.CheckTimeout.TotalSeconds} s" : e.Message, null);
        }

        _checks[url] = check;
        return check;
    }

    public void Dispose()
    {
        _listing.Dispose();
    }

    public static string AnnouncementKey(string url) =>
        AnnouncementPrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Normalize(url))))[..16] + ".json";

    public static string Normalize(string url) => url.Trim().TrimEnd('/');

    private MirrorCheck? CheckOrNull(string url) => _checks.TryGetValue(url, out var check) ? check : null;

    private async Task<(int Status, TimeSpan Latency)> ProbeAsync(string url, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var response = await _http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        return ((int)response.StatusCode, Stopwatch.GetElapsedTime(started));
    }

    private async Task<IReadOnlyList<MirrorAnnouncement>> AnnouncementsAsync(CancellationToken cancellationToken)
    {
        if (_announcements is { } cached && _time.GetUtcNow() - cached.At < ListCacheTtl)
        {
            return cached.Items;
        }

        await _listing.WaitAsync(cancellationToken);
        try
        {
            if (_announcements is { } again && _time.GetUtcNow() - again.At < ListCacheTtl)
            {
                return again.Items;
            }

            var items = new List<MirrorAnnouncement>();
            await foreach (var properties in _store.ListAsync(AnnouncementPrefix, cancellationToken))
            {
                var stored = await _store.ReadSmallOrNullAsync(properties.Key, cancellationToken);
                if (stored is null)
                {
                    continue;
                }

                try
                {
                    if (JsonSerializer.Deserialize<MirrorAnnouncement>(stored.Value.Content, JsonSerializerOptions.Web) is { Url.Length: > 0, Name: not null } announcement)
                    {
                        items.Add(announcement);
                    }
                }
                catch (JsonException)
                {
                    // A torn or foreign object is skipped.
                }
            }

            items.Sort((a, b) => string.Compare(a.Name, b.Name, StringComparison.OrdinalIgnoreCase));
            _announcements = (items, _time.GetUtcNow());
            return items;
        }
        finally
        {
            _listing.Release();
        }
    }

    private static string HostOf(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Authority : url;
}

/// <summary>Every <see cref="DirectoryOptions.CheckInterval"/>: announce this deployment, then health-check every known mirror.</summary>
public sealed partial class MirrorDirectoryWorker(MirrorDirectory directory, OrleansCrates.Operations.Statistics.TrafficStatistics statistics, TimeProvider time, ILogger<MirrorDirectoryWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await directory.AnnounceAsync(statistics.Node, stoppingToken);
            }
            catch (Exception e) when (e is StorageUnavailableException or IOException or UnauthorizedAccessException)
            {
                LogAnnounceFailed(logger, e.Message);
            }

            try
            {
                await directory.CheckAllAsync(stoppingToken);
            }
            catch (Exception e) when (e is StorageUnavailableException or IOException or UnauthorizedAccessException)
            {
                LogCheckFailed(logger, e.Message);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(directory.Options.CheckInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

public static class MirrorDirectoryRegistration
{
    public static IServiceCollection AddMirrorDirectory(this IServiceCollection services)
    {
        services.AddOptions<DirectoryOptions>()
            .BindConfiguration(DirectoryOptions.SectionName)
            .Validate(DirectoryOptionsValidation.IsValid, DirectoryOptionsValidation.Rules)
            .ValidateOnStart();
        services.AddHttpClient(MirrorDirectory.CheckClient, (sp, client) =>
            {
                client.Timeout = sp.GetRequiredService<IOptions<DirectoryOptions>>().Value.CheckTimeout;
                client.DefaultRequestHeaders.UserAgent.ParseAdd($"OrleansCrates/{typeof(MirrorDirectory).Assembly.GetName().Version?.ToString(3)} (mirror directory health check)");
            })
            .ConfigurePrimaryHttpMessageHandler(sp => new SocketsHttpHandler
            {
                ConnectTimeout = sp.GetRequiredService<IOptions<DirectoryOptions>>().Value.CheckTimeout,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                AutomaticDecompression = System.Net.DecompressionMethods.None,
            })
            .RemoveAllLoggers(); // a check's outcome is kept and shown, not logged per request
        services.AddSingleton<MirrorDirectory>();
        services.AddHostedService<MirrorDirectoryWorker>();
        return services;
    }
}
