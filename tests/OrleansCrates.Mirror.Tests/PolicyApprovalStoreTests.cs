using System.Net;
using System.Text;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Mirror.Tests;

/// <summary>Approvals in shared storage: conditional updates, pending requests, the audit trail, freshness across nodes.</summary>
public sealed class PolicyApprovalStoreTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "oc-approvals-" + Guid.NewGuid().ToString("N"));
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task The_latest_matching_decision_holds_and_one_name_and_requirement_has_one_rule()
    {
        var store = Node();
        await store.DecideAsync(Name("abc"), VersionReq.Parse("1"), ApprovalDecision.Approved, "alice", _ct);
        await store.DecideAsync(Name("abc"), VersionReq.Parse("=1.2.3"), ApprovalDecision.Rejected, "bob", _ct);
        var current = await store.GetCurrentAsync(_ct);
        Assert.Equal(ApprovalDecision.Approved, current.Lookup(Name("abc"), "1.2.2")?.Decision);
        Assert.Equal(ApprovalDecision.Rejected, current.Lookup(Name("abc"), "1.2.3")?.Decision);
        Assert.Null(current.Lookup(Name("abc"), "2.0.0"));
        Assert.Null(current.Lookup(Name("abd"), "1.0.0"));

        // "^1" is the same requirement as "1": the decision replaces the earlier one and becomes the latest.
        var again = await store.DecideAsync(Name("ABC"), VersionReq.Parse("^1"), ApprovalDecision.Approved, "carol", _ct);
        Assert.Equal(("alice", ApprovalDecision.Approved), (again.Replaced?.By, again.Replaced?.Decision));
        current = await store.GetCurrentAsync(_ct);
        Assert.Equal(2, current.Rules.Count);
        Assert.Equal(("carol", "^1"), (current.Lookup(Name("abc"), "1.2.3")?.By, current.Lookup(Name("abc"), "1.2.3")?.Req));
    }

    [Fact]
    public async Task Decisions_made_at_once_on_several_nodes_all_land_and_each_is_audited_once()
    {
        var nodes = Enumerable.Range(0, 4).Select(_ => Node()).ToArray();
        await Task.WhenAll(Enumerable.Range(0, 24).Select(i => Task.Run(() =>
            nodes[i % nodes.Length].DecideAsync(Name($"crate-{i}"), VersionReq.Parse("*"), ApprovalDecision.Approved, $"admin{i}", _ct))));

        var current = await Node().GetCurrentAsync(_ct);
        Assert.Equal(24, current.Rules.Count);
        Assert.All(Enumerable.Range(0, 24), i => Assert.Equal($"admin{i}", current.Lookup(Name($"crate_{i}"), "1.0.0")?.By));

        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var audit = await Node().ListAuditAsync(today.AddDays(-1), today, _ct);
        Assert.Equal(24, audit.Count);
        Assert.Equal(Enumerable.Range(0, 24).Select(i => $"crate-{i}").Order(), audit.Select(a => a.Name).Order());
        Assert.All(audit, a => Assert.Equal(("*", ApprovalDecision.Approved, (ApprovalDecision?)null), (a.Req, a.Decision, a.Replaced)));
    }

    [Fact]
    public async Task A_decision_on_one_node_is_in_the_next_read_of_every_other_node()
    {
        var reader = Node();
        Assert.Same(ApprovalSet.Empty, await reader.GetCurrentAsync(_ct));
        await Node().DecideAsync(Name("abc"), VersionReq.Parse("*"), ApprovalDecision.Approved, "alice", _ct);
        var first = await reader.GetCurrentAsync(_ct);
        Assert.Equal(ApprovalDecision.Approved, first.Lookup(Name("abc"), "1.0.0")?.Decision);
        Assert.Same(first, await reader.GetCurrentAsync(_ct)); // unchanged: the cached set, no re-read

        await Node().DecideAsync(Name("abc"), VersionReq.Parse("*"), ApprovalDecision.Rejected, "bob", _ct);
        var second = await reader.GetCurrentAsync(_ct);
        Assert.NotEqual(first.Version, second.Version);
        Assert.Equal(ApprovalDecision.Rejected, second.Lookup(Name("abc"), "1.0.0")?.Decision);

        var audit = await reader.ListAuditAsync(DateOnly.FromDateTime(DateTime.UtcNow), DateOnly.FromDateTime(DateTime.UtcNow), _ct);
        Assert.Equal([("alice", ApprovalDecision.Approved, (ApprovalDecision?)null), ("bob", ApprovalDecision.Rejected, ApprovalDecision.Approved)],
            audit.Select(a => (a.By, a.Decision, a.Replaced)));
    }

    [Fact]
    public async Task The_first_request_is_recorded_create_only_and_later_versions_are_added()
    {
        var node1 = Node();
        var node2 = Node();
        await node1.RecordPendingAsync(Name("Dash-Name"), ["0.3.0"], "alice", _ct);
        await node2.RecordPendingAsync(Name("dash_name"), ["0.3.0"], "bob", _ct);
        await node2.RecordPendingAsync(Name("dash_name"), ["0.3.1", "0.3.0"], "carol", _ct);
        Assert.True(node2.IsRecorded(Name("dash-name"), ["0.3.1"]));
        Assert.False(node1.IsRecorded(Name("dash-name"), ["0.3.1"]));

        var pending = Assert.Single(await node1.ListPendingAsync(ApprovalSet.Empty, _ct));
        Assert.Equal(("Dash-Name", "alice"), (pending.Name, pending.RequestedBy)); // the first request's who and spelling stay
        Assert.Equal(["0.3.0", "0.3.1"], pending.Versions);

        // Deciding on part of it leaves the rest waiting; deciding on all of it drops the request.
        await node1.DecideAsync(Name("dash-name"), VersionReq.Parse("=0.3.0"), ApprovalDecision.Approved, "root", _ct);
        Assert.Equal(["0.3.1"], Assert.Single(await node1.ListPendingAsync(await node1.GetCurrentAsync(_ct), _ct)).Waiting);
        await node1.DecideAsync(Name("dash-name"), VersionReq.Parse("0.3"), ApprovalDecision.Rejected, "root", _ct);
        Assert.Empty(await node1.ListPendingAsync(await node1.GetCurrentAsync(_ct), _ct));
        Assert.Null(await new FileSystemObjectStore(_root).GetPropertiesOrNullAsync(ApprovalStore.PendingKey(Name("dash-name")), _ct));
    }

    [Fact]
    public async Task A_corrupt_approvals_document_is_a_storage_failure_never_a_guess()
    {
        var store = new FileSystemObjectStore(_root);
        await store.PutAsync(ApprovalStore.ApprovalsKey, Encoding.UTF8.GetBytes("{not json"), WriteCondition.None, _ct);
        await Assert.ThrowsAsync<StorageUnavailableException>(() => Node().GetCurrentAsync(_ct));
        await Assert.ThrowsAsync<StorageUnavailableException>(() => Node().DecideAsync(Name("abc"), VersionReq.Star, ApprovalDecision.Approved, "x", _ct));
    }

    [Fact]
    public void Anonymous_requesters_are_a_hash_of_their_address()
    {
        var v4 = ApprovalStore.ClientOf(IPAddress.Parse("10.1.2.3"));
        Assert.Matches("^client-[0-9a-f]{12}$", v4);
        Assert.DoesNotContain("10.1.2.3", v4, StringComparison.Ordinal);
        Assert.Equal(v4, ApprovalStore.ClientOf(IPAddress.Parse("::ffff:10.1.2.3")));
        Assert.NotEqual(v4, ApprovalStore.ClientOf(IPAddress.Parse("10.1.2.4")));
    }

    [Fact]
    public async Task A_crash_at_any_write_of_a_decision_never_leaves_it_in_effect_without_its_audit_record()
    {
        // Crash after 0, 1, 2, … committed writes of one decision (replacing an earlier one), until it completes
        // untouched; after each crash a fresh node (the restarted process) must find every rule in effect audited.
        for (var writes = 0; ; writes++)
        {
            var root = Path.Combine(_root, $"crash-{writes}");
            await new ApprovalStore(new FileSystemObjectStore(root), TimeProvider.System)
                .DecideAsync(Name("abc"), VersionReq.Parse("^1"), ApprovalDecision.Approved, "alice", _ct);
            var crashing = new CrashingObjectStore(new FileSystemObjectStore(root), writes);
            try
            {
                await new ApprovalStore(crashing, TimeProvider.System).DecideAsync(Name("abc"), VersionReq.Parse("^1"), ApprovalDecision.Rejected, "bob", _ct);
            }
            catch (CrashException)
            {
            }

            var restarted = new ApprovalStore(new FileSystemObjectStore(root), TimeProvider.System);
            var today = DateOnly.FromDateTime(DateTime.UtcNow);
            var audit = await restarted.ListAuditAsync(today.AddDays(-1), today, _ct);
            var inEffect = (await restarted.GetCurrentAsync(_ct)).Rules.Single();
            Assert.Contains(audit, a => (a.Name, a.Req, a.Decision, a.By) == (inEffect.Name, inEffect.Req, inEffect.Decision, inEffect.By));
            if (!crashing.Crashed)
            {
                Assert.Equal(("bob", ApprovalDecision.Rejected), (inEffect.By, inEffect.Decision));
                Assert.Equal(ApprovalDecision.Approved, audit.Single(a => a.By == "bob").Replaced);
                Assert.True(writes >= 2, "a decision is at least its audit record and the decision");
                return;
            }
        }
    }

    private ApprovalStore Node() => new(new FileSystemObjectStore(_root), TimeProvider.System);

    private static CrateName Name(string name) => CrateName.Parse(name);
}
