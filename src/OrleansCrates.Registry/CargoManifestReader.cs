using System.Globalization;
using System.Text;

namespace OrleansCrates.Registry;

/// <summary>
/// Reads <c>package.name</c> and <c>package.version</c> from a packaged Cargo.toml. A small TOML scanner: it walks
/// every table, key and value (strings of all four kinds, arrays, inline tables, bare scalars) so text inside strings
/// or arrays can never be mistaken for a key, but it keeps only the two strings it needs.
/// </summary>
internal sealed class CargoManifestReader
{
    private readonly string _text;
    private int _pos;
    private string? _name;
    private string? _version;

    private CargoManifestReader(string text) => _text = text;

    /// <summary>The <c>[package]</c> (or legacy <c>[project]</c>) name and version, or why they could not be read.</summary>
    public static (string? Name, string? Version, string? Error) Read(string text)
    {
        var reader = new CargoManifestReader(text.StartsWith('\uFEFF') ? text[1..] : text);
        try
        {
            reader.ReadDocument();
        }
        catch (FormatException e)
        {
            return (null, null, $"{e.Message} (line {reader.Line})");
        }

        return (reader._name, reader._version, null);
    }

    private int Line => 1 + _text.AsSpan(0, Math.Min(_pos, _text.Length)).Count('\n');

    private bool AtEnd => _pos >= _text.Length;

    private char Current => _text[_pos];

    private void ReadDocument()
    {
        var table = "";
        while (true)
        {
            SkipBlankLinesAndComments();
            if (AtEnd)
            {
                return;
            }

            if (Current == '[')
            {
                var arrayTable = _pos + 1 < _text.Length && _text[_pos + 1] == '[';
                _pos += arrayTable ? 2 : 1;
                table = string.Join('.', ReadKey());
                Expect(']');
                if (arrayTable)
                {
                    Expect(']');
                }

                table = arrayTable ? "[" + table + "]" : table;
                EndOfLine();
                continue;
            }

            var key = ReadKey();
            SkipSpaces();
            Expect('=');
            SkipSpaces();
            var value = ReadValue();
            if (table is "package" or "project" && key.Count == 1 && key[0] is "name" or "version")
            {
                if (value is null)
                {
                    throw new FormatException($"`package.{key[0]}` is not a string");
                }

                if ((key[0] == "name" ? _name : _version) is not null)
                {
                    throw new FormatException($"`package.{key[0]}` is defined twice");
                }

                if (key[0] == "name")
                {
                    _name = value;
                }
                else
                {
                    _version = value;
                }
            }

            EndOfLine();
        }
    }

    private List<string> ReadKey()
    {
        var parts = new List<string>();
        while (true)
        {
            SkipSpaces();
            if (AtEnd)
            {
                throw new FormatException("expected a key");
            }

            if (Current == '"' && !StartsWith("\"\"\""))
            {
                parts.Add(ReadBasicString());
            }
            else if (Current == '\'' && !StartsWith("'''"))
            {
                parts.Add(ReadLiteralString());
            }
            else
            {
                var start = _pos;
                while (!AtEnd && (char.IsAsciiLetterOrDigit(Current) || Current is '_' or '-'))
                {
                    _pos++;
                }

                if (_pos == start)
                {
                    throw new FormatException($"unexpected `{Current}` where a key was expected");
                }

                parts.Add(_text[start.._pos]);
            }

            SkipSpaces();
            if (AtEnd || Current != '.')
            {
                return parts;
            }

            _pos++;
        }
    }

    /// <summary>Reads any value; returns its text when it is a string, else null.</summary>
    private string? ReadValue()
    {
        if (AtEnd)
        {
            throw new FormatException("expected a value");
        }

        if (StartsWith("\"\"\""))
        {
            return ReadMultiLineString('"');
        }

        if (StartsWith("'''"))
        {
            return ReadMultiLineString('\'');
        }

        switch (Current)
        {
            case '"':
                return ReadBasicString();
            case '\'':
                return ReadLiteralString();
            case '[':
                _pos++;
                while (true)
                {
                    SkipBlankLinesAndComments();
                    if (AtEnd)
                    {
                        throw new FormatException("unterminated array");
                    }

                    if (Current == ']')
                    {
                        _pos++;
                        return null;
                    }

                    ReadValue();
                    SkipBlankLinesAndComments();
                    if (!AtEnd && Current == ',')
                    {
                        _pos++;
                    }
                    else if (AtEnd || Current != ']')
                    {
                        throw new FormatException("expected `,` or `]` in an array");
                    }
                }

            case '{':
                _pos++;
                while (true)
                {
                    SkipSpaces();
                    if (AtEnd)
                    {
                        throw new FormatException("unterminated inline table");
                    }

                    if (Current == '}')
                    {
                        _pos++;
                        return null;
                    }

                    ReadKey();
                    SkipSpaces();
                    Expect('=');
                    SkipSpaces();
                    ReadValue();
                    SkipSpaces();
                    if (!AtEnd && Current == ',')
                    {
                        _pos++;
                    }
                    else if (AtEnd || Current != '}')
                    {
                        throw new FormatException("expected `,` or `}` in an inline table");
                    }
                }

            default:
                // Numbers, booleans, dates and times (which may contain one space): up to the next delimiter.
                var start = _pos;
                while (!AtEnd && Current is not (',' or ']' or '}' or '#' or '\n' or '\r'))
                {
                    _pos++;
                }

                while (_pos > start && _text[_pos - 1] is ' ' or '\t')
                {
                    _pos--;
                }

                if (_pos == start)
                {
                    throw new FormatException($"unexpected `{Current}` where a value was expected");
                }

                return null;
        }
    }

    private string ReadBasicString()
    {
        _pos++; // opening quote
        var sb = new StringBuilder();
        while (true)
        {
            if (AtEnd || Current is '\n' or '\r')
            {
                throw new FormatException("unterminated string");
            }

            var c = Current;
            _pos++;
            if (c == '"')
            {
                return sb.ToString();
            }

            if (c == '\\')
            {
                ReadEscape(sb);
            }
            else
            {
                sb.Append(c);
            }
        }
    }

    private string ReadLiteralString()
    {
        _pos++;
        var end = _text.IndexOf('\'', _pos);
        var newline = _text.IndexOf('\n', _pos);
        if (end < 0 || (newline >= 0 && newline < end))
        {
            throw new FormatException("unterminated literal string");
        }

        var value = _text[_pos..end];
        _pos = end + 1;
        return value;
    }

    private string ReadMultiLineString(char quote)
    {
        _pos += 3;
        // A newline right after the opening delimiter is not part of the string.
        if (StartsWith("\r\n"))
        {
            _pos += 2;
        }
        else if (StartsWith("\n"))
        {
            _pos++;
        }

        var sb = new StringBuilder();
        while (true)
        {
            if (AtEnd)
            {
                throw new FormatException("unterminated multi-line string");
            }

            var c = Current;
            if (c == quote && StartsWith(new string(quote, 3)))
            {
                // Up to two quotes may sit right before the closing delimiter ("""a""""" is `a""`).
                var run = 0;
                while (_pos + run < _text.Length && _text[_pos + run] == quote)
                {
                    run++;
                }

                if (run > 5)
                {
                    throw new FormatException("too many quotes at the end of a multi-line string");
                }

                sb.Append(quote, run - 3);
                _pos += run;
                return sb.ToString();
            }

            _pos++;
            if (c == '\\' && quote == '"')
            {
                // A backslash at the end of a line trims the newline and the whitespace after it.
                var look = _pos;
                while (look < _text.Length && _text[look] is ' ' or '\t')
                {
                    look++;
                }

                if (look < _text.Length && _text[look] is '\n' or '\r')
                {
                    _pos = look;
                    while (!AtEnd && Current is ' ' or '\t' or '\n' or '\r')
                    {
                        _pos++;
                    }
                }
                else
                {
                    ReadEscape(sb);
                }
            }
            else
            {
                sb.Append(c);
            }
        }
    }

    private void ReadEscape(StringBuilder sb)
    {
        if (AtEnd)
        {
            throw new FormatException("unterminated escape sequence");
        }

        var e = Current;
        _pos++;
        switch (e)
        {
            case 'b': sb.Append('\b'); break;
            case 't': sb.Append('\t'); break;
            case 'n': sb.Append('\n'); break;
            case 'f': sb.Append('\f'); break;
            case 'r': sb.Append('\r'); break;
            case 'e': sb.Append('\u001b'); break;
            case '"': sb.Append('"'); break;
            case '\\': sb.Append('\\'); break;
            case 'x': sb.Append(ReadHex(2)); break;
            case 'u': sb.Append(ReadHex(4)); break;
            case 'U': sb.Append(ReadHex(8)); break;
            default: throw new FormatException($"invalid escape sequence `\\{e}`");
        }
    }

    private string ReadHex(int digits)
    {
        if (_pos + digits > _text.Length
            || !int.TryParse(_text.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code)
            || code > 0x10FFFF
            || code is >= 0xD800 and <= 0xDFFF)
        {
            throw new FormatException("invalid unicode escape");
        }

        _pos += digits;
        return char.ConvertFromUtf32(code);
    }

    private void SkipSpaces()
    {
        while (!AtEnd && Current is ' ' or '\t')
        {
            _pos++;
        }
    }

    private void SkipBlankLinesAndComments()
    {
        while (!AtEnd)
        {
            if (Current is ' ' or '\t' or '\n' or '\r')
            {
                _pos++;
            }
            else if (Current == '#')
            {
                SkipComment();
            }
            else
            {
                return;
            }
        }
    }

    private void SkipComment()
    {
        var newline = _text.IndexOf('\n', _pos);
        _pos = newline < 0 ? _text.Length : newline;
    }

    private void EndOfLine()
    {
        SkipSpaces();
        if (!AtEnd && Current == '#')
        {
            SkipComment();
        }

        if (StartsWith("\r\n"))
        {
            _pos += 2;
        }
        else if (!AtEnd && Current == '\n')
        {
            _pos++;
        }
        else if (!AtEnd)
        {
            throw new FormatException($"unexpected `{Current}` at the end of a line");
        }
    }

    private void Expect(char c)
    {
        if (AtEnd || Current != c)
        {
            throw new FormatException($"expected `{c}`");
        }

        _pos++;
    }

    private bool StartsWith(string value) => string.CompareOrdinal(_text, _pos, value, 0, value.Length) == 0;
}
