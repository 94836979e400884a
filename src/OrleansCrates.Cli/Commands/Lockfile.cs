using System.Text;

namespace OrleansCrates.Server.Cli;

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
/// Reads the packages of a Cargo.lock: the <c>[[package]]</c> tables of every lockfile version, and the
/// <c>[metadata]</c> checksums of version 1 files. Only the plain <c>key = "value"</c> lines cargo writes are read;
/// dependency arrays and anything else are skipped.
/// </summary>
internal static class Lockfile
{
    public const string CratesIoSource = "registry+https://github.com/rust-lang/crates.io-index";
    public const string CratesIoSparseSource = "sparse+https://index.crates.io/";

    /// <summary>Reads and parses a lockfile. Throws <see cref="IOException"/> and friends when it cannot be read.</summary>
    /// <summary>
    /// Reads a lockfile for a command: the packages, or null after telling the user on stderr why there are none
    /// (unreadable file, or no <c>[[package]]</c> entries).
    /// </summary>
    public static async Task<IReadOnlyList<LockedPackage>?> ReadForCommandAsync(string path, CommandOutput output, CancellationToken cancellationToken)
    {
        IReadOnlyList<LockedPackage> packages;
        try
        {
            packages = await ReadAsync(path, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await output.Stderr.WriteLineAsync($"Cannot read {path}: {e.Message}");
            return null;
        }

        if (packages.Count == 0)
        {
            await output.Stderr.WriteLineAsync($"{path} has no [[package]] entries; is it a Cargo.lock?");
            return null;
        }

        return packages;
    }

    public static async Task<IReadOnlyList<LockedPackage>> ReadAsync(string path, CancellationToken cancellationToken) =>
        Parse(await File.ReadAllTextAsync(path, Encoding.UTF8, cancellationToken));

    public static IReadOnlyList<LockedPackage> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var packages = new List<LockedPackage>();
        var metadataChecksums = new Dictionary<string, string>(StringComparer.Ordinal);
        Dictionary<string, string>? package = null;
        var inMetadata = false;

        void Flush()
        {
            if (package is not null && package.TryGetValue("name", out var name) && package.TryGetValue("version", out var version))
            {
                packages.Add(new LockedPackage(name, version, package.GetValueOrDefault("source"), package.GetValueOrDefault("checksum")));
            }

            package = null;
        }

        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line[0] == '[')
            {
                Flush();
                var header = line.Replace(" ", "", StringComparison.Ordinal);
                package = header == "[[package]]" ? new Dictionary<string, string>(StringComparer.Ordinal) : null;
                inMetadata = header == "[metadata]";
                continue;
            }

            if (!TryParseAssignment(line, out var key, out var value))
            {
                continue;
            }

            if (package is not null)
            {
                package[key] = value;
            }
            else if (inMetadata && key.StartsWith("checksum ", StringComparison.Ordinal) && value != "<none>")
            {
                // Version 1: "checksum NAME VERSION (SOURCE)" = "SHA256"
                metadataChecksums[key["checksum ".Length..]] = value;
            }
        }

        Flush();
        if (metadataChecksums.Count == 0)
        {
            return packages;
        }

        return [.. packages.Select(p => p.Checksum is null && p.Source is not null &&
            metadataChecksums.TryGetValue($"{p.Name} {p.Version} ({p.Source})", out var checksum)
                ? p with { Checksum = checksum }
                : p)];
    }

    internal static string WithTrailingSlash(string url) => url.EndsWith('/') ? url : url + "/";

    /// <summary><c>key = "value"</c> or <c>"quoted key" = "value"</c>, with TOML basic-string escapes.</summary>
    private static bool TryParseAssignment(string line, out string key, out string value)
    {
        key = value = "";
        var rest = line.AsSpan();
        if (rest[0] == '"')
        {
            if (!TryReadString(ref rest, out key))
            {
                return false;
            }
        }
        else
        {
            var end = rest.IndexOfAny(" =");
            if (end <= 0)
            {
                return false;
            }

            key = rest[..end].ToString();
            rest = rest[end..];
        }

        rest = rest.TrimStart();
        if (rest.IsEmpty || rest[0] != '=')
        {
            return false;
        }

        rest = rest[1..].TrimStart();
        return !rest.IsEmpty && rest[0] == '"' && TryReadString(ref rest, out value) && (rest.IsEmpty || rest.TrimStart().StartsWith("#"));
    }

    private static bool TryReadString(ref ReadOnlySpan<char> text, out string value)
    {
        var result = new StringBuilder();
        for (var i = 1; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '"')
            {
                value = result.ToString();
                text = text[(i + 1)..];
                return true;
            }

            if (c == '\\' && i + 1 < text.Length)
            {
                c = text[++i] switch
                {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    var other => other,
                };
            }

            result.Append(c);
        }

        value = "";
        return false;
    }
}
