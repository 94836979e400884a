using System.Diagnostics;

namespace OrleansCrates.Operations.Telemetry;

/// <summary>
/// The project's spans (the <c>OrleansCrates</c> <see cref="ActivitySource"/>): each request to an upstream
/// (<c>upstream index</c>, <c>upstream download</c>), each storage write (<c>storage write</c>, from the start of the
/// upload to its commit) and each single-flight run (<c>index refresh</c>, <c>crate file fetch</c> on the node and
/// <c>owner index refresh</c>, <c>owner crate file fetch</c> in the crate's owner), which links the requests that
/// joined it. Nothing is created when nobody listens (tracing is on only with an OTLP endpoint), so the warm path pays
/// one check per would-be span.
/// </summary>
public static class OrleansCratesTracing
{
    public const string SourceName = "OrleansCrates";

    public const string IndexRefresh = "index refresh";
    public const string CrateFileFetch = "crate file fetch";
    public const string OwnerIndexRefresh = "owner index refresh";
    public const string OwnerCrateFileFetch = "owner crate file fetch";
    public const string UpstreamIndex = "upstream index";
    public const string UpstreamDownload = "upstream download";
    public const string StorageWrite = "storage write";

    public static readonly ActivitySource Source = new(SourceName, typeof(OrleansCratesTracing).Assembly.GetName().Version?.ToString(3));

    /// <summary>One request to one upstream for a crate's index file or one version's file; null when untraced.</summary>
    public static Activity? StartUpstreamRequest(string upstream, string crate, string? version)
    {
        var activity = Source.StartActivity(version is null ? UpstreamIndex : UpstreamDownload, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("orleanscrates.upstream", upstream);
            activity.SetTag("orleanscrates.crate", crate);
            if (version is not null)
            {
                activity.SetTag("orleanscrates.version", version);
            }
        }

        return activity;
    }

    /// <summary>One write of <paramref name="key"/> to object storage; null when untraced.</summary>
    public static Activity? StartStorageWrite(string key)
    {
        var activity = Source.StartActivity(StorageWrite, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("orleanscrates.storage.key", key);
        }

        return activity;
    }

    /// <summary>Ends an upstream request's span with how it went.</summary>
    public static void End(Activity? activity, UpstreamResult result, string? error) =>
        End(activity, OrleansCratesMetrics.UpstreamResultNames[(int)result], error);

    /// <summary>Ends a span with its result (ok, not_found, conflict, cancelled, error, timeout); an error or timeout marks it failed.</summary>
    public static void End(Activity? activity, string result, string? error = null)
    {
        if (activity is null)
        {
            return;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag("orleanscrates.result", result);
            if (result is "error" or "timeout")
            {
                activity.SetStatus(ActivityStatusCode.Error, error);
            }
        }

        activity.Dispose();
    }
}
