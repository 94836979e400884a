using System.Text.Json;
using OrleansCrates.Protocol;

namespace OrleansCrates.Upstream;

/// <summary>
/// Whether a 200 answer for a crate's index file is that file: one or more lines (blank lines aside), each exactly one
/// JSON object with a string <c>name</c> equal to the crate's name (ASCII case-insensitively, as index paths are), a
/// non-empty string <c>vers</c> and a sha256 <c>cksum</c>, and nothing after the object. An HTML error page, an empty
/// body, compressed bytes nobody decoded, a file for another crate or a cut-off line is not an index file, and
/// accepting it would replace a good stored copy. The bytes are only read, never rewritten.
/// </summary>
public static class IndexBodyCheck
{
    /// <summary>Null when <paramref name="body"/> is an index file for <paramref name="name"/>; otherwise why not.</summary>
    public static string? Problem(ReadOnlySpan<byte> body, CrateName name)
    {
        var lines = 0;
        var lineNumber = 0;
        foreach (var at in IndexFile.EnumerateLines(body))
        {
            lineNumber++;
            if (at.IsBlank)
            {
                continue;
            }

            var line = at.In(body);
            var problem = LineProblem(line, name);
            if (problem is not null)
            {
                return $"line {lineNumber} is not an index line for '{name.Lower}': {problem}";
            }

            lines++;
        }

        return lines == 0 ? "the body holds no index lines" : null;
    }

    private static string? LineProblem(ReadOnlySpan<byte> line, CrateName name)
    {
        if (!IsOneJsonObject(line))
        {
            return "not one JSON object";
        }

        var parsed = IndexLine.TryParse(line);
        if (parsed is null)
        {
            return "name, vers or a sha256 cksum is missing";
        }

        if (parsed.Version.Length == 0)
        {
            return "empty vers";
        }

        return string.Equals(parsed.Name, name.Lower, StringComparison.OrdinalIgnoreCase) && CrateName.IsValid(parsed.Name)
            ? null
            : "it names another crate";
    }

    /// <summary>The whole line is one well-formed JSON object (whitespace around it aside).</summary>
    private static bool IsOneJsonObject(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            reader.Skip();
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
