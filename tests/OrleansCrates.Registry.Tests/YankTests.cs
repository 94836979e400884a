using System.Text;
using OrleansCrates.Protocol;
using OrleansCrates.Testing;

namespace OrleansCrates.Registry.Tests;

public sealed class YankTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Yank_and_unyank_change_only_the_flag_of_that_one_line()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "yanky", "1.0.0");
        await h.PublishAsync("alice", "yanky", "1.1.0+build.1");
        await h.PublishAsync("alice", "yanky", "1.2.0");
        var name = CrateName.Parse("yanky");
        var original = (await h.IndexTextAsync("yanky")).Split('\n');

        var yank = await h.NewNode().YankAsync("alice", false, name, "1.1.0+build.1", true, Ct);

        Assert.True(yank.Succeeded, yank.Error?.ToString());
        var yanked = (await h.IndexTextAsync("yanky")).Split('\n');
        Assert.Equal(original.Length, yanked.Length);
        Assert.Equal(original[0], yanked[0]);
        Assert.Equal(original[2], yanked[2]);
        Assert.Equal(original[3], yanked[3]);
        Assert.Equal(original[1].Replace("\"yanked\":false", "\"yanked\":true", StringComparison.Ordinal), yanked[1]);
        Assert.NotEqual(original[1], yanked[1]);
        Assert.True(JsonAssert.ParseLine(yanked[1]).GetProperty("yanked").GetBoolean());

        // Yanking again changes nothing; the version without build metadata finds the same line.
        Assert.True((await h.Registry.YankAsync("alice", false, name, "1.1.0", true, Ct)).Succeeded);
        Assert.Equal(string.Join('\n', yanked), await h.IndexTextAsync("yanky"));

        // Yanked files stay downloadable.
        await using (var file = await h.Registry.OpenCrateFileAsync(name, "1.1.0+build.1", Ct))
        {
            Assert.True(file.Found);
        }

        var unyank = await h.Registry.YankAsync("admin", true, name, "1.1.0+build.1", false, Ct);
        Assert.True(unyank.Succeeded, unyank.Error?.ToString());
        Assert.Equal(string.Join('\n', original), await h.IndexTextAsync("yanky"));
    }

    [Fact]
    public async Task Yank_is_refused_for_non_owners_and_unknown_versions()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "guarded-yank", "1.0.0");
        var name = CrateName.Parse("guarded-yank");
        var before = await h.IndexTextAsync("guarded-yank");

        Assert.Equal(
            new RegistryError(403, "only owners of crate `guarded-yank` may yank or unyank its versions"),
            (await h.Registry.YankAsync("mallory", false, name, "1.0.0", true, Ct)).Error);
        Assert.Equal(
            new RegistryError(404, "crate `guarded-yank` has no version `2.0.0`"),
            (await h.Registry.YankAsync("alice", false, name, "2.0.0", true, Ct)).Error);
        Assert.Equal(404, (await h.Registry.YankAsync("alice", false, name, "1.0.0+other", true, Ct)).Error?.Status);
        Assert.Equal(404, (await h.Registry.YankAsync("alice", false, name, "garbage", true, Ct)).Error?.Status);
        Assert.Equal(
            new RegistryError(404, "crate `unknown` does not exist"),
            (await h.Registry.YankAsync("alice", true, CrateName.Parse("unknown"), "1.0.0", true, Ct)).Error);
        Assert.Equal(before, await h.IndexTextAsync("guarded-yank"));
    }

    [Fact]
    public async Task The_other_spelling_finds_the_crate_and_the_first_spelling_is_changed()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "Two-Words", "1.0.0");

        Assert.True((await h.Registry.YankAsync("alice", false, CrateName.Parse("two_words"), "1.0.0", true, Ct)).Succeeded);

        var line = JsonAssert.ParseLine((await h.IndexTextAsync("two-words")).TrimEnd('\n'));
        Assert.True(line.GetProperty("yanked").GetBoolean());
        var search = await h.Registry.SearchAsync("two", 10, Ct);
        Assert.Equal("0.0.0", Assert.Single(search.Crates).MaxVersion);
    }

    [Fact]
    public void Flipping_touches_the_top_level_flag_only()
    {
        var line = """{"name":"x","vers":"1.0.0","deps":[{"name":"yanked","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":null}],"cksum":"00","features":{"yanked":[]},"yanked":false,"links":null}""";
        var content = Encoding.UTF8.GetBytes("first\n" + line + "\nlast\n");

        var flipped = Encoding.UTF8.GetString(PrivateIndexLines.WithYanked(content, 6, line.Length, true));

        Assert.Equal("first\n" + line.Replace("\"yanked\":false", "\"yanked\":true", StringComparison.Ordinal) + "\nlast\n", flipped);
    }
}
