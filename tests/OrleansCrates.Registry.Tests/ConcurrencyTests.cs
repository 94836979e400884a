using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Registry.Tests;

/// <summary>
/// Races between nodes sharing one folder, each with its own store instance (as separate processes would have), with
/// a few milliseconds of storage latency so the read-modify-write windows really overlap.
/// </summary>
public sealed class ConcurrencyTests
{
    private readonly StoreStats _stats = new();

    private Func<IObjectStore> Nodes(RegistryHarness h) => () => new LatencyStore(new FileSystemObjectStore(h.Root), _stats);

    [Fact]
    public async Task Different_versions_published_at_once_from_several_nodes_all_land()
    {
        using var h = new RegistryHarness();
        await Races.DifferentVersionsAllLandAsync(h, Nodes(h));
        Assert.True(_stats.LostIfMatch > 0, $"Expected index updates to conflict and be retried, but {_stats}.");
    }

    [Fact]
    public async Task The_same_version_published_at_once_from_several_nodes_has_exactly_one_winner()
    {
        using var h = new RegistryHarness();
        await Races.SameVersionHasOneWinnerAsync(h, Nodes(h));
        Races.AssertRaced(_stats);
    }

    [Fact]
    public async Task Two_users_creating_one_name_at_once_leave_exactly_one_owner()
    {
        using var h = new RegistryHarness();
        await Races.NewNameHasOneOwnerAsync(h, Nodes(h), rounds: 6);
        Races.AssertRaced(_stats);
    }

    [Fact]
    public async Task Owner_changes_yanks_and_publishes_at_once_all_land()
    {
        using var h = new RegistryHarness();
        await Races.MixedChangesAllLandAsync(h, Nodes(h));
        Races.AssertRaced(_stats);
    }
}
