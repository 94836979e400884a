using System.Text.Json;

namespace OrleansCrates.Protocol;

/// <summary>
/// The few fields of one index line that a mirror needs to read. The line itself is never re-serialised: mirrors pass
/// upstream bytes through untouched.
/// </summary>
public sealed record IndexLine(string Name, string Version, string Checksum, bool Yanked)
{
    /// <summary>Reads name, vers, cksum and yanked; null when the line is not a usable index entry.</summary>
    public static IndexLine? TryParse(ReadOnlySpan<byte> line)
    {
        string? name = null, version = null, checksum = null;
        var yanked = false;
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("name"u8))
                {
                    name = ReadString(ref reader);
                }
                else if (reader.ValueTextEquals("vers"u8))
                {
                    version = ReadString(ref reader);
                }
                else if (reader.ValueTextEquals("cksum"u8))
                {
                    checksum = ReadString(ref reader);
                }
                else if (reader.ValueTextEquals("yanked"u8))
                {
                    reader.Read();
                    yanked = reader.TokenType == JsonTokenType.True;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string that is not valid UTF-8 (the reader checks only when asked for it).
            return null;
        }

        return name is null || version is null || checksum is null || !Sha256Hex.IsValid(checksum)
            ? null
            : new IndexLine(name, version, checksum, yanked);
    }

    /// <summary>Reads a property's value (the reader on its name): the string, else null with the value skipped whole.</summary>
    internal static string? ReadString(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.String)
        {
            return reader.GetString();
        }

        reader.Skip();
        return null;
    }
}

/// <summary>One line of an index file: where it starts, its length without the newline, where the next line starts.</summary>
public readonly record struct IndexFileLine(int Start, int Length, int End, bool IsBlank)
{
    /// <summary>The line's bytes without its newline.</summary>
    public ReadOnlySpan<byte> In(ReadOnlySpan<byte> content) => content.Slice(Start, Length);

    /// <summary>The line's bytes with its newline (when it has one), exactly as they are in the file.</summary>
    public ReadOnlySpan<byte> WithTerminatorIn(ReadOnlySpan<byte> content) => content[Start..End];
}

/// <summary>
/// The one place that splits an index file into lines: lines end at <c>\n</c> (the last may lack it), and a line of
/// only spaces, tabs and <c>\r</c> is blank. Nothing is copied.
/// </summary>
public static class IndexFile
{
    /// <summary>The line that starts at <paramref name="start"/> (which must be inside <paramref name="content"/>).</summary>
    public static IndexFileLine LineAt(ReadOnlySpan<byte> content, int start)
    {
        var newline = content[start..].IndexOf((byte)'\n');
        var length = newline < 0 ? content.Length - start : newline;
        return new IndexFileLine(start, length, newline < 0 ? content.Length : start + newline + 1, IsBlank(content.Slice(start, length)));
    }

    /// <summary>Whether a line (without its newline) holds nothing but spaces, tabs and <c>\r</c>.</summary>
    public static bool IsBlank(ReadOnlySpan<byte> line) => line.Trim(" \r\t"u8).IsEmpty;

    /// <summary>Every line, blank ones included, for <c>foreach</c> over a span.</summary>
    public static LineEnumerator EnumerateLines(ReadOnlySpan<byte> content) => new(content);

    /// <summary>The non-blank lines, without copying them.</summary>
    public static IEnumerable<ReadOnlyMemory<byte>> Lines(ReadOnlyMemory<byte> content)
    {
        for (var start = 0; start < content.Length;)
        {
            var line = LineAt(content.Span, start);
            if (!line.IsBlank)
            {
                yield return content.Slice(line.Start, line.Length);
            }

            start = line.End;
        }
    }

    /// <summary>The entry for <paramref name="version"/> (exact spelling), or null.</summary>
    public static IndexLine? FindVersion(ReadOnlyMemory<byte> content, string version)
    {
        var needle = System.Text.Encoding.UTF8.GetBytes(version);
        foreach (var line in Lines(content))
        {
            // Cheap pre-filter before parsing JSON: the version must appear in the line at all.
            if (line.Span.IndexOf(needle) < 0)
            {
                continue;
            }

            var parsed = IndexLine.TryParse(line.Span);
            if (parsed is not null && string.Equals(parsed.Version, version, StringComparison.Ordinal))
            {
                return parsed;
            }
        }

        return null;
    }
}

/// <summary>Walks the lines of an index file; see <see cref="IndexFile.EnumerateLines"/>.</summary>
public ref struct LineEnumerator(ReadOnlySpan<byte> content)
{
    private readonly ReadOnlySpan<byte> _content = content;
    private int _next;

    public IndexFileLine Current { get; private set; }

    public readonly LineEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_next >= _content.Length)
        {
            return false;
        }

        Current = IndexFile.LineAt(_content, _next);
        _next = Current.End;
        return true;
    }
}

public static class Sha256Hex
{
    /// <summary>64 lowercase hex digits, as cargo writes <c>cksum</c>.</summary>
    public static bool IsValid(string? value)
    {
        if (value is null || value.Length != 64)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }
}
