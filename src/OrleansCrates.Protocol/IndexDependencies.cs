using System.Text.Json;

namespace OrleansCrates.Protocol;

/// <summary>
/// The crates cargo will look up next after reading an index file: the dependencies of the version it most likely
/// picks (the newest that is neither yanked nor a pre-release, else the newest not yanked) that live in the same
/// registry, are needed to build it (normal and build; dev-dependencies of a registry crate are never resolved) and
/// are not optional (cargo resolves those only when a feature turns them on). Every target's dependencies count: a
/// lockfile is resolved for every platform. Names are the registry names (<c>package</c> when a dependency is renamed).
/// </summary>
public static class IndexDependencies
{
    /// <summary>
    /// The distinct crates the newest usable version of <paramref name="indexFile"/> depends on (see the type), at most
    /// <paramref name="max"/>, in the order the line lists them; empty when no line is usable. Lines that are not valid
    /// JSON are skipped, as cargo skips them.
    /// </summary>
    public static IReadOnlyList<CrateName> OfNewest(ReadOnlyMemory<byte> indexFile, int max)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        ReadOnlyMemory<byte> newest = default;
        SemanticVersion? newestVersion = null;
        var newestIsRelease = false;
        foreach (var line in IndexFile.Lines(indexFile))
        {
            if (IndexLine.TryParse(line.Span) is not { Yanked: false } parsed || !SemanticVersion.TryParse(parsed.Version, out var version))
            {
                continue;
            }

            var release = !version.IsPrerelease;
            if (newestVersion is null || (release && !newestIsRelease) || (release == newestIsRelease && version > newestVersion.Value))
            {
                newest = line;
                newestVersion = version;
                newestIsRelease = release;
            }
        }

        return newestVersion is null || max == 0 ? [] : Of(newest.Span, max);
    }

    /// <summary>The crates one index line depends on (see the type), at most <paramref name="max"/>; empty when the line is not valid JSON.</summary>
    public static IReadOnlyList<CrateName> Of(ReadOnlySpan<byte> line, int max)
    {
        var found = new List<CrateName>();
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return [];
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!reader.ValueTextEquals("deps"u8))
                {
                    reader.Read();
                    reader.Skip();
                    continue;
                }

                if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                {
                    return [];
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    if (ReadDependency(ref reader) is { } name && found.Count < max && !found.Contains(name))
                    {
                        found.Add(name);
                    }
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return []; // InvalidOperationException: a string that is not valid UTF-8
        }

        return found;
    }

    /// <summary>Reads one dependency object (the reader on its start); its registry name when cargo will look it up, else null.</summary>
    private static CrateName? ReadDependency(ref Utf8JsonReader reader)
    {
        string? name = null, package = null;
        var optional = false;
        var otherRegistry = false;
        var resolved = true;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("name"u8))
            {
                name = IndexLine.ReadString(ref reader);
            }
            else if (reader.ValueTextEquals("package"u8))
            {
                package = IndexLine.ReadString(ref reader);
            }
            else if (reader.ValueTextEquals("optional"u8))
            {
                reader.Read();
                optional = reader.TokenType == JsonTokenType.True;
            }
            else if (reader.ValueTextEquals("registry"u8))
            {
                reader.Read();
                otherRegistry = reader.TokenType != JsonTokenType.Null;
                reader.Skip();
            }
            else if (reader.ValueTextEquals("kind"u8))
            {
                resolved = IndexLine.ReadString(ref reader) is null or "normal" or "build";
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return !optional && !otherRegistry && resolved && CrateName.TryParse(package ?? name, out var parsed) ? parsed.Value : null;
    }
}
