namespace OrleansCrates.Toolchains;

/// <summary>The <c>Toolchains</c> section: the rustup dist servers this mirror passes through, and how.</summary>
public sealed class ToolchainOptions
{
    public const string SectionName = "Toolchains";

    public const string RustLangDistServer = "https://static.rust-lang.org";

    /// <summary>Dist servers in order of preference, failing over like the crate upstreams. Empty: static.rust-lang.org.</summary>
    public List<ToolchainUpstreamOptions> Upstreams { get; set; } = [];

    /// <summary>How long a top-level manifest (<c>channel-rust-stable.toml</c>, <c>-1.95.toml</c>, …), <c>release-stable.toml</c> or <c>rustup-init</c> is served before it is revalidated upstream.</summary>
    public TimeSpan ManifestTtl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Ask for HTTP Basic credentials (a token, as for cargo) on <c>/rustup</c>; rustup sends them from <c>RUSTUP_DIST_SERVER</c>'s URL.</summary>
    public bool ReadRequiresToken { get; set; }

    /// <summary>
    /// Toolchains this mirror serves, as patterns with <c>*</c> (e.g. <c>stable</c>, <c>1.95.0</c>, <c>nightly-2026-11-*</c>);
    /// a pattern matches a channel (<c>stable</c>) or a dated one (<c>stable-2026-11-20</c>). Empty: all. Archives are
    /// reachable only through a manifest this mirror holds, so the rule on manifests covers them.
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

    public IReadOnlyList<ToolchainUpstreamOptions> ResolveUpstreams() =>
        Upstreams.Count > 0 ? Upstreams : [new ToolchainUpstreamOptions()];

    /// <summary>Whether <paramref name="channel"/> (and its <paramref name="date"/>, if dated) may be served.</summary>
    public bool Allows(string channel, string? date)
    {
        if (AllowedChannels.Count == 0)
        {
            return true;
        }

        var dated = date is null ? null : $"{channel}-{date}";
        return AllowedChannels.Any(p => Matches(p.Trim(), channel) || (dated is not null && Matches(p.Trim(), dated)));
    }

    private static bool Matches(string pattern, string value)
    {
        var star = pattern.IndexOf('*', StringComparison.Ordinal);
        return star < 0
            ? string.Equals(pattern, value, StringComparison.Ordinal)
            : value.Length >= pattern.Length - 1 &&
              value.StartsWith(pattern[..star], StringComparison.Ordinal) &&
              value.EndsWith(pattern[(star + 1)..], StringComparison.Ordinal) &&
              !pattern[(star + 1)..].Contains('*', StringComparison.Ordinal);
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
