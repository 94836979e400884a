using OrleansCrates.Protocol;
using OrleansCrates.Testing;

namespace OrleansCrates.Registry.Tests;

public sealed class OwnershipTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private static async Task<PublishResult> TryPublishAsync(RegistryHarness h, string user, string name, string version, PrivateRegistry? node = null)
    {
        var crate = CrateGraph.BuildCrate(name, version);
        return await (node ?? h.Registry).PublishAsync(user, PublishBody.Stream(PublishBody.NewCrateJson(crate), crate.CrateBytes), Ct);
    }

    [Fact]
    public async Task Only_owners_publish_new_versions()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "owned", "1.0.0");

        var result = await TryPublishAsync(h, "mallory", "owned", "1.0.1");
        Assert.Equal(
            new RegistryError(403, "crate `owned` exists and you are not one of its owners; only owners may publish new versions"),
            result.Error);
        var sneaky = await TryPublishAsync(h, "mallory", "Owned", "1.0.1");
        Assert.Equal(403, sneaky.Error?.Status);

        await h.PublishAsync("ALICE", "owned", "1.0.1"); // logins compare case-insensitively
        Assert.Equal(2, (await h.IndexTextAsync("owned")).Count(c => c == '\n'));
    }

    [Theory]
    [InlineData("foo_bar")]
    [InlineData("Foo-Bar")]
    [InlineData("FOO_BAR")]
    [InlineData("foo-bar")]
    public async Task Later_versions_keep_the_first_spelling(string spelling)
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "Foo_bar", "1.0.0");

        var result = await TryPublishAsync(h, "alice", spelling, "2.0.0");

        Assert.Equal(new RegistryError(400, "crate was previously named `Foo_bar`"), result.Error);
        Assert.Equal(["private/index/fo/o_/foo_bar"], (await h.PrivateKeysAsync()).Where(k => k.StartsWith("private/index/", StringComparison.Ordinal)));
        Assert.True(await h.Registry.IsPrivateCrateAsync("foo-bar", Ct));
    }

    [Fact]
    public async Task Owners_are_listed_added_and_removed_with_cargo_messages()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "team-crate", "1.0.0");
        var name = CrateName.Parse("team-crate");

        var added = await h.Registry.AddOwnersAsync("alice", false, name, ["bob"], Ct);
        Assert.Equal("user `bob` has been added as an owner of crate `team-crate`", added.Message);
        var both = await h.Registry.AddOwnersAsync("bob", false, CrateName.Parse("TEAM_CRATE"), ["carol", "Bob"], Ct);
        Assert.Equal("user `carol` has been added as an owner of crate `team-crate` (`Bob` was already an owner)", both.Message);
        var again = await h.Registry.AddOwnersAsync("alice", false, name, ["carol"], Ct);
        Assert.Equal("`carol` is already an owner of crate `team-crate`", again.Message);
        Assert.Equal(["alice", "bob", "carol"], (await h.NewNode().ListOwnersAsync(name, Ct)).Logins);

        await h.PublishAsync("bob", "team-crate", "1.1.0");

        var removed = await h.Registry.RemoveOwnersAsync("carol", false, name, ["alice", "bob"], Ct);
        Assert.Equal("users `alice`, `bob` have been removed as owners of crate `team-crate`", removed.Message);
        Assert.Equal(["carol"], (await h.Registry.ListOwnersAsync(name, Ct)).Logins);
        Assert.Equal(403, (await TryPublishAsync(h, "alice", "team-crate", "1.2.0")).Error?.Status);
    }

    [Fact]
    public async Task Owner_changes_are_refused_with_the_right_status()
    {
        using var h = new RegistryHarness();
        await h.PublishAsync("alice", "guarded", "1.0.0");
        var name = CrateName.Parse("guarded");

        Assert.Equal(
            new RegistryError(400, "could not find user with login `zed`"),
            (await h.Registry.AddOwnersAsync("alice", false, name, ["bob", "zed"], Ct)).Error);
        Assert.Equal(["alice"], (await h.Registry.ListOwnersAsync(name, Ct)).Logins);
        Assert.Equal(
            new RegistryError(403, "only owners of crate `guarded` may change its owners"),
            (await h.Registry.AddOwnersAsync("mallory", false, name, ["mallory"], Ct)).Error);
        Assert.Equal(403, (await h.Registry.RemoveOwnersAsync("mallory", false, name, ["alice"], Ct)).Error?.Status);
        Assert.Equal(
            new RegistryError(400, "cannot remove every owner of crate `guarded`: at least one owner must remain"),
            (await h.Registry.RemoveOwnersAsync("alice", false, name, ["alice"], Ct)).Error);
        Assert.Equal(
            new RegistryError(400, "could not find owner with login `bob`"),
            (await h.Registry.RemoveOwnersAsync("alice", false, name, ["bob"], Ct)).Error);
        Assert.Equal(400, (await h.Registry.AddOwnersAsync("alice", false, name, [], Ct)).Error?.Status);
        Assert.Equal(
            new RegistryError(404, "crate `nothing` does not exist"),
            (await h.Registry.AddOwnersAsync("alice", true, CrateName.Parse("nothing"), ["bob"], Ct)).Error);
        Assert.Equal(404, (await h.Registry.ListOwnersAsync(CrateName.Parse("nothing"), Ct)).Error?.Status);

        // An admin may change any crate's owners.
        Assert.True((await h.Registry.AddOwnersAsync("admin", true, name, ["bob"], Ct)).Succeeded);
        Assert.True((await h.Registry.RemoveOwnersAsync("admin", true, name, ["alice"], Ct)).Succeeded);
        Assert.Equal(["bob"], (await h.Registry.ListOwnersAsync(name, Ct)).Logins);
    }
}
