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

    private static string? ReadString(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
    }
}

/// <summary>Splits an index file into its lines without copying them.</summary>
public static class IndexFile
{
    public static IEnumerable<ReadOnlyMemory<byte>> Lines(ReadOnlyMemory<byte> content)
    {
        var start = 0;
        while (start < content.Length)
        {
            var rest = content[start..];
            var newline = rest.Span.IndexOf((byte)'\n');
            var line = newline < 0 ? rest : rest[..newline];
            if (!line.Span.Trim(" \r\t"u8).IsEmpty)
            {
                yield return line;
            }

            start += newline < 0 ? rest.Length : newline + 1;
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
