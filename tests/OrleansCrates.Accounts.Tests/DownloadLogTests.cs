using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansCrates.Storage;

namespace OrleansCrates.Accounts.Tests;

public sealed class DownloadLogTests : IDisposable
{
    private static readonly DateOnly Day1 = new(2025, 3, 1);
    private static readonly DateOnly Day2 = new(2025, 3, 2);

    private readonly TempStore _temp = new();
    private readonly ObservedStore _store;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2025, 3, 2, 8, 0, 0, TimeSpan.Zero));
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    public DownloadLogTests() => _store = new ObservedStore(_temp.Store);

    public void Dispose() => _temp.Dispose();

    private static DownloadRecord At(DateOnly day, int second, string user = "alice", string crate = "serde", string registry = "mirror") =>
        new("0123456789ab", user, registry, crate, "1.0." + second, new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).AddSeconds(second));

    [Fact]
    public async Task Records_stay_in_memory_until_a_flush_writes_them_as_one_object()
    {
        var log = new DownloadLog(_store, _clock);
        for (var i = 0; i < 1000; i++)
        {
            log.Record(At(Day1, i));
        }

        Assert.Equal(0, _store.Commits);
        Assert.Equal(1000, log.PendingCount);

        Assert.Equal(1000, await log.FlushAsync(_ct));
        Assert.Equal(1, _store.Commits);
        Assert.Equal(0, log.PendingCount);
        var key = Assert.Single(await _temp.KeysAsync("records/", _ct));
        Assert.Matches(@"^records/downloads/2025-03-01/\d{19}-[0-9a-f]{12}\.jsonl$", key);

        var read = await log.QueryAsync(Day1, Day1, null, null, _ct).ToListAsync(_ct);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => At(Day1, i)), read);
    }

    [Fact]
    public async Task A_flush_writes_one_object_per_day_and_nothing_when_idle()
    {
        var log = new DownloadLog(_store, _clock);
        Assert.Equal(0, await log.FlushAsync(_ct));
        Assert.Equal(0, _store.Commits);

        log.Record(At(Day1, 86_399));
        log.Record(At(Day2, 0));
        log.Record(At(Day2, 1));
        Assert.Equal(3, await log.FlushAsync(_ct));

        Assert.Equal(2, _store.Commits);
        Assert.Single(await _temp.KeysAsync("records/downloads/2025-03-01/", _ct));
        Assert.Single(await _temp.KeysAsync("records/downloads/2025-03-02/", _ct));
        Assert.Equal([At(Day1, 86_399)], await log.QueryAsync(Day1, Day1, null, null, _ct).ToListAsync(_ct));
        Assert.Equal([At(Day1, 86_399), At(Day2, 0), At(Day2, 1)], await log.QueryAsync(Day1, Day2, null, null, _ct).ToListAsync(_ct));
        Assert.Empty(await log.QueryAsync(Day2, Day1, null, null, _ct).ToListAsync(_ct));
    }

    [Fact]
    public async Task A_big_batch_is_split_into_objects_of_at_most_batch_size()
    {
        var log = new DownloadLog(_store, _clock);
        for (var i = 0; i < DownloadLog.BatchSize + 1; i++)
        {
            log.Record(At(Day1, i % 86_400));
        }

        Assert.Equal(DownloadLog.BatchSize + 1, await log.FlushAsync(_ct));
        Assert.Equal(2, _store.Commits);
        Assert.Equal(DownloadLog.BatchSize + 1, (await log.QueryAsync(Day1, Day1, null, null, _ct).ToListAsync(_ct)).Count);
    }

    [Fact]
    public async Task Queries_merge_every_nodes_records_and_filter_by_user_and_canonical_crate()
    {
        var node1 = new DownloadLog(_temp.Store, _clock);
        var node2 = new DownloadLog(_temp.Store, _clock);
        node1.Record(At(Day1, 1, user: "alice", crate: "serde_json"));
        node2.Record(At(Day1, 2, user: "bob", crate: "serde-json", registry: "private"));
        node1.Record(At(Day1, 3, user: "Alice", crate: "tokio"));
        await node1.FlushAsync(_ct);
        _clock.Advance(TimeSpan.FromSeconds(10));
        await node2.FlushAsync(_ct);

        Assert.Equal(2, (await _temp.KeysAsync("records/downloads/", _ct)).Count);
        var reader = new DownloadLog(_temp.Store, _clock); // a third process, e.g. the CLI
        Assert.Equal(3, (await reader.QueryAsync(Day1, Day1, null, null, _ct).ToListAsync(_ct)).Count);
        Assert.Equal([1, 3], (await reader.QueryAsync(Day1, Day1, "ALICE", null, _ct).ToListAsync(_ct)).Select(r => r.At.Second));
        Assert.Equal([1, 2], (await reader.QueryAsync(Day1, Day1, null, "Serde_Json", _ct).ToListAsync(_ct)).Select(r => r.At.Second));
        Assert.Equal([2], (await reader.QueryAsync(Day1, Day1, "bob", "serde_json", _ct).ToListAsync(_ct)).Select(r => r.At.Second));
        Assert.Equal("private", Assert.Single(await reader.QueryAsync(Day1, Day1, "bob", null, _ct).ToListAsync(_ct)).Registry);
        Assert.Empty(await reader.QueryAsync(Day2, Day2, null, null, _ct).ToListAsync(_ct));
    }

    [Fact]
    public async Task Lines_that_cannot_be_read_are_skipped()
    {
        var log = new DownloadLog(_temp.Store, _clock);
        log.Record(At(Day1, 1));
        await log.FlushAsync(_ct);
        await _temp.Store.PutAsync("records/downloads/2025-03-01/0000000000000000000-torn.jsonl", "{\"token_id\":\"x\"}\nnot json\n{\"tok"u8.ToArray(), WriteCondition.IfNotExists, _ct);

        Assert.Equal([At(Day1, 1)], await log.QueryAsync(Day1, Day1, null, null, _ct).ToListAsync(_ct));
    }

    [Fact]
    public async Task A_failed_flush_keeps_the_records_for_the_next_one()
    {
        var log = new DownloadLog(_store, _clock);
        log.Record(At(Day1, 1));
        log.Record(At(Day2, 2));
        _store.FailNextUploads(1);

        await Assert.ThrowsAsync<StorageUnavailableException>(() => log.FlushAsync(_ct));
        Assert.Equal(2, log.PendingCount);
        log.Record(At(Day2, 3));

        Assert.Equal(3, await log.FlushAsync(_ct));
        Assert.Equal([At(Day1, 1), At(Day2, 2), At(Day2, 3)], await log.QueryAsync(Day1, Day2, null, null, _ct).ToListAsync(_ct));
    }

    [Fact]
    public void Memory_is_bounded_while_storage_is_down()
    {
        var log = new DownloadLog(_store, _clock);
        for (var i = 0; i < DownloadLog.MaxPending + 5; i++)
        {
            log.Record(At(Day1, 0));
        }

        Assert.Equal(DownloadLog.MaxPending, log.PendingCount);
        Assert.Equal(5, log.DroppedCount);
    }

    [Fact]
    public async Task The_flusher_writes_what_is_left_when_the_node_stops()
    {
        var log = new DownloadLog(_store, _clock);
        var flusher = new DownloadLogFlusher(log, TimeProvider.System, NullLogger<DownloadLogFlusher>.Instance);
        await flusher.StartAsync(_ct);
        log.Record(At(Day1, 1));
        log.Record(At(Day1, 2));

        await flusher.StopAsync(_ct);
        Assert.Equal(0, log.PendingCount);
        Assert.Equal(2, (await log.QueryAsync(Day1, Day1, null, null, _ct).ToListAsync(_ct)).Count);
        flusher.Dispose();
    }

    [Fact]
    public async Task The_flusher_writes_early_when_a_batch_fills()
    {
        var log = new DownloadLog(_store, _clock);
        using var flusher = new DownloadLogFlusher(log, TimeProvider.System, NullLogger<DownloadLogFlusher>.Instance);
        await flusher.StartAsync(_ct);
        var written = _store.NextCommit;
        for (var i = 0; i < DownloadLog.BatchSize; i++)
        {
            log.Record(At(Day1, i % 86_400));
        }

        // Well inside the 10 s interval: only the full batch can have triggered this write.
        await written.WaitAsync(TimeSpan.FromSeconds(5), _ct);
        Assert.Equal(DownloadLog.BatchSize, (await log.QueryAsync(Day1, Day1, null, null, _ct).ToListAsync(_ct)).Count);
        await flusher.StopAsync(_ct);
    }

    [Fact]
    public async Task A_flusher_that_cannot_write_keeps_running_and_writes_at_shutdown()
    {
        var log = new DownloadLog(_store, _clock);
        using var flusher = new DownloadLogFlusher(log, TimeProvider.System, NullLogger<DownloadLogFlusher>.Instance);
        await flusher.StartAsync(_ct);
        _store.FailNextUploads(1);
        var failed = _store.NextFailure;
        for (var i = 0; i < DownloadLog.BatchSize; i++)
        {
            log.Record(At(Day1, i % 86_400));
        }

        // The early flush fails (records kept); the shutdown flush then writes them.
        await failed.WaitAsync(TimeSpan.FromSeconds(5), _ct);
        await flusher.StopAsync(_ct);
        Assert.Equal(DownloadLog.BatchSize, (await log.QueryAsync(Day1, Day1, null, null, _ct).ToListAsync(_ct)).Count);
    }

    [Fact]
    public void AddAccounts_registers_the_services_and_the_flusher()
    {
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton<IObjectStore>(_temp.Store)
            .AddAccounts();
        using var provider = services.BuildServiceProvider();

        Assert.Same(provider.GetRequiredService<TokenStore>(), provider.GetRequiredService<TokenStore>());
        Assert.NotNull(provider.GetRequiredService<DownloadLog>());
        Assert.NotNull(provider.GetRequiredService<AccessPolicy>());
        Assert.Contains(provider.GetServices<IHostedService>(), s => s is DownloadLogFlusher);
    }
}
