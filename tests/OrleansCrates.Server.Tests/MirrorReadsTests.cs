using System.Text;
using OrleansCrates.Accounts;
using OrleansCrates.Mirror;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Server.Services;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Tests;

/// <summary>The mirror's read rules as outcome values (<see cref="MirrorReads"/>), without HTTP.</summary>
public sealed class MirrorReadsTests
{
    private static readonly CrateName Serde = CrateName.Parse("serde");

    [Fact]
    public async Task An_open_mirror_without_a_policy_allows_every_read()
    {
        await using var server = new ServerHarness();
        var reads = server.Get<MirrorReads>();

        Assert.Equal(new MirrorReadDecision(MirrorReadOutcome.Allowed), await reads.CheckAsync(server.Request(), Serde, version: null));
        Assert.Equal(new MirrorReadDecision(MirrorReadOutcome.Allowed), await reads.CheckAsync(server.Request(), Serde, "1.0.0"));
    }

    [Fact]
    public async Task Where_reads_need_a_token_a_crate_outside_the_callers_patterns_is_out_of_reach()
    {
        await using var server = new ServerHarness(new() { ["Mirror:ReadRequiresToken"] = "true" });
        var reads = server.Get<MirrorReads>();
        var reader = ServerHarness.Token("alice", TokenScope.Read, "serde*");

        Assert.Equal(MirrorReadOutcome.OutOfReach, (await reads.CheckAsync(server.Request(), Serde, version: null)).Outcome);
        Assert.Equal(MirrorReadOutcome.Allowed, (await reads.CheckAsync(server.Request(caller: reader), Serde, version: null)).Outcome);
        Assert.Equal(MirrorReadOutcome.OutOfReach, (await reads.CheckAsync(server.Request(caller: reader), CrateName.Parse("tokio"), "1.0.0")).Outcome);
    }

    [Fact]
    public async Task A_denied_crate_is_hidden_from_the_index_and_a_denied_version_is_forbidden_with_its_verdict()
    {
        await using var server = new ServerHarness(new() { ["Mirror:Policy:Deny:0"] = "openssl", ["Mirror:Policy:Deny:1"] = "serde@<1.0" });
        var reads = server.Get<MirrorReads>();

        Assert.Equal(new MirrorReadDecision(MirrorReadOutcome.HiddenByPolicy, PolicyVerdict.Denied), await reads.CheckAsync(server.Request(), CrateName.Parse("openssl"), version: null));
        Assert.Equal(MirrorReadOutcome.Allowed, (await reads.CheckAsync(server.Request(), Serde, version: null)).Outcome); // some versions stay visible
        Assert.Equal(new MirrorReadDecision(MirrorReadOutcome.Forbidden, PolicyVerdict.Denied), await reads.CheckAsync(server.Request(), Serde, "0.9.0"));
        Assert.Equal(MirrorReadOutcome.Allowed, (await reads.CheckAsync(server.Request(), Serde, "1.0.1")).Outcome);
    }

    [Fact]
    public async Task A_name_a_private_crate_holds_is_shadowed_only_where_the_guard_blocks_and_after_the_other_checks()
    {
        await using var blocking = new ServerHarness(new() { ["Mirror:Policy:Deny:0"] = "serde@<1.0" });
        await ClaimPrivatelyAsync(blocking.Store, Serde);
        var reads = blocking.Get<MirrorReads>();

        Assert.Equal(MirrorReadOutcome.Shadowed, (await reads.CheckAsync(blocking.Request(), Serde, version: null)).Outcome);
        Assert.Equal(MirrorReadOutcome.Shadowed, (await reads.CheckAsync(blocking.Request(), Serde, "1.0.0")).Outcome);
        Assert.Equal(MirrorReadOutcome.Forbidden, (await reads.CheckAsync(blocking.Request(), Serde, "0.9.0")).Outcome); // the policy answers first

        await using var allowing = new ServerHarness(new() { ["Registry:Private:ShadowPolicy"] = "Off" });
        await ClaimPrivatelyAsync(allowing.Store, Serde);
        Assert.Equal(MirrorReadOutcome.Allowed, (await allowing.Get<MirrorReads>().CheckAsync(allowing.Request(), Serde, version: null)).Outcome);
    }

    [Fact]
    public async Task In_approval_mode_a_get_records_who_asked_and_a_head_records_nothing()
    {
        await using var server = new ServerHarness(new() { ["Mirror:Policy:RequireApproval"] = "true" });
        var reads = server.Get<MirrorReads>();
        var approvals = server.Get<ApprovalStore>();

        Assert.Equal(new MirrorReadDecision(MirrorReadOutcome.Forbidden, PolicyVerdict.NotApproved), await reads.CheckAsync(server.Request("HEAD"), Serde, "1.0.0"));
        Assert.Empty(await approvals.ListPendingAsync(await approvals.GetCurrentAsync(default), default));

        var asker = ServerHarness.Token("bob", TokenScope.Read);
        Assert.Equal(MirrorReadOutcome.Forbidden, (await reads.CheckAsync(server.Request("GET", asker), Serde, "1.0.0")).Outcome);
        var pending = Assert.Single(await approvals.ListPendingAsync(await approvals.GetCurrentAsync(default), default));
        Assert.Equal(("serde", "bob"), (pending.Name, pending.RequestedBy));
    }

    [Fact]
    public async Task Without_a_policy_the_index_is_served_as_held_and_with_one_hidden_lines_leave_it()
    {
        var entry = Entry("1.0.0", "1.0.1");
        await using (var open = new ServerHarness())
        {
            var served = await open.Get<MirrorReads>().VisibleIndexAsync(open.Request(), Serde, entry);
            Assert.True(served.AnyVisible);
            Assert.True(served.Body.Span.SequenceEqual(entry.Stored!.Body));
            Assert.Equal(entry.ETag, served.ETag);
        }

        await using var curated = new ServerHarness(new() { ["Mirror:Policy:Deny:0"] = "serde@=1.0.0" });
        var filtered = await curated.Get<MirrorReads>().VisibleIndexAsync(curated.Request(), Serde, entry);
        Assert.True(filtered.AnyVisible);
        Assert.Equal(Line("1.0.1"), Encoding.UTF8.GetString(filtered.Body.Span));
        Assert.Equal(StrongETag.Of(filtered.Body.Span), filtered.ETag);

        await using var closed = new ServerHarness(new() { ["Mirror:Policy:Deny:0"] = "serde@<2" });
        Assert.False((await closed.Get<MirrorReads>().VisibleIndexAsync(closed.Request(), Serde, entry)).AnyVisible);
    }

    private static IndexEntry Entry(params string[] versions) =>
        IndexEntry.Found(new StoredIndex(Encoding.UTF8.GetBytes(string.Concat(versions.Select(Line))), null, null, DateTimeOffset.UnixEpoch), DateTimeOffset.MaxValue);

    private static string Line(string version) =>
        $$"""{"name":"serde","vers":"{{version}}","deps":[],"cksum":"{{new string('a', 64)}}","features":{},"yanked":false}""" + "\n";

    /// <summary>What a private crate's claim leaves in storage: its metadata object.</summary>
    private static Task ClaimPrivatelyAsync(IObjectStore store, CrateName name) =>
        store.PutAsync(RegistryKeys.Meta(name), "{}"u8.ToArray(), WriteCondition.IfNotExists, default);
}
