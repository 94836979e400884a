using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Upstream;

namespace OrleansCrates.Toolchains;

public static class ToolchainServiceCollectionExtensions
{
    /// <summary>
    /// The toolchain mirror (options from <c>Toolchains</c>, the dist servers, <see cref="ToolchainMirror"/>, prefetch
    /// and verify). Needs the mirror core (store, <c>Mirror</c> options, <c>InFlightSpools</c>) registered beside it;
    /// an <see cref="IToolchainOwners"/> registered too makes the cluster's grains the files' owners. The dist servers'
    /// HTTP clients go into the host's <see cref="IHttpClientFactory"/>, named per configured server as the options say at start.
    /// </summary>
    public static IServiceCollection AddToolchains(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ToolchainOptions>()
            .BindConfiguration(ToolchainOptions.SectionName)
            .Validate(
                o => o.ResolveUpstreams().All(u => Uri.TryCreate(u.Url, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && u.Timeout > TimeSpan.Zero) &&
                     o.ManifestTtl >= TimeSpan.Zero && o.MaxArchiveBytes >= 1 && o.MaxManifestBytes >= 1,
                "Toolchains: every Upstreams:N:Url must be an absolute http(s) URL with a positive Timeout; ManifestTtl not negative; MaxArchiveBytes and MaxManifestBytes at least 1.")
            .ValidateOnStart();
        var toolchains = configuration.GetSection(ToolchainOptions.SectionName).Get<ToolchainOptions>() ?? new ToolchainOptions();
        var mirror = configuration.GetSection(MirrorOptions.SectionName).Get<MirrorOptions>() ?? new MirrorOptions();
        services.AddUpstreamHttpClients(ToolchainUpstreams.ResolveUpstreams(toolchains), ToolchainUpstreams.Policy(mirror, toolchains), UpstreamHttp.DistPrefix);
        services.AddSingleton<ToolchainUpstreams>();
        services.AddSingleton<ToolchainMirror>();
        services.AddSingleton<ToolchainPrefetcher>();
        services.AddSingleton<ToolchainVerifier>();
        return services;
    }
}
