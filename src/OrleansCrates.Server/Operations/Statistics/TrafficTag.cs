using OrleansCrates.Operations;
using OrleansCrates.Mirror;

namespace OrleansCrates.Server.Operations.Statistics;

/// <summary>
/// What a handler knows and the statistics middleware does not: whether the answer came from the cache, and why a
/// request failed. Handlers set it with one line; <see cref="TrafficRecordingMiddleware"/> reads it.
/// </summary>
public static class TrafficTag
{
    private const string Item = "OrleansCrates.TrafficTag";

    // The common case (an outcome without an error) takes one of these, not a new tag per request.
    private static readonly Tag[] Plain = [.. Enum.GetValues<CacheOutcome>().Select(o => new Tag(o, null))];

    /// <summary>Marks the request's cache outcome (counted only if the answer is 200 or 304) and error detail (shown when it fails).</summary>
    public static void Set(HttpContext context, CacheOutcome outcome, string? error)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Items[Item] = error is null && (int)outcome < Plain.Length ? Plain[(int)outcome] : new Tag(outcome, error);
    }

    internal static Tag? Get(HttpContext context) => context.Items.TryGetValue(Item, out var value) ? value as Tag : null;

    internal sealed record Tag(CacheOutcome Outcome, string? Error);
}
