using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Upstream;

namespace OrleansCrates.Toolchains;

public static class ToolchainServiceCollectionExtensions
{
    /// <summary>
    /// The toolchain mirror (options from <c>Toolchains</c>, validated at start-up, the dist servers,
    /// <see cref="ToolchainMirror"/>, prefetch and verify). Needs the mirror core (store, <c>Mirror</c> options,
    /// <c>InFlightSpools</c>) registered beside it; an <see cref="IToolchainOwners"/> registered too makes the cluster's
    /// grains the files' owners. The dist servers' HTTP clients go into the host's <see cref="IHttpClientFactory"/>,
    /// named per configured server as the options say at start.
    /// </summary>
    public static IServiceCollection AddToolchains(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ToolchainOptions>()
            .BindConfiguration(ToolchainOptions.SectionName)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ToolchainOptions>, ToolchainOptionsValidator>());
        var toolchains = configuration.GetSection(ToolchainOptions.SectionName).Get<ToolchainOptions>() ?? new ToolchainOptions();
        var mirror = configuration.GetSection(MirrorOptions.SectionName).Get<MirrorOptions>() ?? new MirrorOptions();
        services.AddUpstreamHttpClients(ToolchainUpstreams.ResolveUpstreams(toolchains), ToolchainUpstreams.Policy(mirror, toolchains), UpstreamHttp.DistPrefix);
        services.AddSingleton<ToolchainUpstreams>();
        services.AddSingleton<ToolchainRecords>();
        services.AddSingleton<ToolchainMirror>();
        services.AddSingleton<ToolchainPrefetcher>();
        services.AddSingleton<ToolchainVerifier>();
        return services;
    }
}

/// <summary>The <c>Toolchains</c> section's rules, each broken one named (a bad policy pattern would otherwise never match).</summary>
public sealed class ToolchainOptionsValidator : IValidateOptions<ToolchainOptions>
{
    public ValidateOptionsResult Validate(string? name, ToolchainOptions options)
    {
        var problems = new List<string>();
        var upstreams = options.ResolveUpstreams();
        for (var i = 0; i < upstreams.Count; i++)
        {
            var upstream = upstreams[i];
            if (!Uri.TryCreate(upstream.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            {
                problems.Add($"Toolchains:Upstreams:{i}:Url '{upstream.Url}' is not an absolute http(s) URL");
            }

            if (upstream.Timeout <= TimeSpan.Zero)
            {
                problems.Add($"Toolchains:Upstreams:{i}:Timeout must be positive");
            }
        }

        if (options.ManifestTtl < TimeSpan.Zero || options.FailureBackoff < TimeSpan.Zero || options.RevalidationWait < TimeSpan.Zero || options.PairGraceWindow < TimeSpan.Zero)
        {
            problems.Add("Toolchains: ManifestTtl, FailureBackoff, RevalidationWait and PairGraceWindow must not be negative");
        }

        if (options.MaxArchiveBytes < 1 || options.MaxManifestBytes < 1 || options.MaxManifestBytes > int.MaxValue / 2 || options.MemoryCacheBytes < 1)
        {
            problems.Add("Toolchains: MaxArchiveBytes and MemoryCacheBytes must be at least 1, MaxManifestBytes between 1 and 1 GiB");
        }

        problems.AddRange(options.PatternProblems());
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
