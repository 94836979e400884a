using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using OrleansCrates.Protocol;

namespace OrleansCrates.Registry;

/// <summary>Writes the index line of a published version, and edits lines of a stored index file.</summary>
internal static class PrivateIndexLines
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Keep '+' (build metadata), '<', '>' and non-ASCII raw, as crates.io's serde_json does.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>
    /// The line for <paramref name="crate"/> (without the trailing newline), in crates.io's field order. Dependencies
    /// keep their publish order; a renamed one gets its alias as <c>name</c> and its real name as <c>package</c>;
    /// <c>registry</c> is null for this registry and the given index URL otherwise.
    /// </summary>
    public static byte[] Build(ValidatedCrate crate, string checksum, DateTimeOffset publishedAt)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("name", crate.Name.Value);
            w.WriteString("vers", crate.Version);
            w.WriteStartArray("deps");
            foreach (var dep in crate.Dependencies)
            {
                w.WriteStartObject();
                w.WriteString("name", dep.ExplicitNameInToml ?? dep.Name);
                w.WriteString("req", dep.VersionReq);
                w.WriteStartArray("features");
                foreach (var feature in dep.Features ?? [])
                {
                    w.WriteStringValue(feature);
                }

                w.WriteEndArray();
                w.WriteBoolean("optional", dep.Optional);
                w.WriteBoolean("default_features", dep.DefaultFeatures);
                WriteStringOrNull(w, "target", dep.Target);
                w.WriteString("kind", dep.Kind ?? "normal");
                WriteStringOrNull(w, "registry", dep.Registry);
                if (dep.ExplicitNameInToml is not null)
                {
                    w.WriteString("package", dep.Name);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteString("cksum", checksum);
            WriteFeatures(w, "features", crate.Features);
            if (crate.Features2.Count > 0)
            {
                WriteFeatures(w, "features2", crate.Features2);
            }

            w.WriteBoolean("yanked", false);
            WriteStringOrNull(w, "links", crate.Request.Links);
            if (crate.Request.RustVersion is { } rustVersion)
            {
                w.WriteString("rust_version", rustVersion);
            }

            if (crate.Features2.Count > 0)
            {
                w.WriteNumber("v", 2);
            }

            w.WriteString("pubtime", publishedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>The lines of an index file with where each starts, skipping blank ones.</summary>
    public static IEnumerable<(int Start, int Length, IndexLine? Parsed)> Lines(ReadOnlyMemory<byte> content)
    {
        for (var start = 0; start < content.Length;)
        {
            var line = IndexFile.LineAt(content.Span, start);
            if (!line.IsBlank)
            {
                yield return (line.Start, line.Length, IndexLine.TryParse(line.In(content.Span)));
            }

            start = line.End;
        }
    }

    /// <summary>Every parsed version of an index file.</summary>
    public static List<IndexLine> Versions(ReadOnlyMemory<byte> content) =>
        Lines(content).Where(l => l.Parsed is not null).Select(l => l.Parsed!).ToList();

    /// <summary>The newest non-yanked version by semver precedence; "0.0.0" when every version is yanked; null when there are none.</summary>
    public static string? MaxVersion(IReadOnlyCollection<IndexLine> versions)
    {
        if (versions.Count == 0)
        {
            return null;
        }

        return versions.Where(v => !v.Yanked).Select(v => v.Version).Max(SemanticVersion.Precedence) ?? "0.0.0";
    }

    /// <summary>
    /// <paramref name="content"/> with only the <c>yanked</c> value of the line at <paramref name="start"/> changed;
    /// every other byte stays as it was.
    /// </summary>
    public static byte[] WithYanked(ReadOnlySpan<byte> content, int start, int length, bool yanked)
    {
        var line = content.Slice(start, length);
        var (valueStart, valueLength) = FindTopLevelValue(line, "yanked"u8);
        var replacement = yanked ? "true"u8 : "false"u8;
        using var output = new MemoryStream(content.Length + 8);
        output.Write(content[..start]);
        if (valueStart < 0)
        {
            // No "yanked" field: add one before the closing brace.
            var close = line.LastIndexOf((byte)'}');
            output.Write(line[..close]);
            output.Write(",\"yanked\":"u8);
            output.Write(replacement);
            output.Write(line[close..]);
        }
        else
        {
            output.Write(line[..valueStart]);
            output.Write(replacement);
            output.Write(line[(valueStart + valueLength)..]);
        }

        output.Write(content[(start + length)..]);
        return output.ToArray();
    }

    private static (int Start, int Length) FindTopLevelValue(ReadOnlySpan<byte> line, ReadOnlySpan<byte> property)
    {
        var reader = new Utf8JsonReader(line);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals(property))
            {
                reader.Read();
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    return (start, (int)reader.BytesConsumed - start);
                }

                return ((int)reader.TokenStartIndex, (int)(reader.BytesConsumed - reader.TokenStartIndex));
            }
        }

        return (-1, 0);
    }

    private static void WriteStringOrNull(Utf8JsonWriter w, string property, string? value)
    {
        if (value is null)
        {
            w.WriteNull(property);
        }
        else
        {
            w.WriteString(property, value);
        }
    }

    private static void WriteFeatures(Utf8JsonWriter w, string property, IReadOnlyDictionary<string, IReadOnlyList<string>> features)
    {
        w.WriteStartObject(property);
        foreach (var (feature, values) in features)
        {
            w.WriteStartArray(feature);
            foreach (var value in values)
            {
                w.WriteStringValue(value);
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }
}
