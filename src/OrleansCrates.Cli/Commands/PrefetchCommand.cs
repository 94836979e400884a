using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Server.Hosting;
using OrleansCrates.Storage;
using OrleansCrates.Storage.AzureBlob;

namespace OrleansCrates.Server.Cli;

/// <summary>
/// <c>prefetch PATH/Cargo.lock [--concurrency N]</c>: warms the mirror with every crates.io package of a lockfile —
/// its index file and its crate file — through the very path the server uses (<see cref="CrateCoordinator"/>: one
/// fetch per file across the cluster, sha256 checked before anything is stored), built from the server's own
/// configuration and registration. Safe to run while servers run on the same storage. Prints failures and a summary
/// on stdout; exit 1 if anything failed.
/// </summary>
internal static class PrefetchCommand
{
    private const string Usage = "prefetch PATH/Cargo.lock [--concurrency N]";

    public static (IMaintenanceCommand? Command, string? Error) Parse(CliArguments args, IReadOnlyList<string> operands)
    {
        if (MaintenanceCommands.CheckShape(args, operands, 1, Usage, "concurrency") is { } shape)
        {
            return (null, shape);
        }

        var (concurrency, error) = MaintenanceCommands.ParseConcurrency(args);
        return error is not null ? (null, error) : (new Prefetch(operands[0], concurrency), null);
    }

    private sealed record Prefetch(string Path, int Concurrency) : IMaintenanceCommand
    {
        public async Task<int> RunAsync(CommandOutput output, IConfiguration configuration, CancellationToken cancellationToken)
        {
            var packages = await Lockfile.ReadForCommandAsync(Path, output, cancellationToken);
            if (packages is null)
            {
                return Cli.Failed;
            }

            var wanted = packages.Where(p => p.IsFromCratesIo).DistinctBy(p => (p.Name.ToLowerInvariant(), p.Version)).ToList();
            var skipped = packages.Count(p => p.Source is not null && !p.IsFromCratesIo);

            await using var services = await MaintenanceCommands.FromConfigurationAsync(output.Stderr, () => BuildServices(configuration));
            if (services is null)
            {
                return Cli.Failed;
            }

            var mirror = await MaintenanceCommands.FromConfigurationAsync(output.Stderr, () => new Mirror(
                services.GetRequiredService<IObjectStore>(),
                services.GetRequiredService<CrateCoordinator>(),
                services.GetRequiredService<IHostApplicationLifetime>()));
            if (mirror is null)
            {
                return Cli.Failed;
            }

            if (services.GetService<AzureBlobObjectStore>() is { } azure)
            {
                await azure.EnsureContainerAsync(cancellationToken);
            }

            // The coordinator's shared fetches run under the "application stopping" token: Ctrl+C stops them too.
            await using var stop = cancellationToken.Register(mirror.Lifetime.StopApplication);
            var outcomes = new ConcurrentBag<(LockedPackage Package, Outcome Outcome, string? Error)>();
            var indexes = new ConcurrentDictionary<string, string?>(StringComparer.Ordinal);
            await using (var progress = ProgressBar.Start(output.Stderr, "prefetch", "crate files"))
            {
                progress.Total = wanted.Count;
                var parallel = new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken };
                await Parallel.ForEachAsync(wanted, parallel, async (package, ct) =>
                {
                    var (outcome, error) = await PrefetchAsync(mirror, package, indexes, ct);
                    outcomes.Add((package, outcome, error));
                    progress.Advance();
                });
            }

            cancellationToken.ThrowIfCancellationRequested();
            var failed = outcomes.Where(o => o.Outcome == Outcome.Failed)
                .OrderBy(o => o.Package.Name, StringComparer.OrdinalIgnoreCase).ThenBy(o => o.Package.Version, StringComparer.Ordinal)
                .ToList();
            foreach (var (package, _, error) in failed)
            {
                await output.Stdout.WriteLineAsync($"failed  {package}: {error}".AsMemory(), cancellationToken);
            }

            var fetched = outcomes.Count(o => o.Outcome == Outcome.Fetched);
            var present = outcomes.Count(o => o.Outcome == Outcome.AlreadyPresent);
            var indexFailures = indexes.Values.Count(e => e is not null);
            await output.Stdout.WriteLineAsync(
                ($"prefetch: {(failed.Count == 0 ? "OK" : "FAILED")}, {MaintenanceCommands.Plural(wanted.Count, "crate file")}: " +
                $"{fetched} fetched, {present} already present, {failed.Count} failed; " +
                $"{MaintenanceCommands.Plural(indexes.Count - indexFailures, "index file")} ready, {indexFailures} failed" +
                (skipped > 0 ? $"; {MaintenanceCommands.Plural(skipped, "package")} not from crates.io skipped." : ".")).AsMemory(), cancellationToken);
            return failed.Count == 0 ? Cli.Ok : Cli.Failed;
        }

        private static async Task<(Outcome, string?)> PrefetchAsync(
            Mirror mirror, LockedPackage package, ConcurrentDictionary<string, string?> indexes, CancellationToken ct)
        {
            if (!CrateName.TryParse(package.Name, out var parsed) || !CrateVersion.IsValid(package.Version))
            {
                return (Outcome.Failed, "not a valid crate name and version");
            }

            var name = parsed.Value;

            // The index file first (single-flight and cached in the coordinator, so once per crate): a mirror
            // that is to work offline needs it as much as the file, including when the file is already held.
            var index = await mirror.Coordinator.GetIndexAsync(name, ct);
            var indexError = index.Status switch
            {
                IndexStatus.NotFound => $"crate {name} does not exist upstream",
                IndexStatus.Unavailable => $"its index file is unavailable: {index.Error}",
                _ => null,
            };
            indexes[name.Lower] = indexError;
            if (indexError is not null)
            {
                return (Outcome.Failed, indexError);
            }

            var line = index.Entry!.FindVersion(package.Version);
            if (line is not null && package.Checksum is not null && !string.Equals(line.Checksum, package.Checksum, StringComparison.OrdinalIgnoreCase))
            {
                return (Outcome.Failed, $"Cargo.lock has checksum {package.Checksum} but the index has {line.Checksum}; cargo would refuse the file");
            }

            if (await mirror.Store.GetPropertiesOrNullAsync(MirrorKeys.CrateFile(name, package.Version), ct) is not null)
            {
                return (Outcome.AlreadyPresent, null);
            }

            await using var file = await mirror.Coordinator.OpenCrateFileAsync(name, package.Version, ct);
            return file.Status == CrateFileStatus.Found
                ? (Outcome.Fetched, null)
                : (Outcome.Failed, $"{file.Error ?? file.Status.ToString()}{(file.RetryAfter is { } retry ? $" (retry after {retry.TotalSeconds:0} s)" : "")}");
        }

        /// <summary>The server's mirror services (storage, leases, upstreams, coordinator) from the server's registration.</summary>
        private static ServiceProvider BuildServices(IConfiguration configuration)
        {
            var services = new ServiceCollection()
                .AddSingleton(configuration)
                .AddLogging(logging => logging.AddCliLogging())
                .AddSingleton<IHostApplicationLifetime, CliLifetime>()
                .AddMirrorCore(configuration);
            // Nothing is served from this process: the hot-file memory layer would only cost time and memory.
            services.PostConfigure<MirrorOptions>(o => o.HotFileCacheBytes = 0);
            var provider = services.BuildServiceProvider();
            try
            {
                // Validate the options now, as the server does at start-up, so bad settings are a configuration error.
                _ = provider.GetRequiredService<IOptions<MirrorOptions>>().Value;
                _ = provider.GetRequiredService<IOptions<StorageOptions>>().Value;
                return provider;
            }
            catch
            {
                provider.Dispose();
                throw;
            }
        }
    }

    private sealed record Mirror(IObjectStore Store, CrateCoordinator Coordinator, IHostApplicationLifetime Lifetime);

    private enum Outcome
    {
        Fetched,
        AlreadyPresent,
        Failed,
    }

    /// <summary>The host lifetime the coordinator expects, for a process that is not a host: stopped by Ctrl+C.</summary>
    private sealed class CliLifetime : IHostApplicationLifetime, IDisposable
    {
        private readonly CancellationTokenSource _stopping = new();

        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => _stopping.Token;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => _stopping.Cancel();

        public void Dispose() => _stopping.Dispose();
    }
}
