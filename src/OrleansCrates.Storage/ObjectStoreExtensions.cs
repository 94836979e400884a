namespace OrleansCrates.Storage;

public static class ObjectStoreExtensions
{
    /// <summary>Writes a whole stream under <paramref name="condition"/>.</summary>
    public static async Task<PutResult> PutAsync(this IObjectStore store, string key, Stream content, WriteCondition condition, CancellationToken cancellationToken)
    {
        await using var upload = await store.BeginUploadAsync(key, condition, cancellationToken);
        await content.CopyToAsync(upload.Content, 81920, cancellationToken);
        return await upload.CommitAsync(cancellationToken);
    }

    /// <summary>Writes a small in-memory object under <paramref name="condition"/>.</summary>
    public static async Task<PutResult> PutAsync(this IObjectStore store, string key, ReadOnlyMemory<byte> content, WriteCondition condition, CancellationToken cancellationToken)
    {
        await using var upload = await store.BeginUploadAsync(key, condition, cancellationToken);
        await upload.Content.WriteAsync(content, cancellationToken);
        return await upload.CommitAsync(cancellationToken);
    }

    /// <summary>Reads a small object whole; null when it does not exist. Not for crate files.</summary>
    public static async Task<(byte[] Content, string ETag)?> ReadSmallOrNullAsync(this IObjectStore store, string key, CancellationToken cancellationToken)
    {
        var stored = await store.OpenReadOrNullAsync(key, cancellationToken);
        if (stored is null)
        {
            return null;
        }

        await using (stored)
        {
            using var buffer = new MemoryStream(stored.Length is > 0 and < int.MaxValue ? (int)stored.Length : 0);
            await stored.Content.CopyToAsync(buffer, cancellationToken);
            return (buffer.ToArray(), stored.ETag);
        }
    }
}
