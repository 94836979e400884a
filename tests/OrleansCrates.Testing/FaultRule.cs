namespace OrleansCrates.Testing;

/// <summary>What a <see cref="FaultRule"/> does to a matching request.</summary>
public enum FaultKind
{
    /// <summary>500 Internal Server Error.</summary>
    Status500,

    /// <summary>503 Service Unavailable with Retry-After.</summary>
    Status503,

    /// <summary>429 Too Many Requests with Retry-After.</summary>
    Status429,

    /// <summary>404 Not Found, even for a file that exists.</summary>
    Status404,

    /// <summary>Wait <see cref="FaultRule.Delay"/> before sending the normal response.</summary>
    Slow,

    /// <summary>
    /// Send the full Content-Length but only half of the body, then abort the connection. A response without a
    /// body (304, empty file) is aborted before its headers instead.
    /// </summary>
    Truncated,

    /// <summary>Send the normal status and length with different bytes (every byte inverted).</summary>
    WrongBytes,

    /// <summary>Abort the connection before any response.</summary>
    Reset,

    /// <summary>200 text/html with an error page instead of the content.</summary>
    HtmlErrorPage,

    /// <summary>200 with a zero-length body.</summary>
    EmptyBody,

    /// <summary>
    /// Send the headers and half of the body, then wait until <see cref="FaultRule.Release"/> or the request is
    /// aborted. A response without a body (304, empty file) waits before its headers instead.
    /// </summary>
    Stall,

    /// <summary>
    /// As <see cref="Stall"/>, but the second half, sent after the release, has every byte inverted: the length is
    /// right and the first half is too, so only the sha256 at the end tells the file is wrong.
    /// </summary>
    StallThenWrongBytes,

    /// <summary>
    /// Send the normal status and headers (Content-Length included), then the body one byte every
    /// <see cref="FaultRule.Delay"/>: a slow drip that never goes quiet long enough for an idle timeout.
    /// </summary>
    Drip,

    /// <summary>Send <see cref="FaultRule.Answer"/> exactly (status, headers, body), whatever was asked.</summary>
    Canned,
}

/// <summary>
/// A whole upstream answer for <see cref="FaultKind.Canned"/>. In header values, <c>{base}</c> becomes the fake
/// upstream's own <c>http://127.0.0.1:PORT</c>, so a redirect can point back at the same origin.
/// </summary>
public sealed record CannedAnswer(int Status, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Body);

/// <summary>
/// A fault injected by <see cref="FakeUpstream.AddFault"/>: it matches requests whose decoded path contains
/// <see cref="PathContains"/> and applies <see cref="Times"/> times, then stops matching.
/// </summary>
public sealed class FaultRule
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _hits;

    /// <summary>A substring of the request path (decoded, starting with '/'), compared ordinally.</summary>
    public required string PathContains { get; init; }

    public required FaultKind Kind { get; init; }

    /// <summary>How many requests this rule applies to (default: all).</summary>
    public int Times { get; init; } = int.MaxValue;

    /// <summary>For <see cref="FaultKind.Canned"/>: the answer to send.</summary>
    public CannedAnswer? Answer { get; init; }

    /// <summary>For <see cref="FaultKind.Slow"/>: how long to wait before the response headers; for <see cref="FaultKind.Drip"/>, between bytes.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>For <see cref="FaultKind.Status429"/> and <see cref="FaultKind.Status503"/>: the Retry-After value.</summary>
    public int RetryAfterSeconds { get; init; } = 1;

    /// <summary>How many requests this rule has been applied to.</summary>
    public int Hits => Volatile.Read(ref _hits);

    /// <summary>Completes when a request has reached the stall point (for <see cref="FaultKind.Stall"/> and <see cref="FaultKind.StallThenWrongBytes"/>).</summary>
    public Task Stalled => _stalled.Task;

    internal Task ReleasedTask => _released.Task;

    /// <summary>Lets stalled responses (current and later ones) finish normally.</summary>
    public void Release() => _released.TrySetResult();

    internal void MarkStalled() => _stalled.TrySetResult();

    /// <summary>Claims one application of this rule; false once <see cref="Times"/> is used up.</summary>
    internal bool TryClaim(string path)
    {
        if (!path.Contains(PathContains, StringComparison.Ordinal))
        {
            return false;
        }

        while (true)
        {
            var hits = Volatile.Read(ref _hits);
            if (hits >= Times)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _hits, hits + 1, hits) == hits)
            {
                return true;
            }
        }
    }

    public override string ToString() => $"{Kind} on '*{PathContains}*' ({Hits}/{(Times == int.MaxValue ? "all" : Times)})";
}
