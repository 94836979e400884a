using System.Net;
using OrleansCrates.Operations.Statistics;
using OrleansCrates.Server.Auth;
using OrleansCrates.Server.Http;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Operations.Statistics;

/// <summary>
/// Counts every registry request (index files, config.json, downloads; mirror and private) in
/// <see cref="TrafficStatistics"/> after it is answered — route, crate, version, status, bytes, cache outcome and
/// client (token, else address) — and keeps every 5xx answer in <see cref="RecentErrors"/>. Memory only: the counters
/// reach storage through the flusher.
/// </summary>
public sealed class TrafficRecordingMiddleware(RequestDelegate next, TrafficStatistics statistics, RecentErrors errors, CrateAccess access, TimeProvider time, Microsoft.Extensions.Options.IOptions<StatisticsOptions> options)
{
    /// <summary>Client strings by address (equal addresses share one), so counting a request allocates nothing; bounded.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<IPAddress, string> AddressClients = new();

    private const int MaxAddressClients = 10_000;

    /// <summary>Client strings of tokens, one per cached token answer (weak on it), not one per request.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Accounts.TokenInfo, string> TokenClients = new();

    private readonly bool _recording = options.Value.Enabled;

    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            var status = ErrorHandling.Classify(e).Status;
            if (status >= 500)
            {
                errors.Add(context, status, e, upstream: false, time.GetUtcNow());
            }

            throw;
        }

        var response = context.Response;
        var tag = TrafficTag.Get(context);
        if (response.StatusCode >= 500)
        {
            errors.Add(context, response.StatusCode, exception: null, upstream: tag is not null, time.GetUtcNow());
        }

        if (!_recording || Classify(context) is not { } route)
        {
            return;
        }

        // A download redirected to storage (Mirror:Downloads:Redirect) is answered too: storage sends the bytes.
        var answered = response.StatusCode is StatusCodes.Status200OK or StatusCodes.Status304NotModified or StatusCodes.Status302Found;
        statistics.Record(new TrafficEvent(
            time.GetUtcNow(),
            route.Kind,
            route.Registry,
            route.Crate,
            route.Version,
            response.StatusCode,
            response.StatusCode == StatusCodes.Status200OK ? response.ContentLength ?? 0 : 0,
            answered ? tag?.Outcome : null,
            await ClientOfAsync(context)));
    }

    private readonly record struct Route(TrafficKind Kind, string Registry, string? Crate, string? Version);

    /// <summary>The registry route a GET took, or null for everything else (HEAD, health, dashboard, publish, admin).</summary>
    private static Route? Classify(HttpContext context)
    {
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            // HEAD moves no file: it is not a download, and its Content-Length is no bytes served.
            return null;
        }

        var path = context.Request.Path.Value ?? "";
        if (path.StartsWith("/rustup/", StringComparison.Ordinal))
        {
            // Toolchains count in their own registry: manifests and metadata as index traffic, archives as downloads
            // (on the dashboard's top list as registry "toolchains", the archive's name and its release date).
            var metadata = path.EndsWith(".toml", StringComparison.Ordinal) || path.EndsWith(".sha256", StringComparison.Ordinal) || path.EndsWith(".asc", StringComparison.Ordinal);
            var segments = path.Split('/');
            return metadata
                ? new Route(TrafficKind.Index, "toolchains", null, null)
                : new Route(TrafficKind.Download, "toolchains", segments[^1], segments.Length > 2 ? segments[^2] : "-");
        }

        var registry = "mirror";
        if (path.StartsWith("/private/", StringComparison.Ordinal))
        {
            registry = "private";
            path = path["/private".Length..];
        }

        if (path.StartsWith("/index/", StringComparison.Ordinal))
        {
            return new Route(TrafficKind.Index, registry, null, null);
        }

        if (path.StartsWith("/crates/", StringComparison.Ordinal) && path.EndsWith("/download", StringComparison.Ordinal))
        {
            var values = context.Request.RouteValues;
            var name = values["name"] as string;
            var version = values["version"] as string;
            return new Route(TrafficKind.Download, registry, name?.ToLowerInvariant(), version);
        }

        return null;
    }

    /// <summary><c>token:{id}</c> for a valid token, else <c>ip:{address}</c>; hashed with the deployment's salt before it is written.</summary>
    private async ValueTask<string?> ClientOfAsync(HttpContext context)
    {
        if (context.Request.Headers.Authorization.Count > 0)
        {
            try
            {
                if (Accounts.Auth.TokenIdentity.TokenOf(await access.CallerAsync(context)) is { } caller)
                {
                    return TokenClients.GetValue(caller, static t => "token:" + t.Id);
                }
            }
            catch (Exception e) when (e is StorageUnavailableException or IOException or OperationCanceledException)
            {
                // Counted by address instead.
            }
        }

        var address = context.Connection.RemoteIpAddress;
        return address is null ? null : AddressClients.TryGetValue(address, out var known) ? known : NewClient(address);
    }

    private static string NewClient(IPAddress address)
    {
        if (AddressClients.Count >= MaxAddressClients)
        {
            AddressClients.Clear(); // only ever saves allocations: start over rather than grow with every address seen
        }

        return AddressClients.GetOrAdd(address, static a => "ip:" + (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).ToString());
    }
}

public static class TrafficRecordingExtensions
{
    /// <summary>Counts registry traffic and keeps recent errors; place it after the error handler, so it sees handlers' exceptions.</summary>
    public static IApplicationBuilder UseTrafficStatistics(this IApplicationBuilder app) => app.UseMiddleware<TrafficRecordingMiddleware>();
}

/// <summary>For the dashboard: the number of pending approvals, read from the policy's store at most every few seconds per node.</summary>
public sealed class PendingApprovalsCounter(OrleansCrates.Mirror.Policy.ApprovalStore store, Microsoft.Extensions.Options.IOptions<OrleansCrates.Mirror.MirrorOptions> options, TimeProvider time)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (int Count, DateTimeOffset At)? _cached;

    public bool ApprovalMode => options.Value.Policy.RequireApproval;

    /// <summary>Crates with versions waiting for a decision, or null when approval mode is off.</summary>
    public async Task<int?> CountOrNullAsync(CancellationToken cancellationToken)
    {
        if (!ApprovalMode)
        {
            return null;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_cached is { } c && time.GetUtcNow() - c.At < Ttl)
            {
                return c.Count;
            }

            var decisions = await store.GetCurrentAsync(cancellationToken);
            var pending = await store.ListPendingAsync(decisions, cancellationToken);
            _cached = (pending.Count, time.GetUtcNow());
            return pending.Count;
        }
        finally
        {
            _gate.Release();
        }
    }
}
