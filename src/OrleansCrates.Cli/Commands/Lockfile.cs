using System.Text;
using OrleansCrates.Cli.Output;
using OrleansCrates.Protocol;
using Tomlyn.Model;

namespace OrleansCrates.Cli.Commands;

/// <summary>One <c>[[package]]</c> of a Cargo.lock: name, version, source (null for workspace members) and checksum.</summary>
internal sealed record LockedPackage(string Name, string Version, string? Source, string? Checksum)
{
    /// <summary>crates.io, by either of the spellings cargo writes (mirrors behind source replacement keep crates.io's).</summary>
    public bool IsFromCratesIo => Source is Lockfile.CratesIoSource or Lockfile.CratesIoSparseSource;

    /// <summary>Whether the package comes from the sparse registry whose index root is <paramref name="indexUrl"/>.</summary>
    public bool IsFromSparseRegistry(Uri indexUrl) =>
        Source is not null && Source.StartsWith("sparse+", StringComparison.Ordinal) &&
        Uri.TryCreate(Lockfile.WithTrailingSlash(Source["sparse+".Length..]), UriKind.Absolute, out var source) &&
        Uri.Compare(source, indexUrl, UriComponents.AbsoluteUri, UriFormat.SafeUnescaped, StringComparison.OrdinalIgnoreCase) == 0;

    public override string ToString() => $"{Name}@{Version}";
}

/// <summary>
/// Reads the packages of a Cargo.lock with Tomlyn, behind <see cref="BoundedToml"/>'s size and nesting bounds: the
/// <c>[[package]]</c> tables of every lockfile version, and the <c>[metadata]</c> checksums of version 1 files.
/// </summary>
internal static class Lockfile
{
    public const string CratesIoSource = "registry+https://github.com/rust-lang/crates.io-index";
    public const string CratesIoSparseSource = "sparse+https://index.crates.io/";

    /// <summary>Far above any real lockfile (a 1,000-crate workspace's is about 300 kB).</summary>
    public const int MaxChars = 32 * 1024 * 1024;

    /// <summary>
    /// Reads a lockfile for a command: the packages, or null after telling the user on stderr why there are none
    /// (unreadable, too big, not TOML, or no <c>[[package]]</c> entries).
    /// </summary>
    public static async Task<IReadOnlyList<LockedPackage>?> ReadForCommandAsync(string path, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            if (new FileInfo(path).Length > MaxChars * 4L)
            {
                await TextOutput.NoteAsync($"{path} is larger than any Cargo.lock this reads ({MaxChars} characters).");
                return null;
            }

            text = await File.ReadAllTextAsync(path, Encoding.UTF8, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await TextOutput.NoteAsync($"Cannot read {path}: {e.Message}");
            return null;
        }

        var (packages, error) = Parse(text);
        if (error is not null)
        {
            await TextOutput.NoteAsync($"Cannot read {path}: {error}");
            return null;
        }

        if (packages.Count == 0)
        {
            await TextOutput.NoteAsync($"{path} has no [[package]] entries; is it a Cargo.lock?");
            return null;
        }

        return packages;
    }

    public static (IReadOnlyList<LockedPackage> Packages, string? Error) Parse(string text)
    {
        var document = BoundedToml.Parse(text, MaxChars);
        if (document.Table is not { } table)
        {
            return ([], document.Error);
        }

        var metadata = table.TryGetValue("metadata", out var m) && m is TomlTable meta
            ? meta.Where(kv => kv.Key.StartsWith("checksum ", StringComparison.Ordinal) && kv.Value is string s && s != "<none>")
                .ToDictionary(kv => kv.Key["checksum ".Length..], kv => (string)kv.Value, StringComparer.Ordinal)
            : [];
        var packages = new List<LockedPackage>();
        foreach (var package in table.TryGetValue("package", out var p) && p is TomlTableArray array ? array.OfType<TomlTable>() : [])
        {
            if (String(package, "name") is { } name && String(package, "version") is { } version)
            {
                var source = String(package, "source");
                var checksum = String(package, "checksum")
                    ?? (source is not null && metadata.TryGetValue($"{name} {version} ({source})", out var v1) ? v1 : null); // version 1 files
                packages.Add(new LockedPackage(name, version, source, checksum));
            }
        }

        return (packages, null);
    }

    internal static string WithTrailingSlash(string url) => url.EndsWith('/') ? url : url + "/";

    private static string? String(TomlTable table, string key) => table.TryGetValue(key, out var value) ? value as string : null;
}
