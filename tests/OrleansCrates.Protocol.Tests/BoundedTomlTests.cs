using CsCheck;
using OrleansCrates.Protocol;

namespace OrleansCrates.Protocol.Tests;

/// <summary>The bounds in front of Tomlyn for untrusted TOML: size, and nesting measured before the parser runs.</summary>
public sealed class BoundedTomlTests
{
    [Theory]
    [InlineData('[', ']')]
    [InlineData('{', '}')]
    public void Nesting_past_the_bound_is_refused_before_parsing_even_a_million_deep(char open, char close)
    {
        var deep = "x = " + new string(open, 1_000_000) + new string(close, 1_000_000);
        var document = BoundedToml.Parse(deep, maxChars: 4_000_000);
        Assert.Null(document.Table);
        Assert.Equal($"arrays or inline tables nest more than {BoundedToml.DefaultMaxDepth} deep", document.Error);
    }

    [Fact]
    public void A_document_over_the_size_cap_is_refused_without_reading_it()
    {
        var big = "[package]\nname = \"a\"\ndescription = \"" + new string('x', 2000) + "\"\n";
        var document = BoundedToml.Parse(big, maxChars: 1000);
        Assert.Null(document.Table);
        Assert.StartsWith($"the document is {big.Length} characters; at most 1000", document.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_very_long_dotted_key_is_an_error_not_a_crash()
    {
        var dotted = string.Join('.', Enumerable.Repeat("k", 100_000)) + " = 1\n";
        var document = BoundedToml.Parse(dotted, maxChars: 1_000_000);
        Assert.Null(document.Table);
        Assert.NotNull(document.Error);
    }

    [Fact]
    public void Nesting_is_measured_exactly_and_brackets_in_strings_and_comments_do_not_count()
    {
        Gen.Int[1, 60].Select(Gen.Int[0, 3], Gen.Bool).Sample((depth, noise, inline) =>
        {
            string Wrap(int level) => level == depth ? "1"
                : inline ? "{ k = " + Wrap(level + 1) + " }"
                : "[" + Wrap(level + 1) + "]";

            var decoy = noise switch
            {
                0 => "",
                1 => "s = \"[[[{{{\"\n",
                2 => "# [[[[{{{{\n",
                _ => "m = '''\n[[[[\n'''\nb = \"\"\"\n{{{{ \\\" [[[ \"\"\"\n",
            };
            var text = decoy + "v = " + Wrap(0) + "\n";
            Assert.Equal(depth, BoundedToml.NestingDepth(text, limit: 100));

            var document = BoundedToml.Parse(text, maxChars: 100_000);
            Assert.Equal(depth <= BoundedToml.DefaultMaxDepth, document.Table is not null);
        });
    }

    [Fact]
    public void Arbitrary_text_never_throws_and_either_parses_or_says_why()
    {
        const string alphabet = "[]{}\"'#\n=,\\a1 .";
        Gen.Int[0, alphabet.Length - 1].Select(i => alphabet[i]).Array[0, 200].Select(c => new string(c)).Sample(text =>
        {
            var document = BoundedToml.Parse(text, maxChars: 10_000);
            Assert.True(document.Table is not null ^ document.Error is not null);
        }, iter: 5_000);
    }
}
