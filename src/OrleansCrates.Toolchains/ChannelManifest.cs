using System.Text;
using OrleansCrates.Protocol;
using Tomlyn.Model;

namespace OrleansCrates.Toolchains;

/// <summary>One archive a channel manifest lists: where (a path on the dist server) and its published sha256.</summary>
public sealed record ManifestArchive(string Package, string Target, string Path, string Sha256);

/// <summary>
/// What the mirror needs from a rustup v2 channel manifest (<c>manifest-version = "2"</c>): every archive's path and
/// sha256 (<c>url</c>/<c>hash</c>, <c>xz_url</c>/<c>xz_hash</c>, <c>zst_url</c>/<c>zst_hash</c> under
/// <c>[pkg.NAME.target.TRIPLE]</c>) and the profiles. The manifest itself is kept and served byte for byte; this is
/// only read. Parsed with Tomlyn through <see cref="BoundedToml"/> (size and nesting bounds), after its size in bytes is
/// checked against the limit.
/// </summary>
public sealed class ChannelManifest
{
    private ChannelManifest(string? date, IReadOnlyList<ManifestArchive> archives, IReadOnlyDictionary<string, IReadOnlyList<string>> profiles)
    {
        Date = date;
        Archives = archives;
        Profiles = profiles;
    }

    public string? Date { get; }

    public IReadOnlyList<ManifestArchive> Archives { get; }

    public IReadOnlyDictionary<string, IReadOnlyList<string>> Profiles { get; }

    /// <summary>Parses a manifest of at most <paramref name="maxBytes"/>; null with a reason when it is not a v2 manifest.</summary>
    public static ChannelManifest? TryParse(ReadOnlySpan<byte> bytes, long maxBytes, out string? error)
    {
        if (bytes.Length > maxBytes)
        {
            error = $"{bytes.Length} bytes, more than the limit of {maxBytes}";
            return null;
        }

        // BoundedToml: Tomlyn behind a nesting bound as well (the manifest comes from a dist server, so it is untrusted).
        var document = BoundedToml.Parse(Encoding.UTF8.GetString(bytes), (int)Math.Min(maxBytes, int.MaxValue));
        if (document.Table is not { } root)
        {
            error = $"not TOML: {document.Error}";
            return null;
        }

        if (!root.TryGetValue("manifest-version", out var version) || version is not "2")
        {
            error = "not a v2 channel manifest (manifest-version is not \"2\")";
            return null;
        }

        var archives = new List<ManifestArchive>();
        if (root.TryGetValue("pkg", out var pkgs) && pkgs is TomlTable packages)
        {
            foreach (var (package, value) in packages)
            {
                if (value is not TomlTable pkg || !pkg.TryGetValue("target", out var t) || t is not TomlTable targets)
                {
                    continue;
                }

                foreach (var (target, tv) in targets)
                {
                    if (tv is not TomlTable built || !(built.TryGetValue("available", out var a) && a is true))
                    {
                        continue;
                    }

                    foreach (var (urlKey, hashKey) in new[] { ("url", "hash"), ("xz_url", "xz_hash"), ("zst_url", "zst_hash") })
                    {
                        if (built.TryGetValue(urlKey, out var u) && u is string url && built.TryGetValue(hashKey, out var h) && h is string hash &&
                            PathOf(url) is { } path)
                        {
                            archives.Add(new ManifestArchive(package, target, path, hash.ToLowerInvariant()));
                        }
                    }
                }
            }
        }

        var profiles = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (root.TryGetValue("profiles", out var p) && p is TomlTable profileTable)
        {
            foreach (var (name, list) in profileTable)
            {
                if (list is TomlArray components)
                {
                    profiles[name] = [.. components.OfType<string>()];
                }
            }
        }

        error = null;
        return new ChannelManifest(root.TryGetValue("date", out var d) ? d as string : null, archives, profiles);
    }

    /// <summary>
    /// The path on the dist server an archive URL names (<c>https://static.rust-lang.org/dist/2026-11-20/x.tar.xz</c> →
    /// <c>dist/2026-11-20/x.tar.xz</c>): rustup replaces that prefix with <c>RUSTUP_DIST_SERVER</c>, so the mirror serves the same path.
    /// </summary>
    public static string? PathOf(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.AbsolutePath.TrimStart('/') is { Length: > 0 } path ? Uri.UnescapeDataString(path) : null;

    /// <summary>
    /// A <c>.sha256</c> sidecar read strictly: ASCII, the hex sha256, then optionally whitespace, an optional <c>*</c>
    /// and the file's name (which must be <paramref name="fileName"/>), and at most one line end. The lower-case hex, or null.
    /// </summary>
    public static string? ParseSidecarSha256(ReadOnlySpan<byte> file, string fileName)
    {
        if (file.Length is < 64 or > ToolchainOptions.MaxSidecarBytes || ParseSha256File(file) is not { } hex)
        {
            return null;
        }

        var rest = file[64..];
        if (rest.EndsWith("\r\n"u8))
        {
            rest = rest[..^2];
        }
        else if (rest.EndsWith("\n"u8))
        {
            rest = rest[..^1];
        }

        if (rest.IsEmpty)
        {
            return hex;
        }

        var name = rest.TrimStart(" \t"u8);
        if (name.Length == rest.Length)
        {
            return null;
        }

        if (name.StartsWith("*"u8))
        {
            name = name[1..];
        }

        return name.SequenceEqual(Encoding.UTF8.GetBytes(fileName)) ? hex : null;
    }

    /// <summary>Whether <paramref name="file"/> looks like an ASCII-armoured OpenPGP signature (what rustup's <c>.asc</c> files are).</summary>
    public static bool IsArmouredSignature(ReadOnlySpan<byte> file) =>
        file.Length <= ToolchainOptions.MaxSidecarBytes &&
        file.TrimStart(" \t\r\n"u8).StartsWith("-----BEGIN PGP SIGNATURE-----"u8) &&
        file.IndexOf("-----END PGP SIGNATURE-----"u8) > 0 &&
        !file.ContainsAnyExceptInRange((byte)0x09, (byte)0x7E);

    /// <summary>The hex sha256 at the start of a <c>.sha256</c> file (<c>HEX  NAME</c>), or null.</summary>
    public static string? ParseSha256File(ReadOnlySpan<byte> file)
    {
        if (file.Length < 64)
        {
            return null;
        }

        var hex = Encoding.ASCII.GetString(file[..64]);
        return hex.All(char.IsAsciiHexDigit) && (file.Length == 64 || file[64] is (byte)' ' or (byte)'\n' or (byte)'\t' or (byte)'\r')
            ? hex.ToLowerInvariant()
            : null;
    }
}
