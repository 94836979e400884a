using System.Collections.Concurrent;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Mirror;

/// <summary>One crates.io package to warm: a name, a version and, when the lockfile has one, its checksum.</summary>
public sealed record PrefetchPackage(string Name, string Version, string? Checksum)
{
    public override string ToString() => $"{Name}@{Version}";
}

public enum PrefetchOutcome
{
    Fetched,
    AlreadyPresent,
    Failed,
}

public sealed record PrefetchResult(PrefetchPackage Package, PrefetchOutcome Outcome, string? Error);

/// <summary>What a prefetch did: every package's outcome (failures sorted by name and version) and the index files it readied.</summary>
public sealed record PrefetchReport(IReadOnlyList<PrefetchResult> Results, int IndexesReady, int IndexesFailed)
{
    public int Count(PrefetchOutcome outcome) => Results.Count(r => r.Outcome == outcome);

    public IReadOnlyList<PrefetchResult> Failures =>
        [.. Results.Where(r => r.Outcome == PrefetchOutcome.Failed)
            .OrderBy(r => r.Package.Name, StringComparer.OrdinalIgnoreCase).ThenBy(r => r.Package.Version, StringComparer.Ordinal)];
}

/// <summary>
/// Warms the mirror with packages — each one's index file and crate file — through <see cref="CrateCoordinator"/>,
/// the path every request takes: one fetch per file (across the cluster when the coordinator's owners are grains),
/// sha256 checked before anything is stored. Used by the server's admin endpoint and by the CLI's offline prefetch.
/// </summary>
public sealed class CratePrefetcher(IObjectStore store, CrateCoordinator coordinator)
{
    public const int DefaultConcurrency = 8;
    public const int MaxConcurrency = 64;

    /// <summary>Prefetches <paramref name="packages"/> <paramref name="concurrency"/> at a time; <paramref name="onEach"/> is called after each.</summary>
    public async Task<PrefetchReport> RunAsync(IReadOnlyList<PrefetchPackage> packages, int concurrency, Action<PrefetchResult>? onEach, CancellationToken cancellationToken)
    {
        var results = new ConcurrentBag<PrefetchResult>();
        var indexes = new ConcurrentDictionary<string, string?>(StringComparer.Ordinal);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Clamp(concurrency, 1, MaxConcurrency), CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(packages.DistinctBy(p => (p.Name.ToLowerInvariant(), p.Version)), parallel, async (package, ct) =>
        {
            var (outcome, error) = await PrefetchAsync(package, indexes, ct);
            var result = new PrefetchResult(package, outcome, error);
            results.Add(result);
            onEach?.Invoke(result);
        });

        var indexFailures = indexes.Values.Count(e => e is not null);
        return new PrefetchReport([.. results], indexes.Count - indexFailures, indexFailures);
    }

    private async Task<(PrefetchOutcome, string?)> PrefetchAsync(PrefetchPackage package, ConcurrentDictionary<string, string?> indexes, CancellationToken ct)
    {
        if (!CrateName.TryParse(package.Name, out var parsed) || !CrateVersion.IsValid(package.Version))
        {
            return (PrefetchOutcome.Failed, "not a valid crate name and version");
        }

        var name = parsed.Value;

        // The index file first (single-flight and cached in the coordinator, so once per crate): a mirror
        // that is to work offline needs it as much as the file, including when the file is already held.
        var index = await coordinator.GetIndexAsync(name, ct);
        var indexError = index.Status switch
        {
            IndexStatus.NotFound => $"crate {name} does not exist upstream",
            IndexStatus.Unavailable => $"its index file is unavailable: {index.Error}",
            _ => null,
        };
        indexes[name.Lower] = indexError;
        if (indexError is not null)
        {
            return (PrefetchOutcome.Failed, indexError);
        }

        await coordinator.WhenIndexStoredAsync(name, ct); // answered before it is stored: a prefetch is about storage

        var line = index.Entry!.FindVersion(package.Version);
        if (line is not null && package.Checksum is not null && !string.Equals(line.Checksum, package.Checksum, StringComparison.OrdinalIgnoreCase))
        {
            return (PrefetchOutcome.Failed, $"Cargo.lock has checksum {package.Checksum} but the index has {line.Checksum}; cargo would refuse the file");
        }

        if (await store.GetPropertiesOrNullAsync(MirrorKeys.CrateFile(name, package.Version), ct) is not null)
        {
            return (PrefetchOutcome.AlreadyPresent, null);
        }

        // Stored, not only verified: a cold file's readers may have it while its commit still runs.
        await using var file = await coordinator.EnsureCrateFileAsync(name, package.Version, ct);
        return file.Status == CrateFileStatus.Found
            ? (PrefetchOutcome.Fetched, null)
            : (PrefetchOutcome.Failed, $"{file.Error ?? file.Status.ToString()}{(file.RetryAfter is { } retry ? $" (retry after {retry.TotalSeconds:0} s)" : "")}");
    }
}
