using Microsoft.Extensions.DependencyInjection;

namespace OrleansCrates.Toolchains;

public static class ToolchainServiceCollectionExtensions
{
    /// <summary>
    /// The toolchain mirror (options from <c>Toolchains</c>, the dist servers, <see cref="ToolchainMirror"/>, prefetch
    /// and verify). Needs the mirror core (store, <c>Mirror</c> options, <c>InFlightSpools</c>) registered beside it;
    /// an <see cref="IToolchainOwners"/> registered too makes the cluster's grains the files' owners.
    /// </summary>
    public static IServiceCollection AddToolchains(this IServiceCollection services)
    {
        services.AddOptions<ToolchainOptions>()
            .BindConfiguration(ToolchainOptions.SectionName)
            .Validate(
                o => o.ResolveUpstreams().All(u => Uri.TryCreate(u.Url, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && u.Timeout > TimeSpan.Zero) &&
                     o.ManifestTtl >= TimeSpan.Zero && o.MaxArchiveBytes >= 1 && o.MaxManifestBytes >= 1,
                "Toolchains: every Upstreams:N:Url must be an absolute http(s) URL with a positive Timeout; ManifestTtl not negative; MaxArchiveBytes and MaxManifestBytes at least 1.")
            .ValidateOnStart();
        services.AddSingleton<ToolchainUpstreams>();
        services.AddSingleton<ToolchainMirror>();
        services.AddSingleton<ToolchainPrefetcher>();
        services.AddSingleton<ToolchainVerifier>();
        return services;
    }
}
