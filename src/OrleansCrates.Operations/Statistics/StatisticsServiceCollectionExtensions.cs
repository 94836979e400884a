using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansCrates.Operations.Statistics;

public static class StatisticsServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="TrafficStatistics"/> (bound to the <c>Statistics</c> section, validated at start) and its
    /// <see cref="TrafficStatisticsFlusher"/>. Needs an <see cref="Storage.IObjectStore"/> registered by the host.
    /// </summary>
    public static IServiceCollection AddTrafficStatistics(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<StatisticsOptions>()
            .BindConfiguration(StatisticsOptions.SectionName)
            .Validate(o => o.FlushInterval > TimeSpan.Zero && o.CacheTtl >= TimeSpan.Zero, "Statistics:FlushInterval must be positive and Statistics:CacheTtl not negative.")
            .ValidateOnStart();
        services.TryAddSingleton<TrafficStatistics>();
        services.AddHostedService<TrafficStatisticsFlusher>();
        return services;
    }
}
