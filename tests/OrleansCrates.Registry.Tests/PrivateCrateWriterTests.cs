using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Testing;

namespace OrleansCrates.Registry.Tests;

/// <summary>
/// The writer's half on its own (what the crate's grain and the offline CLI run): release deletes only what it read,
/// and calls marked as retried take work an earlier call finished for done.
/// </summary>
public sealed class PrivateCrateWriterTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task A_release_whose_index_changes_before_its_delete_reads_again_and_deletes_what_is_there_now()
    {
        using var h = new RegistryHarness();
        var name = CrateName.Parse("let-go");
        await h.PublishAsync("alice", "let-go", "1.0.0");
        var hooked = new DeleteHookStore(h.Store);
        var writer = Writer(h, hooked);

        // Another writer publishes 1.1.0 after the release read the index (1 version) and before it deletes it.
        hooked.BeforeNextDelete(RegistryKeys.Index(name), () => h.PublishAsync("alice", "let-go", "1.1.0"));
        var outcome = await writer.ReleaseNameAsync(name, deleteVersions: true, retried: false, Ct);

        Assert.True(outcome.Succeeded, outcome.Error?.ToString());
        Assert.StartsWith("released `let-go`: 2 version(s) and 2 crate file(s) deleted", outcome.Message, StringComparison.Ordinal);
        Assert.Equal(1, hooked.PreconditionsFailed);
        Assert.Empty(await h.PrivateKeysAsync());
    }

    [Fact]
    public async Task A_version_published_while_an_empty_claim_is_released_keeps_its_claim_and_its_file()
    {
        using var h = new RegistryHarness();
        var name = CrateName.Parse("late-comer");
        var meta = """{"name":"late-comer","owners":["alice"],"created":"2026-01-01T00:00:00+00:00","updated":"2026-01-01T00:00:00+00:00"}"""u8.ToArray();
        await h.Store.PutAsync(RegistryKeys.Meta(name), meta, WriteCondition.IfNotExists, Ct); // a claim a dead process left
        var hooked = new DeleteHookStore(h.Store);

        // The release found no version; before it deletes the claim, its owner publishes one (elsewhere).
        hooked.BeforeNextDelete(RegistryKeys.Meta(name), () => h.PublishAsync("alice", "late-comer", "1.0.0"));
        var outcome = await Writer(h, hooked).ReleaseNameAsync(name, deleteVersions: false, retried: false, Ct);

        Assert.Equal(409, outcome.Error?.Status);
        Assert.Equal(1, hooked.PreconditionsFailed);
        Assert.Contains("\"vers\":\"1.0.0\"", await h.IndexTextAsync("late-comer"), StringComparison.Ordinal);
        await using var file = await h.NewNode().OpenCrateFileAsync(name, "1.0.0", Ct);
        Assert.True(file.Found, file.Detail);
        Assert.Equal(["alice"], (await h.NewNode().ListOwnersAsync(name, Ct)).Logins);
    }

    [Fact]
    public async Task Retried_calls_take_what_an_earlier_call_finished_for_done()
    {
        using var h = new RegistryHarness();
        var name = CrateName.Parse("again");
        await h.PublishAsync("alice", "again", "1.0.0");
        var writer = Writer(h, h.Store);
        var alice = new CrateChange("alice", false, name);

        Assert.True((await writer.AddOwnersAsync(alice, ["bob"], Ct)).Succeeded);
        Assert.True((await writer.RemoveOwnersAsync(alice, ["bob"], retried: false, Ct)).Succeeded);
        Assert.Equal(400, (await writer.RemoveOwnersAsync(alice, ["bob"], retried: false, Ct)).Error?.Status);
        var removedAgain = await writer.RemoveOwnersAsync(alice, ["bob"], retried: true, Ct);
        Assert.Equal("user `bob` has been removed as an owner of crate `again`", removedAgain.Message);

        Assert.True((await writer.ReleaseNameAsync(name, deleteVersions: true, retried: false, Ct)).Succeeded);
        Assert.Equal(404, (await writer.ReleaseNameAsync(name, deleteVersions: true, retried: false, Ct)).Error?.Status);
        Assert.True((await writer.ReleaseNameAsync(name, deleteVersions: true, retried: true, Ct)).Succeeded);
    }

    [Fact]
    public async Task A_commit_whose_line_does_not_describe_its_version_is_refused_and_claims_nothing()
    {
        using var h = new RegistryHarness();
        var crate = CrateGraph.BuildCrate("mislabelled", "1.0.0");
        var line = Encoding.UTF8.GetBytes($"{{\"name\":\"mislabelled\",\"vers\":\"2.0.0\",\"deps\":[],\"cksum\":\"{crate.Sha256}\",\"features\":{{}},\"yanked\":false}}");
        var commit = new VersionCommit("alice", CrateName.Parse("mislabelled"), "1.0.0", crate.Sha256, line, CrateDetails.None);

        var outcome = await Writer(h, h.Store).CommitVersionAsync(commit, retried: false, Ct);

        Assert.Equal(400, outcome.Error?.Status);
        Assert.Empty(await h.PrivateKeysAsync());
    }

    private static PrivateCrateWriter Writer(RegistryHarness h, IObjectStore store) => new(store, h.Clock, NullLogger<PrivateCrateWriter>.Instance);

    /// <summary>Runs a test's action once just before a chosen delete (after the writer read what it deletes), and counts deletes refused by their If-Match.</summary>
    private sealed class DeleteHookStore(IObjectStore inner) : IObjectStore
    {
        private (string Key, Func<Task> Action)? _hook;

        public int PreconditionsFailed { get; private set; }

        public void BeforeNextDelete(string key, Func<Task> action) => _hook = (key, action);

        public async Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken)
        {
            if (_hook is { } hook && hook.Key == key)
            {
                _hook = null;
                await hook.Action();
            }

            var result = await inner.DeleteAsync(key, ifMatch, cancellationToken);
            PreconditionsFailed += result == DeleteResult.PreconditionFailed ? 1 : 0;
            return result;
        }

        public Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken) => inner.OpenReadOrNullAsync(key, cancellationToken);

        public Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken) => inner.GetPropertiesOrNullAsync(key, cancellationToken);

        public Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken) => inner.BeginUploadAsync(key, condition, cancellationToken);

        public IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

        public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);
    }
}
