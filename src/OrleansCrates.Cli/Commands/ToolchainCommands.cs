using System.CommandLine;
using Microsoft.Extensions.Options;
using OrleansCrates.Cli.Output;
using OrleansCrates.Mirror;
using OrleansCrates.Storage;
using OrleansCrates.Toolchains;

namespace OrleansCrates.Cli.Commands;

/// <summary>
/// <c>prefetch-toolchain CHANNEL [--target T]... [--component C]... [--profile minimal|default|complete]</c>: fills the
/// toolchain mirror before it goes offline (<see cref="ToolchainPrefetcher"/>, through the same verified path as the
/// server), and <c>verify</c>'s toolchain part. Thin: parsing and printing only.
/// </summary>
internal static class ToolchainCommands
{
    private const string DefaultTarget = "x86_64-unknown-linux-gnu";

    public static Command CreatePrefetch()
    {
        var channel = new Argument<string>("channel") { Description = "stable, beta, nightly, 1.95.0, 1.95 or nightly-2026-11-20" };
        var targets = new Option<string[]>("--target") { Description = $"A target triple (repeatable; default {DefaultTarget}).", AllowMultipleArgumentsPerToken = false };
        var components = new Option<string[]>("--component") { Description = "An extra component beyond the profile's (repeatable)." };
        var profile = new Option<string>("--profile") { Description = "The rustup profile whose components to fetch.", DefaultValueFactory = _ => "default" };
        profile.AcceptOnlyFromAmong("minimal", "default", "complete");
        var command = new Command("prefetch-toolchain", "Fill the toolchain mirror (/rustup) for offline use: the channel's manifest and every archive its profile and the extra components need for each target, each verified against the manifest.")
        {
            channel, targets, components, profile,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(() => PrefetchAsync(
            parse.GetValue(channel)!,
            parse.GetValue(targets) is { Length: > 0 } t ? t : [DefaultTarget],
            parse.GetValue(components) ?? [],
            parse.GetValue(profile)!,
            ct), ct));
        return command;
    }

    private static async Task<int> PrefetchAsync(string channel, IReadOnlyList<string> targets, IReadOnlyList<string> components, string profile, CancellationToken ct)
    {
        var configuration = CliApp.BuildConfiguration();
        var services = new ServiceCollection()
            .AddSingleton(configuration)
            .AddLogging(logging => logging.AddCliLogging())
            .AddSingleton<IHostApplicationLifetime, StandaloneLifetime>()
            .AddMirrorCore(configuration)
            .AddToolchains(configuration);
        services.PostConfigure<MirrorOptions>(o => o.HotFileCacheBytes = 0); // nothing is served from this process
        await using var provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<IOptions<ToolchainOptions>>().Value; // validated now, as the server does at start-up
        await provider.EnsureStorageReadyAsync(ct);
        await using var stop = ct.Register(provider.GetRequiredService<IHostApplicationLifetime>().StopApplication);

        var progress = new Progress<ToolchainPrefetchProgress>(step =>
            Console.Error.WriteLine($"[{step.Done}/{step.Total}] {step.Status,-8} {step.Path}{(step.Error is null ? "" : ": " + step.Error)}"));
        var result = await provider.GetRequiredService<ToolchainPrefetcher>().PrefetchAsync(channel, targets, components, profile, progress, ct);
        foreach (var failure in result.Failures)
        {
            await TextOutput.WriteLineAsync($"failed  {failure.Path}: {failure.Status}: {failure.Error}", ct);
        }

        await TextOutput.WriteLineAsync(result.Error is { } error
            ? $"prefetch-toolchain: FAILED, {error}"
            : $"prefetch-toolchain: {(result.Succeeded ? "OK" : "FAILED")}, {channel} ({profile}; {string.Join(", ", targets)}): {TextOutput.Plural(result.Files, "file")}, {result.Failures.Count} failed.", ct);
        return result.Succeeded ? CliApp.Ok : CliApp.Failed;
    }

    /// <summary>
    /// <c>verify</c>'s toolchain part: every stored toolchain file against what publishes it, under the configured
    /// <c>Toolchains</c> options (validated as the server validates them).
    /// </summary>
    public static async Task<ToolchainVerification> VerifyAsync(IObjectStore store, IConfiguration configuration, CancellationToken cancellationToken)
    {
        var options = configuration.GetSection(ToolchainOptions.SectionName).Get<ToolchainOptions>() ?? new ToolchainOptions();
        var validation = new ToolchainOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(ToolchainOptions.SectionName, typeof(ToolchainOptions), validation.Failures);
        }

        return await new ToolchainVerifier(store, Options.Create(options)).VerifyAsync(null, cancellationToken);
    }

    /// <summary>No toolchain mirror in this store: verify's output is the crates' alone.</summary>
    public static bool IsEmpty(ToolchainVerification report) => report is { Manifests: 0, Files: 0, Problems.Count: 0 };

    /// <summary>
    /// Prints the toolchain problems: text lines and a summary line, or (<paramref name="json"/>) one finding line per
    /// problem, shaped as the crates' (<c>kind</c> "toolchain", <c>registry</c> "toolchains", the storage key as <c>crate</c>).
    /// </summary>
    public static async Task WriteAsync(ToolchainVerification report, bool json, CancellationToken cancellationToken)
    {
        if (IsEmpty(report))
        {
            return;
        }

        foreach (var problem in report.Problems)
        {
            if (json)
            {
                await TextOutput.WriteJsonLineAsync(line =>
                {
                    line.WriteString("kind", "toolchain");
                    line.WriteBoolean("problem", true);
                    line.WriteString("registry", "toolchains");
                    line.WriteString("crate", problem.Key);
                    line.WriteNull("version");
                    line.WriteString("detail", problem.Problem);
                }, cancellationToken);
            }
            else
            {
                await TextOutput.WriteLineAsync($"toolchain  {problem.Key}: {problem.Problem}", cancellationToken);
            }
        }

        if (!json)
        {
            await TextOutput.WriteLineAsync(
                $"verify toolchains: {(report.Problems.Count == 0 ? "OK" : "FAILED")}; {TextOutput.Plural(report.Manifests, "manifest")}, {TextOutput.Plural(report.Files, "file")} hashed, {report.Problems.Count} problems.",
                cancellationToken);
        }
    }
}
