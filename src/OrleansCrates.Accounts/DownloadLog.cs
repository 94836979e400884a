using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using OrleansCrates.Storage;

namespace OrleansCrates.Accounts;

/// <summary>One crate download by one token. <paramref name="Registry"/> is <see cref="Mirror"/> or <see cref="Private"/>.</summary>
public sealed record DownloadRecord(string TokenId, string User, string Registry, string Crate, string Version, DateTimeOffset At)
{
    /// <summary>A download of a crates.io crate through the mirror.</summary>
    public const string Mirror = "mirror";

    /// <summary>A download from the private registry.</summary>
    public const string Private = "private";
}

/// <summary>
/// Per-token download records. <see cref="Record"/> only appends to memory (no storage write per request);
/// <see cref="FlushAsync"/> — every <see cref="FlushInterval"/> and at shutdown via <see cref="DownloadLogFlusher"/>,
/// or early when <see cref="BatchSize"/> records are waiting — writes them as create-only JSON-lines objects
/// <c>records/downloads/{yyyy-MM-dd}/{utc-ticks}-{random}.jsonl</c>, one per UTC day of the records, so each node
/// writes its own objects and nothing is ever overwritten. <see cref="QueryAsync"/> reads every node's objects.
/// <para>
/// If a flush fails the records go back in the queue for the next one; at most <see cref="MaxPending"/> are held,
/// and past that new records are dropped and counted in <see cref="DroppedCount"/> rather than growing memory while
/// storage is down.
/// </para>
/// </summary>
public sealed class DownloadLog(IObjectStore store, TimeProvider time)
{
    public const string Prefix = "records/downloads/";

    /// <summary>Records waiting that make the flusher write at once rather than at the next interval.</summary>
    public const int BatchSize = 10_000;

    /// <summary>Records held in memory at most (about 40 MB) while storage cannot be written.</summary>
    public const int MaxPending = 200_000;

    public static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);
    private List<DownloadRecord> _pending = [];
    private TaskCompletionSource _batchFull = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _dropped;

    /// <summary>Records waiting for the next flush.</summary>
    public int PendingCount
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Records dropped because <see cref="MaxPending"/> were already waiting.</summary>
    public long DroppedCount => Interlocked.Read(ref _dropped);

    /// <summary>Completes when <see cref="BatchSize"/> records are waiting; the flusher then writes early.</summary>
    internal Task BatchFull
    {
        get
        {
            lock (_gate)
            {
                return _batchFull.Task;
            }
        }
    }

    /// <summary>Queues a record for the next flush. Never touches storage, never blocks on I/O.</summary>
    public void Record(DownloadRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_gate)
        {
            if (_pending.Count >= MaxPending)
            {
                Interlocked.Increment(ref _dropped);
                return;
            }

            _pending.Add(record);
            if (_pending.Count >= BatchSize)
            {
                _batchFull.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Writes every waiting record: one object per UTC day (and per <see cref="BatchSize"/> records). Returns how many
    /// were written. On a storage failure the unwritten records are queued again and the exception propagates.
    /// </summary>
    public async Task<int> FlushAsync(CancellationToken cancellationToken)
    {
        await _flushing.WaitAsync(cancellationToken);
        try
        {
            List<DownloadRecord> batch;
            lock (_gate)
            {
                batch = _pending;
                _pending = [];
                if (_batchFull.Task.IsCompleted)
                {
                    _batchFull = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }

            var chunks = batch
                .GroupBy(r => DayOf(r.At))
                .SelectMany(day => day.Chunk(BatchSize).Select(chunk => (Day: day.Key, Records: chunk)))
                .ToList();
            var written = 0;
            for (var i = 0; i < chunks.Count; i++)
            {
                try
                {
                    await WriteObjectAsync(chunks[i].Day, chunks[i].Records, cancellationToken);
                    written += chunks[i].Records.Length;
                }
                catch
                {
                    Requeue(chunks.Skip(i).SelectMany(c => c.Records));
                    throw;
                }
            }

            return written;
        }
        finally
        {
            _flushing.Release();
        }
    }

    /// <summary>
    /// Flushed records of the UTC days <paramref name="from"/> to <paramref name="to"/> (inclusive) from every node,
    /// day by day and within a day in the order they were flushed. <paramref name="user"/> matches case-insensitively,
    /// <paramref name="crate"/> by canonical name (<c>-</c> = <c>_</c>); null matches everything. Records still in
    /// some node's memory are not included.
    /// </summary>
    public async IAsyncEnumerable<DownloadRecord> QueryAsync(
        DateOnly from,
        DateOnly to,
        string? user,
        string? crate,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var canonicalCrate = crate is null ? null : CratePattern.Canonical(crate);
        // Day numbers, not AddDays: a range ending on 9999-12-31 must end, not step past the calendar.
        for (var number = from.DayNumber; number <= to.DayNumber; number++)
        {
            var day = DateOnly.FromDayNumber(number);
            var keys = new List<string>();
            await foreach (var properties in store.ListAsync(DayPrefix(day), cancellationToken))
            {
                if (properties.Key.EndsWith(".jsonl", StringComparison.Ordinal))
                {
                    keys.Add(properties.Key);
                }
            }

            // Keys start with zero-padded flush ticks, so ordinal order is flush order across nodes.
            keys.Sort(StringComparer.Ordinal);
            foreach (var key in keys)
            {
                var stored = await store.ReadSmallOrNullAsync(key, cancellationToken);
                if (stored is null)
                {
                    continue;
                }

                foreach (var record in ParseLines(stored.Value.Content))
                {
                    if ((user is null || string.Equals(record.User, user, StringComparison.OrdinalIgnoreCase)) &&
                        (canonicalCrate is null || CratePattern.Canonical(record.Crate) == canonicalCrate))
                    {
                        yield return record;
                    }
                }
            }
        }
    }

    private static DateOnly DayOf(DateTimeOffset at) => DateOnly.FromDateTime(at.UtcDateTime);

    private static string DayPrefix(DateOnly day) => Prefix + day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "/";

    private async Task WriteObjectAsync(DateOnly day, DownloadRecord[] records, CancellationToken cancellationToken)
    {
        using var content = new MemoryStream();
        foreach (var record in records)
        {
            JsonSerializer.Serialize(content, record, AccountsJson.Default.DownloadRecord);
            content.WriteByte((byte)'\n');
        }

        while (true)
        {
            var key = string.Create(
                CultureInfo.InvariantCulture,
                $"{DayPrefix(day)}{time.GetUtcNow().UtcTicks:D19}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.jsonl");
            var put = await store.PutAsync(key, content.GetBuffer().AsMemory(0, (int)content.Length), WriteCondition.IfNotExists, cancellationToken);
            if (put.Status == PutStatus.Written)
            {
                return;
            }
        }
    }

    private void Requeue(IEnumerable<DownloadRecord> records)
    {
        lock (_gate)
        {
            var again = records.ToList();
            var room = Math.Max(0, MaxPending - _pending.Count);
            if (again.Count > room)
            {
                Interlocked.Add(ref _dropped, again.Count - room);
                again.RemoveRange(room, again.Count - room);
            }

            // Older records first, so a later flush writes them in order.
            again.AddRange(_pending);
            _pending = again;
        }
    }

    private static IEnumerable<DownloadRecord> ParseLines(byte[] content)
    {
        var start = 0;
        while (start < content.Length)
        {
            var end = Array.IndexOf(content, (byte)'\n', start);
            if (end < 0)
            {
                end = content.Length;
            }

            if (end > start)
            {
                var record = StoredJson.ParseOrNull(content.AsSpan(start, end - start), AccountsJson.Default.DownloadRecord);
                if (record is not null)
                {
                    yield return record; // a torn or foreign line is skipped, never fatal
                }
            }

            start = end + 1;
        }
    }
}
