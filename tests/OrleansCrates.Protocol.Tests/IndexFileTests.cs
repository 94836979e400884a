using System.Text;
using OrleansCrates.Protocol;

namespace OrleansCrates.Protocol.Tests;

public class IndexFileTests
{
    private const string Sum1 = "1111111111111111111111111111111111111111111111111111111111111111";
    private const string Sum2 = "2222222222222222222222222222222222222222222222222222222222222222";

    private static readonly byte[] File = Encoding.UTF8.GetBytes(
        $$"""{"name":"Foo","vers":"1.0.0","deps":[],"cksum":"{{Sum1}}","features":{},"yanked":false}""" + "\n" +
        $$$"""{"name":"Foo","vers":"1.0.0+build.2","deps":[{"name":"x","req":"^1.0.0"}],"cksum":"{{{Sum2}}}","features":{},"yanked":true,"v":2,"features2":{}}""" + "\n" +
        "not json at all\n" +
        "\n");

    [Fact]
    public void Finds_the_exact_version()
    {
        var plain = IndexFile.FindVersion(File, "1.0.0");
        Assert.NotNull(plain);
        Assert.Equal(Sum1, plain.Checksum);
        Assert.False(plain.Yanked);
        Assert.Equal("Foo", plain.Name);

        var withBuild = IndexFile.FindVersion(File, "1.0.0+build.2");
        Assert.NotNull(withBuild);
        Assert.Equal(Sum2, withBuild.Checksum);
        Assert.True(withBuild.Yanked);
    }

    [Fact]
    public void Missing_versions_are_null() => Assert.Null(IndexFile.FindVersion(File, "1.0"));

    [Fact]
    public void Lines_skip_blank_lines_and_keep_bytes()
    {
        var lines = IndexFile.Lines(File).Select(l => Encoding.UTF8.GetString(l.Span)).ToList();
        Assert.Equal(3, lines.Count);
        Assert.Equal("not json at all", lines[2]);
    }

    [Theory]
    [InlineData("""{"name":"a","vers":"1.0.0","deps":[]}""")]
    [InlineData("""{"name":"a","vers":"1.0.0","cksum":"ABC"}""")]
    [InlineData("""["not","an","object"]""")]
    [InlineData("""{"name":"a","vers":"1.0.0","cksum":""")]
    public void Unusable_lines_are_null(string line) => Assert.Null(IndexLine.TryParse(Encoding.UTF8.GetBytes(line)));
}

public class DownloadTemplateTests
{
    private const string Sum = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";

    [Theory]
    [InlineData("https://dl.example/crates", "https://dl.example/crates/MixedCase/1.0.0+b.1/download")]
    [InlineData("https://dl.example/{crate}/{version}", "https://dl.example/MixedCase/1.0.0+b.1")]
    [InlineData("https://dl.example/{prefix}/{crate}-{version}.crate", "https://dl.example/Mi/xe/MixedCase-1.0.0+b.1.crate")]
    [InlineData("https://dl.example/{lowerprefix}/{crate}", "https://dl.example/mi/xe/MixedCase")]
    [InlineData("https://dl.example/by-sum/{sha256-checksum}", "https://dl.example/by-sum/" + Sum)]
    public void Expands_like_cargo(string dl, string expected) =>
        Assert.Equal(expected, DownloadTemplate.Expand(dl, CrateName.Parse("MixedCase"), "1.0.0+b.1", Sum));

    [Fact]
    public void Config_ignores_unknown_keys_and_requires_dl()
    {
        var config = RegistryConfig.TryParse("""{"dl":"https://x/{crate}","api":"https://x","auth-required":true,"future":1}"""u8);
        Assert.NotNull(config);
        Assert.Equal("https://x/{crate}", config.Dl);
        Assert.True(config.AuthRequired);
        Assert.Null(RegistryConfig.TryParse("""{"api":"https://x"}"""u8));
        Assert.Null(RegistryConfig.TryParse("<html>"u8));
    }

    [Fact]
    public void Config_serializes_without_absent_fields() =>
        Assert.Equal("""{"dl":"https://m/crates/{crate}/{version}/download"}""",
            Encoding.UTF8.GetString(new RegistryConfig("https://m/crates/{crate}/{version}/download").ToJsonBytes()));
}
