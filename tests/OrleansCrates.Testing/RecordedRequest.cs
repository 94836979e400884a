namespace OrleansCrates.Testing;

/// <summary>
/// One request seen by a <see cref="FakeUpstream"/>. <paramref name="Path"/> is the decoded path (no query);
/// <paramref name="Status"/> is the status sent, or 0 when the connection was aborted before any response
/// (<see cref="FaultKind.Reset"/>, or the client went away during a <see cref="FaultKind.Slow"/> delay).
/// </summary>
public sealed record RecordedRequest(
    string Method,
    string Path,
    string? UserAgent,
    string? IfNoneMatch,
    string? IfModifiedSince,
    int Status);
