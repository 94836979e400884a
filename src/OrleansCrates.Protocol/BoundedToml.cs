using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Parsing;

namespace OrleansCrates.Protocol;

/// <summary>A TOML document read into Tomlyn's model, or why it was refused.</summary>
public readonly record struct TomlDocument(TomlTable? Table, string? Error);

/// <summary>
/// Untrusted TOML (a Cargo.toml inside an uploaded crate file, a Cargo.lock handed to the CLI, a channel manifest from a
/// dist server) through Tomlyn, behind
/// the bounds Tomlyn does not check before it spends memory: a size cap, and a cheap pre-scan that bounds how deeply
/// arrays and inline tables nest (outside strings and comments). Only then does the library parse, with its own
/// <see cref="TomlSerializerOptions.MaxDepth"/> set to the same bound.
/// </summary>
public static class BoundedToml
{
    /// <summary>Deeper than any manifest or lockfile cargo writes (they nest 3 or 4 levels), far below a stack's limits.</summary>
    public const int DefaultMaxDepth = 32;

    public static TomlDocument Parse(string text, int maxChars, int maxDepth = DefaultMaxDepth)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > maxChars)
        {
            return new(null, $"the document is {text.Length} characters; at most {maxChars} are allowed");
        }

        if (NestingDepth(text, maxDepth) > maxDepth)
        {
            return new(null, $"arrays or inline tables nest more than {maxDepth} deep");
        }

        try
        {
            // Validated first: the syntax validator refuses keys defined twice, which the model reader lets the last win.
            var syntax = SyntaxParser.Parse(text, Options(maxDepth), sourceName: "", validate: true);
            if (syntax.HasErrors)
            {
                return new(null, string.Join("; ", syntax.Diagnostics.Select(d => d.ToString()).Take(3)));
            }

            var table = TomlSerializer.Deserialize<TomlTable>(text, Options(maxDepth));
            return table is null ? new(null, "the document is empty") : new(table, null);
        }
        catch (TomlException e)
        {
            return new(null, e.Message);
        }
        catch (ArgumentException e)
        {
            // Tomlyn 2.10.2 throws this for some invalid escapes instead of reporting them; still just invalid input.
            return new(null, $"invalid TOML ({e.Message})");
        }
    }

    /// <summary>TOML's rules, strictly: a key defined twice is an error (cargo refuses it too), never "last one wins".</summary>
    private static TomlSerializerOptions Options(int maxDepth) => new()
    {
        MaxDepth = maxDepth + 2, // the document table and a table header around the deepest value
        DuplicateKeyHandling = TomlDuplicateKeyHandling.Error,
    };

    /// <summary>
    /// The deepest nesting of <c>[</c> and <c>{</c> outside strings and comments, counted no further than one past
    /// <paramref name="limit"/>. Table headers count too (<c>[[a]]</c> is 2), which is harmless: they close at once.
    /// The scan is linear and allocates nothing; malformed text is left for the parser to refuse.
    /// </summary>
    public static int NestingDepth(ReadOnlySpan<char> text, int limit)
    {
        int depth = 0, deepest = 0;
        for (var i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '#':
                    var newline = text[i..].IndexOf('\n');
                    i = newline < 0 ? text.Length : i + newline;
                    break;
                case '"' or '\'':
                    i = EndOfString(text, i);
                    break;
                case '[' or '{':
                    deepest = Math.Max(deepest, ++depth);
                    if (deepest > limit)
                    {
                        return deepest;
                    }

                    break;
                case ']' or '}':
                    depth = Math.Max(0, depth - 1);
                    break;
            }
        }

        return deepest;
    }

    /// <summary>The index of the quote that closes the string opening at <paramref name="start"/> (or the end of the text).</summary>
    private static int EndOfString(ReadOnlySpan<char> text, int start)
    {
        var quote = text[start];
        var multiline = text[start..].StartsWith(quote == '"' ? "\"\"\"" : "'''");
        var escapes = quote == '"';
        var i = start + (multiline ? 3 : 1);
        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (escapes && c == '\\')
            {
                i++;
            }
            else if (!multiline && c == '\n')
            {
                return i; // unterminated: the parser says so
            }
            else if (c == quote && (!multiline || text[i..].StartsWith(quote == '"' ? "\"\"\"" : "'''")))
            {
                // Up to two more quotes may close a multi-line string ("""a"""" is a string ending in one quote).
                if (multiline)
                {
                    i += 2;
                    while (i + 1 < text.Length && text[i + 1] == quote)
                    {
                        i++;
                    }
                }

                return i;
            }
        }

        return text.Length;
    }
}
