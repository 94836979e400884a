using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OrleansCrates.Storage;

namespace OrleansCrates.Operations.Statistics;

/// <summary>
/// Traffic statistics shared by the cluster through storage only. <see cref="Record"/> adds to this node's in-memory
/// counters of the event's UTC day (no storage write per request); <see cref="FlushAsync"/> — every
/// <see cref="StatisticsOptions.FlushInterval"/> and at shutdown, via <see cref="TrafficStatisticsFlusher"/> — writes
/// what was counted since the last flush as one create-only object per day, <c>stats/{yyyy-MM-dd}/{node}-{ticks}.json</c>.
/// <see cref="GetDaysAsync"/> merges every node's objects of each day (counters summed, client hashes united).
/// <para>
/// Clients are kept raw in memory (<c>token:{id}</c> or <c>ip:{address}</c>) and written only as short hashes salted
/// with <c>stats/salt.json</c>, a random value created once per deployment in storage, so every node hashes one client
/// alike and no address is ever stored.
/// </para>
/// <para>
/// Objects are immutable, so a merged day is kept in memory and refreshed by listing the day and reading only the
/// objects not seen before (at most every <see cref="StatisticsOptions.CacheTtl"/>).
/// </para>
/// </summary>
public sealed class TrafficStatistics
{
    public const string Prefix = "stats/";
    public const string SaltKey = "stats/salt.json";

    /// <summary>Distinct clients, and distinct crate versions, kept per day in memory between flushes at most.</summary>
    public const int MaxKeysPerDay = 100_000;

    private readonly IObjectStore _store;
    private readonly TimeProvider _time;
    private readonly StatisticsOptions _options;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);
    private readonly ConcurrentDictionary<DateOnly, MergedDay> _merged = new();
    private readonly ConcurrentQueue<TrafficEvent> _incoming = new();
    private Dictionary<DateOnly, DayStatistics> _pending = [];
    private int _incomingCount;
    private byte[]? _salt;

    /// <summary>Events a request leaves in the queue before one request (whichever finds the counters free) folds them in.</summary>
    private const int FoldBatch = 256;

    public TrafficStatistics(IObjectStore store, TimeProvider time, IOptions<StatisticsOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _time = time;
        _options = options.Value;
        Node = SafeNode(string.IsNullOrWhiteSpace(_options.Node)
            ? $"{Environment.MachineName}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}"
            : _options.Node);
    }

    /// <summary>This node's name in the keys it writes.</summary>
    public string Node { get; }

    public TimeSpan FlushInterval => _options.FlushInterval;

    /// <summary>Whether anything was recorded since the last flush.</summary>
    public bool HasPending
    {
        get
        {
            lock (_gate)
            {
                FoldIncoming();
                return _pending.Count > 0;
            }
        }
    }

    /// <summary>Counts one answered request. Never touches storage, never blocks on I/O.</summary>
    public void Record(TrafficEvent e)
    {
        // Batched: a request only enqueues (lock-free); every FoldBatch events, a request that finds the counters free
        // folds the queue into them (never waiting for the lock). A flush folds whatever is left first.
        _incoming.Enqueue(e);
        if (Interlocked.Increment(ref _incomingCount) >= FoldBatch && _gate.TryEnter())
        {
            try
            {
                FoldIncoming();
            }
            finally
            {
                _gate.Exit();
            }
        }
    }

    /// <summary>Adds the queued events to the pending counters of their days. Call under <see cref="_gate"/>.</summary>
    private void FoldIncoming()
    {
        while (_incoming.TryDequeue(out var e))
        {
            Interlocked.Decrement(ref _incomingCount);
            var day = DateOnly.FromDateTime(e.At.UtcDateTime);
            if (!_pending.TryGetValue(day, out var counters))
            {
                counters = new DayStatistics();
                _pending[day] = counters;
            }

            counters.Add(e, MaxKeysPerDay);
        }
    }

    /// <summary>
    /// Writes what was counted since the last flush, one object per day. Returns how many objects were written. On a
    /// storage failure the unwritten counters are merged back into the pending ones and the exception propagates.
    /// </summary>
    public async Task<int> FlushAsync(CancellationToken cancellationToken)
    {
        await _flushing.WaitAsync(cancellationToken);
        try
        {
            Dictionary<DateOnly, DayStatistics> batch;
            lock (_gate)
            {
                FoldIncoming();
                batch = _pending;
                _pending = [];
            }

            var days = batch.Where(d => !d.Value.IsEmpty).OrderBy(d => d.Key).ToList();
            var written = 0;
            for (var i = 0; i < days.Count; i++)
            {
                try
                {
                    var salt = await GetSaltAsync(cancellationToken);
                    await WriteAsync(days[i].Key, days[i].Value, salt, cancellationToken);
                    written++;
                }
                catch
                {
                    Requeue(days.Skip(i));
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
    /// The merged counters of every node for each UTC day from <paramref name="from"/> to <paramref name="to"/>
    /// (inclusive), oldest first. Counters still in some node's memory (at most one flush interval) are not included.
    /// </summary>
    public async Task<IReadOnlyList<(DateOnly Day, DayStatistics Statistics)>> GetDaysAsync(DateOnly from, DateOnly to, CancellationToken cancellationToken)
    {
        var result = new List<(DateOnly, DayStatistics)>();
        for (var day = from; day <= to; day = day.AddDays(1))
        {
            result.Add((day, await GetDayAsync(day, cancellationToken)));
        }

        // Forget days nobody asks about any more.
        foreach (var old in _merged.Keys.Where(d => d < from.AddDays(-7)))
        {
            _merged.TryRemove(old, out _);
        }

        return result;
    }

    /// <summary>The short salted hash a raw client identity is stored as.</summary>
    public static string HashClient(byte[] salt, string client)
    {
        ArgumentNullException.ThrowIfNull(client);
        var input = new byte[salt.Length + Encoding.UTF8.GetMaxByteCount(client.Length)];
        salt.CopyTo(input, 0);
        var length = salt.Length + Encoding.UTF8.GetBytes(client, input.AsSpan(salt.Length));
        return Convert.ToHexStringLower(SHA256.HashData(input.AsSpan(0, length)))[..16];
    }

    public static string DayPrefix(DateOnly day) => Prefix + day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "/";

    private async Task<DayStatistics> GetDayAsync(DateOnly day, CancellationToken cancellationToken)
    {
        var merged = _merged.GetOrAdd(day, _ => new MergedDay());
        var now = _time.GetUtcNow();
        if (merged.RefreshedAt is { } at && now - at < _options.CacheTtl)
        {
            return merged.Snapshot;
        }

        await merged.Refreshing.WaitAsync(cancellationToken);
        try
        {
            if (merged.RefreshedAt is { } again && _time.GetUtcNow() - again < _options.CacheTtl)
            {
                return merged.Snapshot;
            }

            var fresh = new List<string>();
            await foreach (var properties in _store.ListAsync(DayPrefix(day), cancellationToken))
            {
                if (properties.Key.EndsWith(".json", StringComparison.Ordinal) && !merged.Keys.Contains(properties.Key))
                {
                    fresh.Add(properties.Key);
                }
            }

            if (fresh.Count > 0)
            {
                var next = new DayStatistics();
                next.Merge(merged.Snapshot);
                foreach (var key in fresh)
                {
                    var stored = await _store.ReadSmallOrNullAsync(key, cancellationToken);
                    var document = stored is null ? null : StoredJson.ParseOrNull(stored.Value.Content, StatisticsJson.Default.StatisticsDocument);
                    if (document is not null)
                    {
                        next.Merge(DayStatistics.FromDocument(document)); // a torn or foreign object is skipped, never fatal
                    }

                    merged.Keys.Add(key);
                }

                merged.Snapshot = next; // replaced, never changed in place: readers may hold the previous one
            }

            merged.RefreshedAt = now;
            return merged.Snapshot;
        }
        finally
        {
            merged.Refreshing.Release();
        }
    }

    private async Task WriteAsync(DateOnly day, DayStatistics counters, byte[] salt, CancellationToken cancellationToken)
    {
        var document = counters.ToDocument(Node, day, _time.GetUtcNow(), client => HashClient(salt, client));
        var bytes = JsonSerializer.SerializeToUtf8Bytes(document, StatisticsJson.Default.StatisticsDocument);
        for (var ticks = _time.GetUtcNow().UtcTicks; ; ticks++) // same tick as an earlier flush of this node: take the next one
        {
            var key = string.Create(CultureInfo.InvariantCulture, $"{DayPrefix(day)}{Node}-{ticks:D19}.json");
            var put = await _store.PutAsync(key, bytes, WriteCondition.IfNotExists, cancellationToken);
            if (put.Status == PutStatus.Written)
            {
                return;
            }
        }
    }

    /// <summary>The deployment's salt: created once (create-only, so racing nodes agree on the first one written), then read.</summary>
    private async Task<byte[]> GetSaltAsync(CancellationToken cancellationToken)
    {
        if (_salt is { } known)
        {
            return known;
        }

        while (true)
        {
            var stored = await _store.ReadSmallOrNullAsync(SaltKey, cancellationToken);
            if (stored is not null &&
                StoredJson.ParseOrNull(stored.Value.Content, StatisticsJson.Default.SaltDocument) is { } document &&
                TryDecode(document.Salt) is { } existing)
            {
                return _salt = existing;
            }

            if (stored is not null)
            {
                throw new StorageUnavailableException($"{SaltKey} is not a valid salt document; delete it to start new client hashes.");
            }

            var created = new SaltDocument { Salt = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) };
            await _store.PutAsync(SaltKey, JsonSerializer.SerializeToUtf8Bytes(created, StatisticsJson.Default.SaltDocument), WriteCondition.IfNotExists, cancellationToken);
        }
    }

    private static byte[]? TryDecode(string value)
    {
        var buffer = new byte[value.Length];
        return Convert.TryFromBase64String(value, buffer, out var length) && length >= 16 ? buffer[..length] : null;
    }

    private void Requeue(IEnumerable<KeyValuePair<DateOnly, DayStatistics>> days)
    {
        lock (_gate)
        {
            foreach (var (day, counters) in days)
            {
                if (_pending.TryGetValue(day, out var newer))
                {
                    counters.Merge(newer, MaxKeysPerDay);
                }

                _pending[day] = counters;
            }
        }
    }

    private static string SafeNode(string value)
    {
        var chars = value.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray();
        var safe = new string(chars).Trim('-');
        return safe.Length == 0 ? "node" : safe[..Math.Min(safe.Length, 80)];
    }

    private sealed class MergedDay
    {
        public SemaphoreSlim Refreshing { get; } = new(1, 1);

        public HashSet<string> Keys { get; } = new(StringComparer.Ordinal);

        public DayStatistics Snapshot { get; set; } = new();

        public DateTimeOffset? RefreshedAt { get; set; }
    }
}
