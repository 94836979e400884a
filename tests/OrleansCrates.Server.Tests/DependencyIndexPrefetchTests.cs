using OrleansCrates.Mirror;
using OrleansCrates.Operations;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Server.Services;
using OrleansCrates.Storage;
using OrleansCrates.Testing;

namespace OrleansCrates.Server.Tests;

/// <summary>
/// <c>Mirror:PrefetchDependencyIndexes</c> (<see cref="DependencyIndexPrefetch"/>) with the real coordinator, a
/// filesystem store and a fake upstream over HTTP: which index files it asks upstream for after a client's miss.
/// </summary>
public sealed class DependencyIndexPrefetchTests : IAsyncLifetime
{
    private static readonly CrateGraph Graph = CrateGraph.Create(
    [
        CrateGraph.BuildCrate("root-app", "0.9.0", [new CrateDependency("old-only", "^1")]),
        CrateGraph.BuildCrate("root-app", "1.0.0",
        [
            new CrateDependency("chain-1", "^1"),
            new CrateDependency("built", "^1", Kind: "build"),
            new CrateDependency("renamed", "^1", Package: "real-target"),
            new CrateDependency("opt-dep", "^1", Optional: true),
            new CrateDependency("dev-dep", "^1", Kind: "dev"),
            new CrateDependency("denied-dep", "^1"),
            new CrateDependency("private-dep", "^1"),
        ]),
        CrateGraph.BuildCrate("chain-1", "1.0.0", [new CrateDependency("chain-2", "^1")]),
        CrateGraph.BuildCrate("chain-2", "1.0.0"),
        CrateGraph.BuildCrate("built", "1.0.0"),
        CrateGraph.BuildCrate("real-target", "1.0.0"),
        CrateGraph.BuildCrate("old-only", "1.0.0"),
        CrateGraph.BuildCrate("opt-dep", "1.0.0"),
        CrateGraph.BuildCrate("dev-dep", "1.0.0"),
        CrateGraph.BuildCrate("denied-dep", "1.0.0"),
        CrateGraph.BuildCrate("private-dep", "1.0.0"),
    ]);

    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync(Graph);

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    [Fact]
    public async Task After_a_miss_the_dependencies_cargo_will_ask_for_are_fetched_once_and_then_served_from_memory()
    {
        await using var server = Server(new() { ["Mirror:PrefetchDependencyIndexes"] = "true", ["Mirror:Policy:Deny:0"] = "denied-dep" });
        await server.Store.PutAsync(RegistryKeys.Meta(CrateName.Parse("private-dep")), "{}"u8.ToArray(), WriteCondition.IfNotExists, default);
        var prefetch = await StartedAsync(server);
        var coordinator = server.Get<CrateCoordinator>();

        var miss = await coordinator.GetIndexAsync(CrateName.Parse("root-app"), Timeout());
        Assert.Equal(CacheOutcome.Miss, miss.Outcome);
        prefetch.After(miss);
        await prefetch.WhenIdleAsync(Timeout());

        // The newest version's normal, build and renamed dependencies, and theirs in turn (chain-2): each asked once.
        Assert.Equal(
            new Dictionary<string, int> { ["chain-1"] = 1, ["chain-2"] = 1, ["built"] = 1, ["real-target"] = 1 },
            new[] { "chain-1", "chain-2", "built", "real-target" }.ToDictionary(n => n, _upstream.IndexRequests));

        // Not asked: an older version's dependency, optional and dev ones, a name the policy denies, a private crate's name.
        Assert.All(new[] { "old-only", "opt-dep", "dev-dep", "denied-dep", "private-dep" }, n => Assert.Equal(0, _upstream.IndexRequests(n)));

        // cargo's request for a prefetched file is a hit, and upstream is not asked again.
        var chain2 = await coordinator.GetIndexAsync(CrateName.Parse("chain-2"), Timeout());
        Assert.Equal((IndexStatus.Found, CacheOutcome.Hit), (chain2.Status, chain2.Outcome));
        Assert.Equal(1, _upstream.IndexRequests("chain-2"));

        // A hit queues nothing.
        var again = await coordinator.GetIndexAsync(CrateName.Parse("root-app"), Timeout());
        Assert.Equal(CacheOutcome.Hit, again.Outcome);
        prefetch.After(again);
        await prefetch.WhenIdleAsync(Timeout());
        Assert.Equal(1, _upstream.IndexRequests("chain-1"));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("true", "true")] // reads need a token: what a caller may see is the caller's, so nothing is fetched for no one
    public async Task Off_by_default_and_where_reads_need_a_token_nothing_is_prefetched(string? prefetchSetting, string? readRequiresToken)
    {
        await using var server = Server(new() { ["Mirror:PrefetchDependencyIndexes"] = prefetchSetting, ["Mirror:ReadRequiresToken"] = readRequiresToken });
        var prefetch = await StartedAsync(server);

        var miss = await server.Get<CrateCoordinator>().GetIndexAsync(CrateName.Parse("root-app"), Timeout());
        Assert.Equal((IndexStatus.Found, CacheOutcome.Miss), (miss.Status, miss.Outcome));
        prefetch.After(miss);
        await prefetch.WhenIdleAsync(Timeout());

        Assert.Equal(1, _upstream.TotalRequests);
    }

    private ServerHarness Server(Dictionary<string, string?> settings)
    {
        settings["Mirror:Upstreams:0:IndexUrl"] = _upstream.IndexUrl;
        return new ServerHarness(settings);
    }

    private static async Task<DependencyIndexPrefetch> StartedAsync(ServerHarness server)
    {
        var prefetch = server.Get<DependencyIndexPrefetch>();
        await prefetch.StartAsync(default); // its workers; the harness's disposal stops them
        return prefetch;
    }

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;
}
