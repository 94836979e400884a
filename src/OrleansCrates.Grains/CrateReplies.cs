using OrleansCrates.Mirror;
using OrleansCrates.Mirror.Streaming;

namespace OrleansCrates.Grains;

/// <summary>The mirror's outcomes to and from the values the crate grain exchanges.</summary>
internal static class CrateReplies
{
    public static CrateIndexReply From(IndexRefresh refresh) => refresh.Entry switch
    {
        null => new CrateIndexReply(CrateIndexState.Unavailable, null, default, refresh.Error, refresh.RetryAfter),
        { Exists: false } entry => new CrateIndexReply(CrateIndexState.NotFound, null, entry.NextCheckAt, null, null),
        var entry => new CrateIndexReply(CrateIndexState.Found, entry.Stored!.Serialize(), entry.NextCheckAt, entry.UpstreamError, null),
    };

    public static IndexRefresh ToRefresh(CrateIndexReply reply)
    {
        switch (reply.State)
        {
            case CrateIndexState.NotFound:
                return new IndexRefresh(IndexEntry.NotFound(reply.NextCheckAt), null, null);
            case CrateIndexState.Found when reply.StoredIndex is not null && StoredIndex.TryDeserialize(reply.StoredIndex) is { } stored:
                var entry = IndexEntry.Found(stored, reply.NextCheckAt);
                return new IndexRefresh(reply.Error is null ? entry : entry.WithFailedRevalidation(reply.NextCheckAt, reply.Error), null, null);
            case CrateIndexState.Found:
                return new IndexRefresh(null, "the crate's owner sent an index document this node cannot read", TimeSpan.FromSeconds(5));
            default:
                return new IndexRefresh(null, reply.Error, reply.RetryAfter);
        }
    }

    public static CrateFileReply From(FetchOutcome outcome) => new(
        outcome.Status switch
        {
            CrateFileStatus.Found => CrateFileState.Found,
            CrateFileStatus.NotFound => CrateFileState.NotFound,
            CrateFileStatus.BadUpstreamFile => CrateFileState.BadUpstreamFile,
            CrateFileStatus.IndexUnavailable => CrateFileState.IndexUnavailable,
            CrateFileStatus.OwnerUnavailable => CrateFileState.OwnerUnavailable,
            CrateFileStatus.StorageUnavailable => CrateFileState.StorageUnavailable,
            _ => CrateFileState.UpstreamUnavailable,
        },
        outcome.Error,
        outcome.RetryAfter,
        outcome.FromUpstream);

    public static FetchOutcome ToOutcome(CrateFileReply reply) => new(
        reply.State switch
        {
            CrateFileState.Found => CrateFileStatus.Found,
            CrateFileState.NotFound => CrateFileStatus.NotFound,
            CrateFileState.BadUpstreamFile => CrateFileStatus.BadUpstreamFile,
            CrateFileState.IndexUnavailable => CrateFileStatus.IndexUnavailable,
            CrateFileState.OwnerUnavailable => CrateFileStatus.OwnerUnavailable,
            CrateFileState.StorageUnavailable => CrateFileStatus.StorageUnavailable,
            _ => CrateFileStatus.UpstreamUnavailable,
        },
        reply.Error,
        reply.RetryAfter)
    {
        FromUpstream = reply.FromUpstream,
    };

    /// <summary>A download's location as the grain message carries it (the node's URL as text).</summary>
    public static DownloadLocation? From(SpoolLocation? location) =>
        location is null ? null : new DownloadLocation(location.SpoolId, location.Node?.ToString(), location.Length, location.Sha256);

    public static SpoolLocation? ToLocation(DownloadLocation? location) =>
        location is null
            ? null
            : new SpoolLocation(
                location.SpoolId,
                location.Node is { } node && Uri.TryCreate(node, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? uri : null,
                location.Length,
                location.Sha256);
}
