using OrleansCrates.Storage;
using OrleansCrates.Toolchains;

namespace OrleansCrates.Server.Cli;

/// <summary>
/// <c>prefetch-toolchain CHANNEL [--target T]... [--component C]... [--profile minimal|default]</c>: fills the
/// toolchain mirror before it goes offline (<see cref="ToolchainPrefetcher"/>, through the same verified path as the
/// server). Thin: parsing and printing only.
/// </summary>
internal static class ToolchainCommands
{
    private const string Usage = "prefetch-toolchain CHANNEL [--target TRIPLE]... [--component NAME]... [--profile minimal|default]";
    private const string DefaultTarget = "x86_64-unknown-linux-gnu";

    public static (IMaintenanceCommand? Command, string? Error) ParsePrefetch(CliArguments args, IReadOnlyList<string> operands)
    {
        if (MaintenanceCommands.CheckShape(args, operands, 1, Usage, "target", "component", "profile") is { } shape)
        {
            return (null, shape);
        }

        var (profile, error) = args.Single("profile");
        return error is not null ? (null, error)
            : profile is not (null or "minimal" or "default" or "complete") ? (null, $"--profile must be minimal, default or complete. Usage: {Usage}")
            : (new PrefetchToolchain(
                operands[0],
                args.Options.TryGetValue("target", out var targets) ? [.. targets] : [DefaultTarget],
                args.Options.TryGetValue("component", out var components) ? [.. components] : [],
                profile ?? "default"), null);
    }

    private sealed record PrefetchToolchain(string Channel, IReadOnlyList<string> Targets, IReadOnlyList<string> Components, string Profile) : IMaintenanceCommand
    {
        public async Task<int> RunAsync(CommandOutput output, IConfiguration configuration, CancellationToken cancellationToken)
        {
            await using var services = await MaintenanceCommands.FromConfigurationAsync(output.Stderr, () => PrefetchCommand.Prefetch.BuildServices(configuration));
            if (services is null)
            {
                return Cli.Failed;
            }

            var progress = new Progress<ToolchainPrefetchProgress>(step =>
                output.Stderr.WriteLine($"[{step.Done}/{step.Total}] {step.Status,-8} {step.Path}{(step.Error is null ? "" : ": " + step.Error)}"));
            var result = await services.GetRequiredService<ToolchainPrefetcher>()
                .PrefetchAsync(Channel, Targets, Components, Profile, progress, cancellationToken);
            foreach (var failure in result.Failures)
            {
                await output.Stdout.WriteLineAsync($"failed  {failure.Path}: {failure.Status}: {failure.Error}".AsMemory(), cancellationToken);
            }

            await output.Stdout.WriteLineAsync(
                (result.Error is { } error
                    ? $"prefetch-toolchain: FAILED, {error}"
                    : $"prefetch-toolchain: {(result.Succeeded ? "OK" : "FAILED")}, {Channel} ({Profile}; {string.Join(", ", Targets)}): {MaintenanceCommands.Plural(result.Files, "file")}, {result.Failures.Count} failed.").AsMemory(),
                cancellationToken);
            return result.Succeeded ? Cli.Ok : Cli.Failed;
        }
    }

    /// <summary><c>verify</c>'s toolchain part: every stored toolchain file against what publishes it; prints problems, returns their count.</summary>
    public static async Task<int> VerifyAsync(IObjectStore store, TextWriter stdout, CancellationToken cancellationToken)
    {
        var report = await new ToolchainVerifier(store, Microsoft.Extensions.Options.Options.Create(new ToolchainOptions())).VerifyAsync(null, cancellationToken);
        if (report is { Manifests: 0, Files: 0, Problems.Count: 0 })
        {
            return 0; // no toolchain mirror in this store: verify's output is the crates' alone
        }

        foreach (var problem in report.Problems)
        {
            await stdout.WriteLineAsync($"toolchain  {problem.Key}: {problem.Problem}".AsMemory(), cancellationToken);
        }

        await stdout.WriteLineAsync(
            $"verify toolchains: {(report.Problems.Count == 0 ? "OK" : "FAILED")}; {MaintenanceCommands.Plural(report.Manifests, "manifest")}, {MaintenanceCommands.Plural(report.Files, "file")} hashed, {report.Problems.Count} problems.".AsMemory(),
            cancellationToken);
        return report.Problems.Count;
    }
}
