using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace OrleansCrates.Toolchains;

/// <summary>What a path under <c>/rustup/</c> is, and so how it is fetched, verified and kept.</summary>
public enum ToolchainFileKind
{
    /// <summary><c>dist/[DATE/]channel-rust-X.toml</c>: byte for byte, stored with its <c>.sha256</c> as one pair.</summary>
    Manifest,

    /// <summary><c>….toml.sha256</c>: served from the manifest's pair.</summary>
    ManifestSha256,

    /// <summary><c>….toml.asc</c>: served from the manifest's pair (when upstream has one).</summary>
    ManifestSignature,

    /// <summary>A component archive under <c>dist/</c>: visible only once its sha256 matches a held manifest's hash.</summary>
    Archive,

    /// <summary>A <c>.sha256</c> or <c>.asc</c> beside an archive: immutable, passed through.</summary>
    ArchiveSidecar,

    /// <summary><c>rustup/release-stable.toml</c>: a moving metadata file without a checksum.</summary>
    RustupRelease,

    /// <summary><c>rustup/dist/TRIPLE/rustup-init[.exe]</c> (moving) or <c>rustup/archive/VERSION/TRIPLE/…</c> (fixed): checked against its <c>.sha256</c>.</summary>
    RustupBinary,

    /// <summary>The <c>.sha256</c> of a rustup binary: served from the binary's record.</summary>
    RustupBinarySha256,
}

/// <summary>
/// A validated path under the toolchain mirror (relative to <c>/rustup/</c>, as on the dist server). Every segment is
/// plain (letters, digits, <c>._+-</c>, no leading dot), so a path is also a storage key suffix.
/// </summary>
public sealed partial record ToolchainPath(string Path, ToolchainFileKind Kind, string? Channel, string? Date, bool Moving)
{
    private const int MaxPathLength = 400;

    /// <summary>The path the owner (one grain per file) is keyed by: a manifest and its .sha256/.asc share one owner, a binary and its .sha256 too.</summary>
    public string OwnerPath => Kind switch
    {
        ToolchainFileKind.ManifestSha256 or ToolchainFileKind.ManifestSignature or ToolchainFileKind.RustupBinarySha256 => Path[..Path.LastIndexOf('.')],
        _ => Path,
    };

    /// <summary>Whether the stored copy is read from a document (a manifest pair, a moving file's record) rather than a plain file.</summary>
    public bool IsDocument => Kind is ToolchainFileKind.Manifest or ToolchainFileKind.ManifestSha256 or ToolchainFileKind.ManifestSignature
        or ToolchainFileKind.RustupRelease or ToolchainFileKind.RustupBinary or ToolchainFileKind.RustupBinarySha256;

    /// <summary>Where records (manifest pairs, metadata, binary records) are stored: <c>toolchains/docs/</c> + the owner path.</summary>
    public const string DocsRoot = "toolchains/docs/";

    /// <summary>Where plain files (archives, their sidecars) are stored: <c>toolchains/files/</c> + the path.</summary>
    public const string FilesRoot = "toolchains/files/";

    /// <summary>Where rustup binaries are stored, by sha256.</summary>
    public const string BlobsRoot = "toolchains/blobs/sha256/";

    /// <summary>The storage key of the document (manifest pair, metadata, binary record) this path is served from.</summary>
    public string DocumentKey => DocsRoot + OwnerPath;

    /// <summary>The storage key of a plain file (archive, sidecar).</summary>
    public string FileKey => FilesRoot + Path;

    /// <summary>For a sidecar (<c>X.sha256</c>, <c>X.asc</c>): the path of the archive it describes (<c>X</c>).</summary>
    public string? SidecarOf => Kind == ToolchainFileKind.ArchiveSidecar ? Path[..Path.LastIndexOf('.')] : null;

    /// <summary>The archive a policy or listing decision is about: the archive itself, or the one a sidecar describes.</summary>
    public string? ArchivePath => Kind switch
    {
        ToolchainFileKind.Archive => Path,
        ToolchainFileKind.ArchiveSidecar => SidecarOf,
        _ => null,
    };

    /// <summary>A binary's content, addressed by its sha256 (a moving <c>rustup-init</c> points at one).</summary>
    public static string BlobKey(string sha256) => BlobsRoot + sha256;

    /// <summary>The record key of the manifest of <paramref name="channel"/> under <paramref name="date"/> (<c>dist/DATE/channel-rust-C.toml</c>).</summary>
    public static string DatedManifestKey(string channel, string date) => $"{DocsRoot}dist/{date}/channel-rust-{channel}.toml";

    /// <summary>Whether <paramref name="date"/> is a dist date (<c>2026-11-20</c>).</summary>
    public static bool IsDate(string? date) => date is not null && DateSegment().IsMatch(date);

    /// <summary>The manifest a record key names (<c>toolchains/docs/dist/[DATE/]channel-rust-C.toml</c>), or null.</summary>
    public static ToolchainPath? ManifestOfKey(string key) =>
        key.StartsWith(DocsRoot, StringComparison.Ordinal) && TryParse(key[DocsRoot.Length..], out var path) && path.Kind == ToolchainFileKind.Manifest ? path : null;

    public static bool TryParse(string? path, [NotNullWhen(true)] out ToolchainPath? parsed)
    {
        parsed = null;
        if (string.IsNullOrEmpty(path) || path.Length > MaxPathLength)
        {
            return false;
        }

        var segments = path.Split('/');
        if (!segments.All(s => Segment().IsMatch(s)))
        {
            return false;
        }

        parsed = segments switch
        {
            ["dist", var file] when ManifestName().Match(file) is { Success: true } m => Manifest(path, m, null),
            ["dist", var date, var file] when DateSegment().IsMatch(date) && ManifestName().Match(file) is { Success: true } m => Manifest(path, m, date),
            ["dist", var date, var file] when DateSegment().IsMatch(date) && IsSidecar(file) => new(path, ToolchainFileKind.ArchiveSidecar, null, date, false),
            ["dist", var date, _] when DateSegment().IsMatch(date) => new(path, ToolchainFileKind.Archive, null, date, false),
            ["dist", var file] when IsSidecar(file) => new(path, ToolchainFileKind.ArchiveSidecar, null, null, false),
            ["dist", _] => new(path, ToolchainFileKind.Archive, null, null, false),
            ["rustup", "release-stable.toml"] => new(path, ToolchainFileKind.RustupRelease, null, null, true),
            ["rustup", "dist", _, var file] => Rustup(path, file, moving: true),
            ["rustup", "archive", _, _, var file] => Rustup(path, file, moving: false),
            _ => null,
        };
        return parsed is not null;
    }

    private static ToolchainPath Manifest(string path, Match m, string? date)
    {
        var kind = m.Groups["ext"].Value switch
        {
            ".sha256" => ToolchainFileKind.ManifestSha256,
            ".asc" => ToolchainFileKind.ManifestSignature,
            _ => ToolchainFileKind.Manifest,
        };
        return new ToolchainPath(path, kind, m.Groups["channel"].Value, date, Moving: date is null);
    }

    private static ToolchainPath? Rustup(string path, string file, bool moving) => file switch
    {
        "rustup-init" or "rustup-init.exe" => new(path, ToolchainFileKind.RustupBinary, null, null, moving),
        "rustup-init.sha256" or "rustup-init.exe.sha256" => new(path, ToolchainFileKind.RustupBinarySha256, null, null, moving),
        _ => null,
    };

    private static bool IsSidecar(string file) => file.EndsWith(".sha256", StringComparison.Ordinal) || file.EndsWith(".asc", StringComparison.Ordinal);

    [GeneratedRegex("^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,199}$")]
    private static partial Regex Segment();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}$")]
    private static partial Regex DateSegment();

    [GeneratedRegex(@"^channel-rust-(?<channel>[A-Za-z0-9._+-]+?)\.toml(?<ext>\.sha256|\.asc)?$")]
    private static partial Regex ManifestName();
}
