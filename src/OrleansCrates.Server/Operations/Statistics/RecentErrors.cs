namespace OrleansCrates.Server.Operations.Statistics;

/// <summary>
/// One failed answer: a 5xx, upstream failures (502/503) included. Shown on the anonymous <c>/api/v1/stats</c>, so it
/// holds only a status and a short fixed cause (<see cref="RecentErrors.CauseOf"/>) — never exception text, storage
/// keys or upstream addresses (those are in the logs, under the request's id). <paramref name="Path"/> is the request
/// path, or for the private registry the route template (its crate names stay private), at most
/// <see cref="RecentErrors.MaxPathLength"/> characters.
/// </summary>
public sealed record RecentError(DateTimeOffset At, string Method, string Path, int Status, string Detail);

/// <summary>The last <see cref="Capacity"/> failed answers of this node, newest first, in memory only.</summary>
public sealed class RecentErrors
{
    public const int Capacity = 50;
    public const int MaxPathLength = 200;

    private readonly Lock _gate = new();
    private readonly LinkedList<RecentError> _errors = new();

    /// <summary>A short cause for the public page: what kind of failure, from the status and, when one was thrown, the exception's kind.</summary>
    public static string CauseOf(int status, Exception? exception, bool upstream) => exception switch
    {
        Storage.StorageUnavailableException or IOException => "storage unavailable",
        not null => "internal error",
        _ => status switch
        {
            StatusCodes.Status502BadGateway => "upstream failed",
            StatusCodes.Status503ServiceUnavailable => upstream ? "upstream unavailable" : "service unavailable",
            StatusCodes.Status504GatewayTimeout => "upstream timed out",
            StatusCodes.Status500InternalServerError => "internal error",
            _ => "server error",
        },
    };

    /// <summary>What the public page may show of a request's path: the route template under <c>/private</c>, else the path, cut short.</summary>
    public static string PathOf(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        if (path.StartsWith("/private", StringComparison.OrdinalIgnoreCase))
        {
            path = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "/private/…";
        }

        return path.Length <= MaxPathLength ? path : path[..MaxPathLength] + "…";
    }

    public void Add(HttpContext context, int status, Exception? exception, bool upstream, DateTimeOffset at) =>
        Add(new RecentError(at, context.Request.Method, PathOf(context), status, CauseOf(status, exception, upstream)));

    public void Add(RecentError error)
    {
        lock (_gate)
        {
            _errors.AddFirst(error);
            if (_errors.Count > Capacity)
            {
                _errors.RemoveLast();
            }
        }
    }

    public IReadOnlyList<RecentError> Snapshot()
    {
        lock (_gate)
        {
            return [.. _errors];
        }
    }
}
