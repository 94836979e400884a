using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCrates.Toolchains;

/// <summary>
/// What the mirror stores for a file it serves from a record: a manifest with its <c>.sha256</c> and <c>.asc</c> (one
/// object, so the pair is always consistent), <c>release-stable.toml</c>, or a rustup binary's <c>.sha256</c> (whose
/// content is a blob addressed by that hash). <see cref="FetchedAt"/> is when upstream last confirmed it. Stored as one
/// JSON header line followed by the raw bytes, so the manifest stays byte for byte.
/// </summary>
public sealed partial record ToolchainDocument(DateTimeOffset FetchedAt, string? Upstream, byte[] Body, byte[]? Sha256File, byte[]? Signature)
{
    /// <summary>The published sha256 the <see cref="Sha256File"/> names.</summary>
    public string? PublishedSha256 => Sha256File is null ? null : ChannelManifest.ParseSha256File(Sha256File);

    public byte[] Serialize()
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(
            new Header(FetchedAt, Upstream, Body.Length, Sha256File?.Length ?? -1, Signature?.Length ?? -1), HeaderContext.Default.Header);
        var bytes = new byte[header.Length + 1 + Body.Length + (Sha256File?.Length ?? 0) + (Signature?.Length ?? 0)];
        var span = bytes.AsSpan();
        header.CopyTo(span);
        span[header.Length] = (byte)'\n';
        var at = header.Length + 1;
        foreach (var part in new[] { Body, Sha256File, Signature })
        {
            part?.CopyTo(span[at..]);
            at += part?.Length ?? 0;
        }

        return bytes;
    }

    public static ToolchainDocument? TryDeserialize(ReadOnlySpan<byte> bytes)
    {
        var newline = bytes.IndexOf((byte)'\n');
        if (newline < 0)
        {
            return null;
        }

        Header? header;
        try
        {
            header = JsonSerializer.Deserialize(bytes[..newline], HeaderContext.Default.Header);
        }
        catch (JsonException)
        {
            return null;
        }

        var rest = bytes[(newline + 1)..];
        if (header is null || header.Body < 0 || (long)header.Body + Math.Max(0, header.Sha256) + Math.Max(0, header.Signature) != rest.Length)
        {
            return null;
        }

        var body = rest[..header.Body].ToArray();
        rest = rest[header.Body..];
        byte[]? sha = null;
        if (header.Sha256 >= 0)
        {
            sha = rest[..header.Sha256].ToArray();
            rest = rest[header.Sha256..];
        }

        return new ToolchainDocument(header.FetchedAt, header.Upstream, body, sha, header.Signature >= 0 ? rest.ToArray() : null);
    }

    public override string ToString() => $"{Encoding.ASCII.GetString(Sha256File ?? [])} fetched {FetchedAt:O}";

    internal sealed record Header(DateTimeOffset FetchedAt, string? Upstream, int Body, int Sha256, int Signature);

    [JsonSerializable(typeof(Header))]
    internal sealed partial class HeaderContext : JsonSerializerContext;
}
