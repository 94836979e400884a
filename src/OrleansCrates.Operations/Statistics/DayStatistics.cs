using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCrates.Operations.Statistics;

/// <summary>Downloads and bytes of one crate version in one registry.</summary>
public readonly record struct CrateVersionKey(string Registry, string Crate, string Version);

/// <summary>
/// The counters of one UTC day: what one node counted between two flushes, or the merge of every node's objects.
/// Merging is additive (counters are summed, client hashes united), so merging objects in any order, or merging a
/// failed flush back into the pending counters, gives the same totals. Not thread-safe: callers hold a lock.
/// </summary>
public sealed class DayStatistics
{
    /// <summary>Requests answered (index files, config.json, downloads), any status.</summary>
    public long Requests { get; set; }

    /// <summary>Response bytes sent (bodies, by Content-Length).</summary>
    public long Bytes { get; set; }

    public long Hits { get; set; }

    public long Misses { get; set; }

    public long Stale { get; set; }

    /// <summary>Answers with status 500 or more (upstream failures included: 502, 503).</summary>
    public long Errors { get; set; }

    /// <summary>Successful crate file downloads.</summary>
    public long Downloads { get; set; }

    public long DownloadBytes { get; set; }

    /// <summary>Bytes served from the cache without an upstream transfer (cache hits): what clients would otherwise have pulled upstream.</summary>
    public long UpstreamBytesSaved { get; set; }

    /// <summary>Client identities: raw (<c>token:…</c>, <c>ip:…</c>) while pending in memory, salted short hashes once written.</summary>
    public HashSet<string> Clients { get; } = new(StringComparer.Ordinal);

    public Dictionary<CrateVersionKey, CrateCounter> Crates { get; } = [];

    /// <summary>Clients or crate versions not kept because a day already held the most this node keeps in memory.</summary>
    public long Dropped { get; set; }

    /// <summary>Hits over cache-answered requests, or null when there were none.</summary>
    public double? HitRatio => Hits + Misses + Stale is var total && total > 0 ? (double)Hits / total : null;

    public bool IsEmpty => Requests == 0 && Clients.Count == 0 && Crates.Count == 0;

    public void Add(TrafficEvent e, int maxKeys)
    {
        Requests++;
        Bytes += e.Bytes;
        if (e.Status >= 500)
        {
            Errors++;
        }

        switch (e.Outcome)
        {
            case CacheOutcome.Hit:
                Hits++;
                UpstreamBytesSaved += e.Bytes;
                break;
            case CacheOutcome.Miss:
                Misses++;
                break;
            case CacheOutcome.Stale:
                Stale++;
                break;
            default:
                break;
        }

        if (e.Client is not null && !Clients.Contains(e.Client))
        {
            if (Clients.Count < maxKeys)
            {
                Clients.Add(e.Client);
            }
            else
            {
                Dropped++;
            }
        }

        if (e.Kind == TrafficKind.Download && e.Status is 200 or 302 && e.Crate is not null && e.Version is not null)
        {
            Downloads++;
            DownloadBytes += e.Bytes;
            AddCrate(new CrateVersionKey(e.Registry, e.Crate, e.Version), 1, e.Bytes, maxKeys);
        }
    }

    /// <summary>Adds every counter of <paramref name="other"/> to this one.</summary>
    public void Merge(DayStatistics other, int maxKeys = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(other);
        Requests += other.Requests;
        Bytes += other.Bytes;
        Hits += other.Hits;
        Misses += other.Misses;
        Stale += other.Stale;
        Errors += other.Errors;
        Downloads += other.Downloads;
        DownloadBytes += other.DownloadBytes;
        UpstreamBytesSaved += other.UpstreamBytesSaved;
        Dropped += other.Dropped;
        foreach (var client in other.Clients)
        {
            if (Clients.Count < maxKeys)
            {
                Clients.Add(client);
            }
            else if (!Clients.Contains(client))
            {
                Dropped++;
            }
        }

        foreach (var (key, counter) in other.Crates)
        {
            AddCrate(key, counter.Downloads, counter.Bytes, maxKeys);
        }
    }

    private void AddCrate(CrateVersionKey key, long downloads, long bytes, int maxKeys)
    {
        if (Crates.TryGetValue(key, out var counter))
        {
            Crates[key] = new CrateCounter(counter.Downloads + downloads, counter.Bytes + bytes);
        }
        else if (Crates.Count < maxKeys)
        {
            Crates[key] = new CrateCounter(downloads, bytes);
        }
        else
        {
            Dropped++;
        }
    }

    /// <summary>The stored form, with <see cref="Clients"/> replaced by <paramref name="hashClient"/>'s results.</summary>
    public StatisticsDocument ToDocument(string node, DateOnly day, DateTimeOffset writtenAt, Func<string, string> hashClient)
    {
        ArgumentNullException.ThrowIfNull(hashClient);
        return new StatisticsDocument
        {
            Node = node,
            Day = day,
            WrittenAt = writtenAt,
            Requests = Requests,
            Bytes = Bytes,
            Hits = Hits,
            Misses = Misses,
            Stale = Stale,
            Errors = Errors,
            Downloads = Downloads,
            DownloadBytes = DownloadBytes,
            UpstreamBytesSaved = UpstreamBytesSaved,
            Dropped = Dropped,
            Clients = [.. Clients.Select(hashClient).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            Crates = [.. Crates.OrderBy(c => c.Key.Registry, StringComparer.Ordinal).ThenBy(c => c.Key.Crate, StringComparer.Ordinal).ThenBy(c => c.Key.Version, StringComparer.Ordinal)
                .Select(c => new CrateVersionDocument(c.Key.Registry, c.Key.Crate, c.Key.Version, c.Value.Downloads, c.Value.Bytes))],
        };
    }

    public static DayStatistics FromDocument(StatisticsDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var day = new DayStatistics
        {
            Requests = document.Requests,
            Bytes = document.Bytes,
            Hits = document.Hits,
            Misses = document.Misses,
            Stale = document.Stale,
            Errors = document.Errors,
            Downloads = document.Downloads,
            DownloadBytes = document.DownloadBytes,
            UpstreamBytesSaved = document.UpstreamBytesSaved,
            Dropped = document.Dropped,
        };
        day.Clients.UnionWith(document.Clients);
        foreach (var crate in document.Crates)
        {
            day.AddCrate(new CrateVersionKey(crate.Registry, crate.Crate, crate.Version), crate.Downloads, crate.Bytes, int.MaxValue);
        }

        return day;
    }
}

public readonly record struct CrateCounter(long Downloads, long Bytes);

/// <summary>One node's flushed counters of one day: <c>stats/{yyyy-MM-dd}/{node}-{ticks}.json</c>, written create-only.</summary>
public sealed class StatisticsDocument
{
    public required string Node { get; init; }

    public required DateOnly Day { get; init; }

    public required DateTimeOffset WrittenAt { get; init; }

    public long Requests { get; init; }

    public long Bytes { get; init; }

    public long Hits { get; init; }

    public long Misses { get; init; }

    public long Stale { get; init; }

    public long Errors { get; init; }

    public long Downloads { get; init; }

    public long DownloadBytes { get; init; }

    public long UpstreamBytesSaved { get; init; }

    public long Dropped { get; init; }

    /// <summary>Salted short hashes of the clients seen (token id, else address).</summary>
    public string[] Clients { get; init; } = [];

    public CrateVersionDocument[] Crates { get; init; } = [];
}

public sealed record CrateVersionDocument(string Registry, string Crate, string Version, long Downloads, long Bytes);

/// <summary>The per-deployment salt for client hashes, <c>stats/salt.json</c>: shared by every node, so one client is one hash cluster-wide.</summary>
internal sealed class SaltDocument
{
    public required string Salt { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(StatisticsDocument))]
[JsonSerializable(typeof(SaltDocument))]
internal sealed partial class StatisticsJson : JsonSerializerContext;
