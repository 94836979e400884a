namespace OrleansCrates.Server.Alerts;

public static class AlertServiceCollectionExtensions
{
    /// <summary>The <c>Alerts</c> options (validated at start) and the <see cref="AlertMonitor"/>; off without a webhook.</summary>
    public static IServiceCollection AddAlerts(this IServiceCollection services)
    {
        services.AddOptions<AlertOptions>()
            .BindConfiguration(AlertOptions.SectionName)
            .Validate(AlertOptionsValidation.IsValid, AlertOptionsValidation.Rules)
            .ValidateOnStart();
        services.AddHostedService<AlertMonitor>();
        return services;
    }
}
