namespace OrleansCrates.Toolchains;

/// <summary>The <c>Toolchains</c> section: the rustup dist servers this mirror passes through, and how.</summary>
public sealed class ToolchainOptions
{
    public const string SectionName = "Toolchains";

    public const string RustLangDistServer = "https://static.rust-lang.org";

    /// <summary>The largest <c>.sha256</c> or <c>.asc</c> accepted from upstream (real ones are under 1 KiB).</summary>
    public const int MaxSidecarBytes = 64 * 1024;

    /// <summary>Dist servers in order of preference, failing over like the crate upstreams. Empty: static.rust-lang.org.</summary>
    public List<ToolchainUpstreamOptions> Upstreams { get; set; } = [];

    /// <summary>How long a top-level manifest (<c>channel-rust-stable.toml</c>, <c>-1.95.toml</c>, …), <c>release-stable.toml</c> or <c>rustup-init</c> is served before it is revalidated upstream.</summary>
    public TimeSpan ManifestTtl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>After a revalidation of a moving file failed, how long the held copy is served (stale) before upstream is asked again.</summary>
    public TimeSpan FailureBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the request that starts a revalidation waits for it before it is answered with the held copy (stale,
    /// with its age); the revalidation goes on. Requests arriving while one runs are answered with the held copy at once.
    /// </summary>
    public TimeSpan RevalidationWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// After this node answered a client's <c>channel-rust-X.toml.sha256</c>, for this long the same client's
    /// <c>channel-rust-X.toml</c> (and <c>.asc</c>) is the same generation, even if the channel moved in between.
    /// </summary>
    public TimeSpan PairGraceWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Memory for this node's toolchain caches (stored manifest records and the archive hashes read from them), in bytes.</summary>
    public long MemoryCacheBytes { get; set; } = 128L * 1024 * 1024;

    /// <summary>Ask for HTTP Basic credentials (a token, as for cargo) on <c>/rustup</c>; rustup sends them from <c>RUSTUP_DIST_SERVER</c>'s URL.</summary>
    public bool ReadRequiresToken { get; set; }

    /// <summary>
    /// Toolchains this mirror serves, as patterns of letters, digits, <c>._+-</c> and <c>*</c> (any run of characters,
    /// as often as wanted). Empty: all. A top-level manifest <c>dist/channel-rust-C.toml</c> is allowed when a pattern
    /// matches <c>C</c> (<c>stable</c>, <c>1.95.0</c>); a dated one <c>dist/D/channel-rust-C.toml</c> when a pattern
    /// matches <c>C-D</c> (<c>nightly-2026-11-20</c>, <c>stable-2026-11-20</c>), or when it is this mirror's own copy of
    /// a top-level <c>C</c> it served and a pattern matches <c>C</c>. An archive (and its <c>.sha256</c>/<c>.asc</c>) is
    /// allowed when an allowed manifest the mirror holds lists it; checked again when it is served.
    /// </summary>
    public List<string> AllowedChannels { get; set; } = [];

    /// <summary>The largest archive accepted (rustc-dev and rust-docs are a few hundred MB).</summary>
    public long MaxArchiveBytes { get; set; } = 4L * 1024 * 1024 * 1024;

    /// <summary>
    /// How long a request waits for a toolchain file's owner (its grain) to get a cold file into storage before it
    /// answers 503 with Retry-After: <see cref="MaxArchiveBytes"/> at 1 MiB/s, never less than two minutes and never
    /// more than a day (the grain call's own timeout); the crates' <c>Mirror:MaxCrateBytes</c> bounds only crate downloads.
    /// </summary>
    public TimeSpan ColdFetchDeadline => TimeSpan.FromSeconds(Math.Clamp(MaxArchiveBytes / (1024.0 * 1024), 120, TimeSpan.FromDays(1).TotalSeconds));

    /// <summary>The largest manifest or metadata file accepted; checked before a manifest is parsed.</summary>
    public long MaxManifestBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>Whether <see cref="AllowedChannels"/> restricts anything.</summary>
    public bool HasPolicy => AllowedChannels.Count > 0;

    /// <summary>The largest stored record: a manifest with its <c>.sha256</c>, <c>.asc</c> and header.</summary>
    public long MaxRecordBytes => MaxManifestBytes + (2L * MaxSidecarBytes) + 4096;

    public IReadOnlyList<ToolchainUpstreamOptions> ResolveUpstreams() =>
        Upstreams.Count > 0 ? Upstreams : [new ToolchainUpstreamOptions()];

    /// <summary>
    /// Whether the manifest of <paramref name="channel"/> may be served: the top-level one (<paramref name="date"/>
    /// null) when a pattern matches the channel, a dated one when a pattern matches <c>CHANNEL-DATE</c>.
    /// </summary>
    public bool Allows(string channel, string? date)
    {
        if (AllowedChannels.Count == 0)
        {
            return true;
        }

        var name = date is null ? channel : $"{channel}-{date}";
        return AllowedChannels.Any(p => Glob(p.Trim(), name));
    }

    /// <summary>The patterns that are not valid, each with why (checked at start-up).</summary>
    public IEnumerable<string> PatternProblems()
    {
        for (var i = 0; i < AllowedChannels.Count; i++)
        {
            var pattern = AllowedChannels[i]?.Trim() ?? "";
            if (pattern.Length == 0)
            {
                yield return $"Toolchains:AllowedChannels:{i} is empty";
            }
            else if (pattern.Length > 200 || !pattern.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '+' or '-' or '*'))
            {
                yield return $"Toolchains:AllowedChannels:{i} '{pattern}' may hold only letters, digits, '.', '_', '+', '-' and '*' (at most 200)";
            }
        }
    }

    /// <summary><c>*</c> matches any run of characters (also none); everything else matches itself, case-sensitively.</summary>
    internal static bool Glob(string pattern, string value)
    {
        int p = 0, v = 0, star = -1, resume = 0;
        while (v < value.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = v;
            }
            else if (p < pattern.Length && pattern[p] == value[v])
            {
                p++;
                v++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                v = ++resume;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}

/// <summary>One dist server, an element of <c>Toolchains:Upstreams</c>.</summary>
public sealed class ToolchainUpstreamOptions
{
    /// <summary>The dist server's root (the one rustup's <c>RUSTUP_DIST_SERVER</c> would name): <c>dist/</c> and <c>rustup/</c> are under it.</summary>
    public string Url { get; set; } = ToolchainOptions.RustLangDistServer;

    public string? Name { get; set; }

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    public long MinBytesPerSecond { get; set; } = 64 * 1024;
}
