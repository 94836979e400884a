using System.Collections.Concurrent;
using OrleansCrates.Storage;

namespace OrleansCrates.Registry;

public sealed partial class PrivateRegistry
{
    public const int MaxSearchPageSize = 100;

    private const int MetaReadConcurrency = 8;

    /// <summary>
    /// Crates with at least one version whose name contains <paramref name="query"/> (case and '-'/'_' ignored) or
    /// whose description contains it (case ignored); every crate when the query is empty. Exact name matches come
    /// first, then other name matches, then description matches, each by name. <paramref name="perPage"/> is clamped
    /// to 1..100; <see cref="SearchResult.Total"/> counts every hit.
    /// </summary>
    public async Task<SearchResult> SearchAsync(string? query, int perPage, CancellationToken ct)
    {
        perPage = Math.Clamp(perPage, 1, MaxSearchPageSize);
        var metas = await LoadAllMetaAsync(ct);
        var text = query?.Trim() ?? "";
        var canonicalQuery = Canonicalize(text);
        var hits = new List<(int Rank, CrateMeta Meta)>();
        foreach (var meta in metas)
        {
            if (meta.MaxVersion is null)
            {
                continue; // a name claimed by a publish that never landed a version
            }

            var canonicalName = Canonicalize(meta.Name);
            int rank;
            if (text.Length == 0 || canonicalName == canonicalQuery)
            {
                rank = 0;
            }
            else if (canonicalName.Contains(canonicalQuery, StringComparison.Ordinal))
            {
                rank = 1;
            }
            else if (meta.Description?.Contains(text, StringComparison.OrdinalIgnoreCase) == true)
            {
                rank = 2;
            }
            else
            {
                continue;
            }

            hits.Add((rank, meta));
        }

        var page = hits
            .OrderBy(h => h.Rank)
            .ThenBy(h => h.Meta.Name, StringComparer.OrdinalIgnoreCase)
            .ThenBy(h => h.Meta.Name, StringComparer.Ordinal)
            .Take(perPage)
            .Select(h => new CrateSummary(h.Meta.Name, h.Meta.MaxVersion!, h.Meta.Description))
            .ToList();
        return new SearchResult(page, hits.Count);
    }

    /// <summary>Every crate's metadata: one listing, then only objects whose ETag changed since this node last read them.</summary>
    private async Task<List<CrateMeta>> LoadAllMetaAsync(CancellationToken ct)
    {
        var listed = new List<ObjectProperties>();
        await foreach (var properties in _store.ListAsync(RegistryKeys.MetaPrefix, ct))
        {
            if (RegistryKeys.CanonicalFromMetaKey(properties.Key) is not null)
            {
                listed.Add(properties);
            }
        }

        var seen = listed.Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var key in _metaCache.Keys)
        {
            if (!seen.Contains(key))
            {
                _metaCache.TryRemove(key, out _);
            }
        }

        var results = new ConcurrentBag<CrateMeta>();
        await Parallel.ForEachAsync(
            listed,
            new ParallelOptions { MaxDegreeOfParallelism = MetaReadConcurrency, CancellationToken = ct },
            async (properties, token) =>
            {
                if (await ReadMetaCachedAsync(properties, token) is { } meta)
                {
                    results.Add(meta);
                }
            });
        return [.. results];
    }

    private static string Canonicalize(string value) => value.ToLowerInvariant().Replace('-', '_');
}
