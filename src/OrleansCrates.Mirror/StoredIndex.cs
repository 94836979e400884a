using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCrates.Mirror;

/// <summary>
/// An upstream index file as kept in storage, shared by every node: one JSON header line with what is needed to
/// revalidate it (upstream ETag, Last-Modified, when it was fetched) and the body's sha256, then the upstream body,
/// byte for byte. Index documents are cache data written without waiting for the disk
/// (<see cref="Storage.WriteDurability.Cache"/>): a document that a crash left short or torn fails its sha256 and is
/// read as absent, so it is fetched again and replaced, never served. Documents written before the sha256 was kept are
/// read as they are.
/// </summary>
public sealed record StoredIndex(byte[] Body, string? UpstreamETag, string? UpstreamLastModified, DateTimeOffset FetchedAt)
{
    /// <summary>Which upstream the validators (<see cref="UpstreamETag"/>, <see cref="UpstreamLastModified"/>) belong to; null for the primary.</summary>
    public string? Upstream { get; init; }

    /// <summary>
    /// Versions whose lines upstream stopped listing but this mirror keeps serving because it holds their files
    /// (<c>Mirror:KeepDeleted</c>); their lines are still in <see cref="Body"/>, verbatim.
    /// </summary>
    public IReadOnlyList<string> DeletedUpstream { get; init; } = [];

    private const int FormatVersion = 1;

    public byte[] Serialize()
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(
            new Header(FormatVersion, UpstreamETag, UpstreamLastModified, FetchedAt, Upstream, DeletedUpstream.Count == 0 ? null : [.. DeletedUpstream], BodySha256(Body)),
            StoredIndexJsonContext.Default.Header);
        var bytes = new byte[header.Length + 1 + Body.Length];
        header.CopyTo(bytes, 0);
        bytes[header.Length] = (byte)'\n';
        Body.CopyTo(bytes, header.Length + 1);
        return bytes;
    }

    /// <summary>
    /// Reads a stored document; null when it is not one this version understands, or when its body does not match the
    /// sha256 its header carries (a write a crash cut short): it is then fetched again.
    /// </summary>
    public static StoredIndex? TryDeserialize(byte[] bytes)
    {
        var newline = Array.IndexOf(bytes, (byte)'\n');
        if (newline < 0)
        {
            return null;
        }

        try
        {
            var header = JsonSerializer.Deserialize(bytes.AsSpan(0, newline), StoredIndexJsonContext.Default.Header);
            var body = bytes.AsSpan(newline + 1);
            return header is { V: FormatVersion } && (header.Sha256 is null || string.Equals(header.Sha256, BodySha256(body), StringComparison.Ordinal))
                ? new StoredIndex(body.ToArray(), header.ETag, header.LastModified, header.FetchedAt)
                {
                    Upstream = header.Upstream,
                    DeletedUpstream = header.DeletedUpstream ?? [],
                }
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public override string ToString() => $"{Body.Length} bytes fetched {FetchedAt:O} etag {UpstreamETag}";

    private static string BodySha256(ReadOnlySpan<byte> body) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body));

    internal sealed record Header(
        [property: JsonPropertyName("v")] int V,
        [property: JsonPropertyName("etag")] string? ETag,
        [property: JsonPropertyName("lastModified")] string? LastModified,
        [property: JsonPropertyName("fetchedAt")] DateTimeOffset FetchedAt,
        [property: JsonPropertyName("upstream"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Upstream = null,
        [property: JsonPropertyName("deletedUpstream"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string[]? DeletedUpstream = null,
        [property: JsonPropertyName("sha256"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Sha256 = null);
}

[JsonSerializable(typeof(StoredIndex.Header))]
internal sealed partial class StoredIndexJsonContext : JsonSerializerContext;

/// <summary>Where the mirror keeps things in the object store.</summary>
public static class MirrorKeys
{
    public static string Index(Protocol.CrateName name) => $"index/{name.IndexPath}";

    /// <summary>
    /// One key per crate version: the lower-case name and the version exactly as the index spells it, e.g.
    /// <c>crates/se/rd/serde-1.0.0.crate</c>. Built on every download, so in one allocation (no intermediate index path).
    /// </summary>
    public static string CrateFile(Protocol.CrateName name, string version)
    {
        var lower = name.Lower;
        var prefix = lower.Length switch { 1 => 2, 2 => 2, 3 => 4, _ => 6 }; // "1/", "2/", "3/a/", "ab/cd/"
        const string Head = "crates/", Tail = ".crate";
        return string.Create(Head.Length + prefix + (2 * lower.Length) + 2 + version.Length + Tail.Length, (lower, version), static (span, state) =>
        {
            var (lower, version) = state;
            Head.CopyTo(span);
            var at = Head.Length;
            switch (lower.Length)
            {
                case 1 or 2:
                    span[at++] = (char)('0' + lower.Length);
                    span[at++] = '/';
                    break;
                case 3:
                    span[at++] = '3';
                    span[at++] = '/';
                    span[at++] = lower[0];
                    span[at++] = '/';
                    break;
                default:
                    lower.AsSpan(0, 2).CopyTo(span[at..]);
                    span[at + 2] = '/';
                    lower.AsSpan(2, 2).CopyTo(span[(at + 3)..]);
                    span[at + 5] = '/';
                    at += 6;
                    break;
            }

            lower.CopyTo(span[at..]);
            at += lower.Length;
            span[at++] = '/';
            lower.CopyTo(span[at..]);
            at += lower.Length;
            span[at++] = '-';
            version.CopyTo(span[at..]);
            at += version.Length;
            Tail.CopyTo(span[at..]);
        });
    }

    internal static readonly Encoding Utf8 = new UTF8Encoding(false);
}
