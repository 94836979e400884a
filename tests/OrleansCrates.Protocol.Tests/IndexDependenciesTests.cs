using System.Text;

namespace OrleansCrates.Protocol.Tests;

/// <summary>Which crates cargo will look up after an index file (<see cref="IndexDependencies"/>).</summary>
public sealed class IndexDependenciesTests
{
    private const string Sum = "1111111111111111111111111111111111111111111111111111111111111111";

    [Fact]
    public void The_newest_release_that_is_not_yanked_is_the_line_read()
    {
        var file = File(
            Line("1.0.0", """{"name":"old","req":"^1"}"""),
            Line("2.0.0", """{"name":"newest","req":"^1"}"""),
            Line("1.5.0", """{"name":"patched-later","req":"^1"}"""), // published after 2.0.0: file order is not version order
            Line("3.0.0-rc.1", """{"name":"prerelease","req":"^1"}"""),
            Line("2.1.0", """{"name":"yanked","req":"^1"}""", yanked: true));

        Assert.Equal(["newest"], Names(IndexDependencies.OfNewest(file, 10)));
    }

    [Fact]
    public void With_only_prereleases_the_newest_prerelease_is_read_and_with_everything_yanked_nothing()
    {
        Assert.Equal(["b"], Names(IndexDependencies.OfNewest(File(Line("1.0.0-alpha.1", """{"name":"a","req":"^1"}"""), Line("1.0.0-beta.1", """{"name":"b","req":"^1"}""")), 10)));
        Assert.Empty(IndexDependencies.OfNewest(File(Line("1.0.0", """{"name":"a","req":"^1"}""", yanked: true)), 10));
        Assert.Empty(IndexDependencies.OfNewest(Encoding.UTF8.GetBytes("not json\n\n"), 10));
    }

    [Fact]
    public void Normal_and_build_dependencies_of_every_target_count_and_optional_dev_and_other_registries_do_not()
    {
        var line = Line(
            "1.0.0",
            """{"name":"normal","req":"^1","kind":"normal"}""",
            """{"name":"no-kind","req":"^1"}""",
            """{"name":"null-kind","req":"^1","kind":null}""",
            """{"name":"build","req":"^1","kind":"build"}""",
            """{"name":"windows-only","req":"^1","target":"cfg(windows)"}""",
            """{"name":"dev","req":"^1","kind":"dev"}""",
            """{"name":"opt","req":"^1","optional":true}""",
            """{"name":"elsewhere","req":"^1","registry":"https://github.com/rust-lang/crates.io-index"}""",
            """{"name":"null-registry","req":"^1","registry":null}""",
            """{"name":"alias","req":"^1","package":"Real_Name"}""",
            """{"name":"not a name!","req":"^1"}""",
            """{"name":"normal","req":"^1","kind":"build"}"""); // the same crate twice: once

        Assert.Equal(
            ["normal", "no-kind", "null-kind", "build", "windows-only", "null-registry", "Real_Name"],
            Names(IndexDependencies.Of(Encoding.UTF8.GetBytes(line), 100)));
    }

    [Fact]
    public void At_most_max_crates_are_returned()
    {
        var deps = Enumerable.Range(0, 20).Select(i => $$"""{"name":"dep-{{i}}","req":"^1"}""").ToArray();

        Assert.Equal(["dep-0", "dep-1", "dep-2"], Names(IndexDependencies.OfNewest(File(Line("1.0.0", deps)), 3)));
        Assert.Empty(IndexDependencies.OfNewest(File(Line("1.0.0", deps)), 0));
    }

    [Theory]
    [InlineData("""{"name":"x","vers":"1.0.0","deps":[{"name":"a","req":"^1"},""")]
    [InlineData("""{"name":"x","vers":"1.0.0","deps":{"name":"a"}}""")]
    [InlineData("""["deps"]""")]
    public void A_line_that_is_not_a_whole_index_entry_gives_nothing(string line) =>
        Assert.Empty(IndexDependencies.Of(Encoding.UTF8.GetBytes(line), 10));

    private static string Line(string version, params string[] deps) => Line(version, deps, yanked: false);

    private static string Line(string version, string dep, bool yanked) => Line(version, [dep], yanked);

    private static string Line(string version, string[] deps, bool yanked) =>
        $$"""{"name":"x","vers":"{{version}}","deps":[{{string.Join(",", deps)}}],"cksum":"{{Sum}}","features":{},"yanked":{{(yanked ? "true" : "false")}}}""";

    private static byte[] File(params string[] lines) => Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n");

    private static string[] Names(IReadOnlyList<CrateName> names) => [.. names.Select(n => n.Value)];
}
