namespace OrleansCrates.Upstream;

/// <summary>One upstream sparse registry, an element of <c>Mirror:Upstreams</c>.</summary>
public sealed class UpstreamOptions
{
    public const string CratesIoIndexUrl = "https://index.crates.io/";

    /// <summary>The sparse index root, ending in '/'; config.json there names the download host.</summary>
    public string IndexUrl { get; set; } = CratesIoIndexUrl;

    /// <summary>A short name for logs and health output; defaults to the index host.</summary>
    public string? Name { get; set; }

    /// <summary>
    /// Connect and response-header timeout, the longest a download may go without receiving a byte (and the grace
    /// before <see cref="MinBytesPerSecond"/> applies), and the time a whole index file may take.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The slowest average rate a download may arrive at, in bytes per second, after a grace of <see cref="Timeout"/>
    /// from its response headers; slower transfers fail over to the next upstream. 0 turns the
    /// rate rule off (the <see cref="TransferDeadline"/> still holds).
    /// </summary>
    public long MinBytesPerSecond { get; set; } = 64 * 1024;

    /// <summary>
    /// The longest one download may take from its response headers to its last byte, whatever its rate. Default:
    /// <see cref="Timeout"/> plus the time a <c>Mirror:MaxCrateBytes</c> file takes at <see cref="MinBytesPerSecond"/>
    /// (30 s + 1 GiB at 64 KiB/s ≈ 4.6 h); a smaller file at the minimum rate is cut off far sooner by the rate rule.
    /// </summary>
    public TimeSpan? TransferDeadline { get; set; }

    /// <summary>
    /// The name this upstream goes by in logs, health output and stored index files (which upstream issued a stored
    /// ETag): <see cref="Name"/>, else the host (and port) of <see cref="IndexUrl"/>.
    /// </summary>
    public string ResolveName() =>
        !string.IsNullOrWhiteSpace(Name) ? Name.Trim()
        : Uri.TryCreate(IndexUrl, UriKind.Absolute, out var url) ? url.Authority
        : IndexUrl;

    /// <summary>The limits every body from this upstream is read under, for files of up to <paramref name="maxBytes"/>.</summary>
    public TransferLimits ResolveTransferLimits(long maxBytes)
    {
        var rate = Math.Max(0, MinBytesPerSecond);
        var deadline = TransferDeadline
            ?? (rate > 0 ? Timeout + TimeSpan.FromSeconds((double)Math.Max(0, maxBytes) / rate) : TimeSpan.FromHours(1));
        return new TransferLimits(Timeout, Timeout, rate, deadline);
    }
}

/// <summary>How this node behaves towards every upstream (part of the <c>Mirror</c> section).</summary>
public sealed class UpstreamPolicy
{
    /// <summary>Who runs this mirror: a URL or e-mail that upstream operators can reach. Goes into User-Agent.</summary>
    public string Contact { get; set; } = "";

    /// <summary>Requests in flight to one upstream at most, downloads included.</summary>
    public int MaxConcurrency { get; set; } = 32;

    /// <summary>
    /// Attempts per request for network errors and 5xx, including the first. Applies when a caller does not pass an
    /// <see cref="AttemptBudget"/> of its own (with several upstreams, the next upstream is asked instead).
    /// </summary>
    public int MaxAttempts { get; set; } = 2;

    /// <summary>
    /// Kept for compatibility and no longer used: a <c>Retry-After</c> holds the upstream back and is never waited out
    /// by a request (the request fails over, or passes the wait on to cargo).
    /// </summary>
    public TimeSpan MaxRetryAfterWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an upstream's config.json (its download URL template) is reused before it is fetched again.</summary>
    public TimeSpan ConfigRefreshInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The largest crate file expected from an upstream (<c>Mirror:MaxCrateBytes</c>); scales the default transfer deadline.</summary>
    public long MaxCrateBytes { get; set; } = DefaultMaxCrateBytes;

    public const long DefaultMaxCrateBytes = 1024L * 1024 * 1024;
}

/// <summary>
/// How hard one request tries a single upstream before reporting failure: up to <see cref="MaxAttempts"/> tries for
/// network errors and 5xx other than 503 (a timeout, a 429 and a 503 are never retried: the latter two hold the
/// upstream back for their <c>Retry-After</c>). <see cref="WaitOutRetryAfter"/> is kept for compatibility and no longer
/// used: no request waits out a hold-back. With several upstreams the caller passes <see cref="Once"/>, so a failing
/// upstream costs one attempt and the next one is asked.
/// </summary>
public readonly record struct AttemptBudget(int MaxAttempts, bool WaitOutRetryAfter)
{
    /// <summary>One attempt, and an upstream holding us back (Retry-After) fails at once instead of being waited for.</summary>
    public static AttemptBudget Once { get; } = new(1, false);
}
