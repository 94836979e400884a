using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror;

/// <summary>Configuration section <c>Mirror</c>: the crates.io pull-through mirror.</summary>
public sealed class MirrorOptions
{
    public const string SectionName = "Mirror";

    /// <summary>The base URL clients reach this mirror at (e.g. <c>https://crates.example.com</c>); from each request when unset.</summary>
    public string? PublicUrl { get; set; }

    /// <summary>Whether reading the mirror (index and downloads) needs a token: cargo's auth-required flow.</summary>
    public bool ReadRequiresToken { get; set; }

    /// <summary>How long a fetched index file is served without asking upstream again.</summary>
    public TimeSpan IndexTtl { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long "this crate does not exist upstream" is remembered (cargo asks many '-'/'_' spellings).</summary>
    public TimeSpan NotFoundTtl { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>After a failed revalidation, how long the stale copy is served before upstream is asked again.</summary>
    public TimeSpan FailureBackoff { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Memory for hot index files on this node, in bytes.</summary>
    public long IndexMemoryCacheBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Memory for hot crate files on this node, in bytes (0 turns the layer off).</summary>
    public long HotFileCacheBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Crate files up to this size are kept in the hot layer; larger ones always stream from storage.</summary>
    public long HotFileMaxBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// When a client's request fetches an index file, fetch the index files cargo will ask for next (the non-optional
    /// normal and build dependencies of its newest version, and theirs in turn) in the background, so that they are in
    /// memory by the time cargo asks. Over plain HTTP cargo sends a cold resolve's requests one at a time, so each one
    /// waits a whole upstream round trip; this overlaps them. Costs upstream an index request for a dependency cargo
    /// ends up not needing (an older version chosen); never a crate file. Off when reads need a token.
    /// </summary>
    public bool PrefetchDependencyIndexes { get; set; }

    /// <summary>Ordered upstream registries; empty means crates.io.</summary>
    public List<UpstreamOptions> Upstreams { get; set; } = [];

    /// <summary>The upstreams to ask, in order: the configured ones, else crates.io.</summary>
    public IReadOnlyList<UpstreamOptions> ResolveUpstreams() => Upstreams.Count > 0 ? Upstreams : [new UpstreamOptions()];

    /// <summary>How this node treats every upstream, from these settings.</summary>
    public UpstreamPolicy ToUpstreamPolicy() => new()
    {
        Contact = UserAgentContact,
        MaxConcurrency = MaxUpstreamConcurrency,
        MaxAttempts = UpstreamMaxAttempts,
        MaxCrateBytes = MaxCrateBytes,
    };

    /// <summary>The operator's contact (URL or e-mail), sent in User-Agent so upstream operators can reach you.</summary>
    public string UserAgentContact { get; set; } = "";

    /// <summary>Requests in flight to one upstream at most.</summary>
    public int MaxUpstreamConcurrency { get; set; } = 32;

    /// <summary>
    /// Attempts per upstream request for network errors and 5xx, including the first. With several upstreams each one is
    /// asked once per request and the next one is asked instead of retrying.
    /// </summary>
    public int UpstreamMaxAttempts { get; set; } = 2;

    /// <summary>
    /// How long an upstream that failed (refused, reset, slower than its timeout, 5xx, 429) is skipped in favour of the
    /// next one: the break of its circuit breaker (<see cref="Upstream.UpstreamCircuit"/>; at least 0.5 s, longer for a
    /// longer Retry-After); afterwards the circuit half-opens and the next request probes it. Skipped upstreams are
    /// still asked when every other one failed.
    /// </summary>
    public TimeSpan UpstreamCooldown { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Keep serving versions upstream stops listing (their index lines and files) when this mirror holds their files,
    /// flagged in the stored index's metadata, instead of dropping them.
    /// </summary>
    public bool KeepDeleted { get; set; } = true;

    /// <summary>
    /// The largest crate file this mirror downloads (default 1 GiB); a longer upstream transfer is a bad file and nothing
    /// is stored. It also scales each upstream's default transfer deadline (<see cref="UpstreamOptions.TransferDeadline"/>)
    /// and sets how long a request may wait for a cold download in the cluster (<see cref="ColdFetchDeadline"/>).
    /// </summary>
    public long MaxCrateBytes { get; set; } = UpstreamPolicy.DefaultMaxCrateBytes;

    /// <summary>
    /// How long a request waits for the crate's owner (its grain) to get a cold file into storage before it answers
    /// 503 with Retry-After: <see cref="MaxCrateBytes"/> at 1 MiB/s, and never less than two minutes.
    /// </summary>
    public TimeSpan ColdFetchDeadline => TimeSpan.FromSeconds(Math.Max(120, MaxCrateBytes / (1024.0 * 1024)));

    /// <summary>Curation: allow and deny lists and approval mode (<c>Mirror:Policy</c>).</summary>
    public PolicyOptions Policy { get; set; } = new();

    /// <summary>How crate files are handed out (<c>Mirror:Downloads</c>).</summary>
    public DownloadOptions Downloads { get; set; } = new();
}

/// <summary>Configuration section <c>Mirror:Downloads</c>.</summary>
public sealed class DownloadOptions
{
    /// <summary>
    /// Answer a public crate download with a redirect (302) to a short-lived read-only URL of the stored file, so that
    /// storage sends the bytes (the way crates.io sends downloads to its CDN). Only where storage can issue such URLs
    /// (Azure Blob: a user-delegation SAS through the managed identity, a service SAS with a shared key) and never where
    /// reading needs a token (<see cref="MirrorOptions.ReadRequiresToken"/>). Downloads are still counted. Default off.
    /// </summary>
    public bool Redirect { get; set; }

    /// <summary>How long a redirect URL stays valid (default 5 minutes; cargo follows it at once).</summary>
    public TimeSpan RedirectLifetime { get; set; } = TimeSpan.FromMinutes(5);
}
