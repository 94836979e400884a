namespace OrleansCrates.Storage;

/// <summary>
/// An optional capability of an object store: short-lived, read-only URLs for stored objects that clients can fetch
/// from storage directly (the mirror's <c>Mirror:Downloads:Redirect</c> offload). Registered beside the
/// <see cref="IObjectStore"/> only by providers that can issue them (Azure Blob storage); the filesystem store cannot.
/// </summary>
public interface IReadUrlIssuer
{
    /// <summary>
    /// A URL that reads <paramref name="key"/> (GET and HEAD only) until about <paramref name="lifetime"/> from now, or
    /// null when none can be issued right now (the caller then serves the bytes itself). Never checks that the
    /// object exists: ask only for stored objects.
    /// </summary>
    ValueTask<Uri?> ReadUrlOrNullAsync(string key, TimeSpan lifetime, CancellationToken cancellationToken);
}
