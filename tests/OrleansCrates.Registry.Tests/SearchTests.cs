using System.Text.Json;
using OrleansCrates.Protocol;

namespace OrleansCrates.Registry.Tests;

public sealed class SearchTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Search_matches_names_and_descriptions_and_reports_the_newest_unyanked_version()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "http-client", "1.9.0", description: "Talks HTTP");
        await h.PublishAsync("alice", "http-client", "1.10.0", description: "Talks HTTP well");
        await h.PublishAsync("alice", "http-client", "2.0.0-beta.1", description: "Talks HTTP/2");
        await h.PublishAsync("alice", "HTTP_server", "0.1.0", description: "Serves");
        await h.PublishAsync("bob", "json-tools", "3.0.0", description: "Parsing JSON, also over HTTP");
        await h.PublishAsync("bob", "json-tools", "3.1.0", description: "Parsing JSON, also over HTTP");
        await h.PublishAsync("carol", "unrelated", "1.0.0", description: null);
        Assert.True((await h.Registry.YankAsync("bob", false, CrateName.Parse("json-tools"), "3.1.0", true, Ct)).Succeeded);

        var http = await h.NewNode().SearchAsync("HTTP", 10, Ct);

        Assert.Equal(3, http.Total);
        Assert.Equal(
            [new CrateSummary("http-client", "2.0.0-beta.1", "Talks HTTP/2"), new CrateSummary("HTTP_server", "0.1.0", "Serves"), new CrateSummary("json-tools", "3.0.0", "Parsing JSON, also over HTTP")],
            http.Crates);

        var exact = await h.Registry.SearchAsync("http_client", 10, Ct);
        Assert.Equal("http-client", exact.Crates[0].Name);
        Assert.Equal(1, exact.Total);
        Assert.Equal(["http-client", "HTTP_server"], (await h.Registry.SearchAsync("http-", 10, Ct)).Crates.Select(c => c.Name));
        Assert.Equal(0, (await h.Registry.SearchAsync("nothing-like-it", 10, Ct)).Total);
        Assert.Equal(
            """{"name":"json-tools","max_version":"3.0.0","description":"Parsing JSON, also over HTTP"}""",
            JsonSerializer.Serialize((await h.Registry.SearchAsync("json", 1, Ct)).Crates[0]));
    }

    [Fact]
    public async Task Page_size_is_clamped_and_total_counts_every_hit()
    {
        using var h = new RegistryHarness();
        for (var i = 0; i < 5; i++)
        {
            await h.PublishAsync("alice", $"paged-{i}", "1.0.0");
        }

        var one = await h.Registry.SearchAsync(null, 0, Ct);
        Assert.Single(one.Crates);
        Assert.Equal(5, one.Total);
        Assert.Equal("paged-0", one.Crates[0].Name);
        var all = await h.Registry.SearchAsync("  ", 1000, Ct);
        Assert.Equal(5, all.Crates.Count);
        Assert.Equal(["paged-0", "paged-1", "paged-2", "paged-3", "paged-4"], all.Crates.Select(c => c.Name));
    }

    [Fact]
    public async Task Names_lists_first_spellings_and_search_sees_changes_made_on_other_nodes()
    {
        using var h = new RegistryHarness();
        var searcher = h.NewNode();
        await h.PublishAsync("alice", "First-Spelling", "1.0.0");
        Assert.Equal("1.0.0", (await searcher.SearchAsync("first", 5, Ct)).Crates.Single().MaxVersion);

        await h.PublishAsync("alice", "First-Spelling", "1.1.0");
        await h.PublishAsync("alice", "second", "0.1.0");

        Assert.Equal("1.1.0", (await searcher.SearchAsync("first", 5, Ct)).Crates.Single().MaxVersion);
        var names = new List<string>();
        await foreach (var name in searcher.ListCrateNamesAsync(Ct))
        {
            names.Add(name);
        }

        names.Sort(StringComparer.Ordinal);
        Assert.Equal(["First-Spelling", "second"], names);
    }
}
