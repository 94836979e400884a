using OrleansCrates.Operations.Statistics;
using OrleansCrates.Server.Operations.Directory;

namespace OrleansCrates.Server.Operations.Statistics;

public static class StatisticsRegistration
{
    /// <summary>Traffic statistics and their flusher, recent errors, the pending-approvals count and the mirror directory.</summary>
    public static IServiceCollection AddStatisticsAndDirectory(this IServiceCollection services)
    {
        services.AddTrafficStatistics();
        services.AddSingleton<RecentErrors>();
        services.AddSingleton<PendingApprovalsCounter>();
        services.AddSingleton<StatisticsReport>();
        services.AddMirrorDirectory();
        return services;
    }
}
