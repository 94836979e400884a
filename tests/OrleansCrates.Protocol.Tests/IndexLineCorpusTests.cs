using CsCheck;

namespace OrleansCrates.Protocol.Tests;

/// <summary>The index line parser answers for any bytes: the fuzzing finds in tests/corpus/index-lines, and random lines.</summary>
public sealed class IndexLineCorpusTests
{
    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Folder(), "*.index").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void A_fuzzing_find_parses_without_throwing(string file)
    {
        var content = File.ReadAllBytes(Path.Combine(Folder(), file));
        var lines = IndexFile.Lines(content).Select(l => IndexLine.TryParse(l.Span)).ToList();
        Assert.NotEmpty(lines);
        Assert.All(lines.Where(l => l is not null), l => Assert.True(Sha256Hex.IsValid(l!.Checksum)));
        _ = IndexFile.FindVersion(content, "1.0.0");
    }

    [Fact]
    public void A_line_whose_strings_are_not_utf8_is_not_a_usable_line() =>
        Gen.Select(Gen.Byte[0x80, 0xFF].Array[1, 4], Gen.Int[0, 2]).Sample((bad, field) =>
        {
            var strings = new[] { "fuzz"u8.ToArray(), "1.0.0"u8.ToArray(), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"u8.ToArray() };
            strings[field] = [.. strings[field], .. bad];
            byte[] line = [.. "{\"name\":\""u8, .. strings[0], .. "\",\"vers\":\""u8, .. strings[1], .. "\",\"cksum\":\""u8, .. strings[2], .. "\"}"u8];
            if (System.Text.Unicode.Utf8.IsValid(line))
            {
                return; // the bytes happened to form a valid sequence
            }

            Assert.Null(IndexLine.TryParse(line));
        });

    private static string Folder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "corpus", "index-lines");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/corpus/index-lines not found above " + AppContext.BaseDirectory);
    }
}
