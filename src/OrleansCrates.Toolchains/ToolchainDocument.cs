using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCrates.Toolchains;

/// <summary>
/// What the mirror stores for a file it serves from a record: a manifest with its <c>.sha256</c> and <c>.asc</c> (one
/// object, so the pair is always consistent), <c>release-stable.toml</c>, or a rustup binary's <c>.sha256</c> (whose
/// content is a blob addressed by that hash). <see cref="FetchedAt"/> is when upstream last confirmed it;
/// <see cref="Date"/> a manifest's <c>date</c>; <see cref="KeptFrom"/> the top-level path a dated copy was kept from
/// (the mirror keeps every top-level manifest it stores under its date, as upstream publishes it). Stored as one JSON
/// header line followed by the raw bytes, so the manifest stays byte for byte. Read, the parts are slices of the one
/// stored buffer (no copies).
/// </summary>
public sealed partial record ToolchainDocument(
    DateTimeOffset FetchedAt, string? Upstream, ReadOnlyMemory<byte> Body, ReadOnlyMemory<byte>? Sha256File, ReadOnlyMemory<byte>? Signature)
{
    /// <summary>A channel manifest's <c>date</c> (<c>2026-11-20</c>), when known.</summary>
    public string? Date { get; init; }

    /// <summary>For the mirror's dated copy of a top-level manifest: that top-level path (<c>dist/channel-rust-stable.toml</c>).</summary>
    public string? KeptFrom { get; init; }

    /// <summary>The published sha256 the <see cref="Sha256File"/> names.</summary>
    public string? PublishedSha256 => Sha256File is { } sha ? ChannelManifest.ParseSha256File(sha.Span) : null;

    public byte[] Serialize()
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(
            new Header(FetchedAt, Upstream, Body.Length, Sha256File?.Length ?? -1, Signature?.Length ?? -1, Date, KeptFrom), HeaderContext.Default.Header);
        var bytes = new byte[header.Length + 1 + Body.Length + (Sha256File?.Length ?? 0) + (Signature?.Length ?? 0)];
        var span = bytes.AsSpan();
        header.CopyTo(span);
        span[header.Length] = (byte)'\n';
        var at = header.Length + 1;
        foreach (var part in new[] { Body, Sha256File ?? ReadOnlyMemory<byte>.Empty, Signature ?? ReadOnlyMemory<byte>.Empty })
        {
            part.Span.CopyTo(span[at..]);
            at += part.Length;
        }

        return bytes;
    }

    /// <summary>Reads a stored record; its parts are slices of <paramref name="bytes"/>. Null when it is not one.</summary>
    public static ToolchainDocument? TryDeserialize(ReadOnlyMemory<byte> bytes)
    {
        var newline = bytes.Span.IndexOf((byte)'\n');
        if (newline < 0)
        {
            return null;
        }

        Header? header;
        try
        {
            header = JsonSerializer.Deserialize(bytes.Span[..newline], HeaderContext.Default.Header);
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

        var body = rest[..header.Body];
        rest = rest[header.Body..];
        ReadOnlyMemory<byte>? sha = null;
        if (header.Sha256 >= 0)
        {
            sha = rest[..header.Sha256];
            rest = rest[header.Sha256..];
        }

        return new ToolchainDocument(header.FetchedAt, header.Upstream, body, sha, header.Signature >= 0 ? rest : (ReadOnlyMemory<byte>?)null)
        {
            Date = header.Date,
            KeptFrom = header.KeptFrom,
        };
    }

    public override string ToString() => $"{(Sha256File is { } sha ? Encoding.ASCII.GetString(sha.Span) : "")} fetched {FetchedAt:O}";

    internal sealed record Header(DateTimeOffset FetchedAt, string? Upstream, int Body, int Sha256, int Signature, string? Date = null, string? KeptFrom = null);

    [JsonSerializable(typeof(Header))]
    [JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
    internal sealed partial class HeaderContext : JsonSerializerContext;
}
