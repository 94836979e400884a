namespace OrleansCrates.Testing;

/// <summary>How a <see cref="FakeUpstream"/> serves its registry.</summary>
public sealed class FakeUpstreamOptions
{
    /// <summary>
    /// The <c>dl</c> template written to config.json. <c>{base}</c> becomes <c>http://127.0.0.1:PORT</c> (no trailing
    /// slash). Cargo's markers <c>{crate}</c>, <c>{version}</c>, <c>{prefix}</c>, <c>{lowerprefix}</c> and
    /// <c>{sha256-checksum}</c> are supported; with no marker, cargo appends <c>/{crate}/{version}/download</c>.
    /// </summary>
    public string DlTemplate { get; init; } = "{base}/crates/{crate}/{version}/download";

    /// <summary>Send a strong ETag on index files and answer a matching If-None-Match with 304.</summary>
    public bool SendETags { get; init; } = true;

    /// <summary>Send Last-Modified on index files and answer If-Modified-Since (for upstreams without ETags).</summary>
    public bool SendLastModified { get; init; }

    /// <summary>
    /// How long every answer waits before it starts (default none): an upstream across the internet, e.g. 20 ms for
    /// what a CDN costs, for benchmarks of the cold path. Faults apply after it.
    /// </summary>
    public TimeSpan ResponseDelay { get; init; }
}
