using System.CommandLine;
using Microsoft.Extensions.Options;
using OrleansCrates.Cli.Output;
using OrleansCrates.Mirror;

namespace OrleansCrates.Cli.Commands;

/// <summary>
/// <c>prefetch PATH/Cargo.lock [--concurrency N] [--server URL]</c>: warms the mirror with every crates.io package of a
/// lockfile — its index file and its crate file — through <see cref="CratePrefetcher"/>. With <c>--server</c> a
/// running node does it (<c>POST /admin/api/v1/prefetch</c>), so each file is fetched once by the cluster's crate
/// grains; without, this process builds the mirror's core from the server's own registration and configuration
/// (<see cref="MirrorServiceRegistration.AddMirrorCore"/>) and works on the storage itself. Prints failures and a summary
/// on stdout; exit 1 if anything failed.
/// </summary>
internal static class PrefetchCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("lockfile") { Description = "PATH/Cargo.lock" };
        var concurrency = CliOptions.Concurrency();
        var server = new CliOptions.Server();
        var command = new Command("prefetch", "Fetch every crates.io package of a Cargo.lock (index file and crate file, checksums verified) into the mirror, so it can serve them offline.")
        {
            path, concurrency,
        };
        server.AddTo(command);
        command.SetAction((parse, ct) => CliApp.GuardAsync(async () =>
        {
            var lockPath = parse.GetValue(path)!;
            var packages = await Lockfile.ReadForCommandAsync(lockPath, ct);
            if (packages is null)
            {
                return CliApp.Failed;
            }

            var wanted = packages.Where(p => p.IsFromCratesIo).Select(p => new PrefetchPackage(p.Name, p.Version, p.Checksum))
                .DistinctBy(p => (p.Name.ToLowerInvariant(), p.Version)).ToList();
            var skipped = packages.Count(p => p.Source is not null && !p.IsFromCratesIo);
            using var client = server.ClientOrNull(parse);
            var summary = client is not null
                ? await ThroughServerAsync(client, wanted, parse.GetValue(concurrency), ct)
                : await OfflineAsync(wanted, parse.GetValue(concurrency), ct);
            foreach (var failure in summary.Failed)
            {
                await TextOutput.WriteLineAsync($"failed  {failure.Name}@{failure.Version}: {failure.Error}", ct);
            }

            await TextOutput.WriteLineAsync(
                $"prefetch: {(summary.Failed.Count == 0 ? "OK" : "FAILED")}, {TextOutput.Plural(wanted.Count, "crate file")}: " +
                $"{summary.Fetched} fetched, {summary.AlreadyPresent} already present, {summary.Failed.Count} failed; " +
                $"{TextOutput.Plural(summary.IndexesReady, "index file")} ready, {summary.IndexesFailed} failed" +
                (skipped > 0 ? $"; {TextOutput.Plural(skipped, "package")} not from crates.io skipped." : "."), ct);
            return summary.Failed.Count == 0 ? CliApp.Ok : CliApp.Failed;
        }, ct));
        return command;
    }

    private static async Task<AdminClient.PrefetchJson> ThroughServerAsync(AdminClient client, List<PrefetchPackage> wanted, int concurrency, CancellationToken ct)
    {
        await TextOutput.NoteAsync($"Prefetching {TextOutput.Plural(wanted.Count, "crate file")} through {client.Server} ...");
        return await client.PrefetchAsync(wanted.Select(p => new { name = p.Name, version = p.Version, checksum = p.Checksum }), concurrency, ct);
    }

    private static async Task<AdminClient.PrefetchJson> OfflineAsync(List<PrefetchPackage> wanted, int concurrency, CancellationToken ct)
    {
        var configuration = CliApp.BuildConfiguration();
        var services = new ServiceCollection()
            .AddSingleton(configuration)
            .AddLogging(logging => logging.AddCliLogging())
            .AddSingleton<IHostApplicationLifetime, StandaloneLifetime>()
            .AddMirrorCore(configuration);
        // Nothing is served from this process: the hot-file memory layer would only cost time and memory.
        services.PostConfigure<MirrorOptions>(o => o.HotFileCacheBytes = 0);
        await using var provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<IOptions<MirrorOptions>>().Value; // validated now, as the server does at start-up
        await provider.EnsureStorageReadyAsync(ct);

        // The coordinator's shared fetches run under the "application stopping" token: Ctrl+C stops them too.
        await using var stop = ct.Register(provider.GetRequiredService<IHostApplicationLifetime>().StopApplication);
        var report = await CliProgress.RunAsync("prefetch", "crate files", progress =>
        {
            progress.Total = wanted.Count;
            return provider.GetRequiredService<CratePrefetcher>().RunAsync(wanted, concurrency, _ => progress.Advance(), ct);
        });
        ct.ThrowIfCancellationRequested();
        return new AdminClient.PrefetchJson(
            report.Count(PrefetchOutcome.Fetched),
            report.Count(PrefetchOutcome.AlreadyPresent),
            report.IndexesReady,
            report.IndexesFailed,
            [.. report.Failures.Select(f => new AdminClient.FailureJson(f.Package.Name, f.Package.Version, f.Error ?? ""))]);
    }
}
