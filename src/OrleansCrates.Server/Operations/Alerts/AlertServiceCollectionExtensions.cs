using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace OrleansCrates.Server.Operations.Alerts;

public static class AlertServiceCollectionExtensions
{
    /// <summary>
    /// The <c>Alerts</c> options (validated at start), the <see cref="AlertMonitor"/> (off without a webhook) and its
    /// webhook client: <c>Alerts:Timeout</c> per attempt and up to <c>Alerts:MaxAttempts</c> attempts for timeouts,
    /// network errors, 408, 429 and 5xx, about 1 s, 2 s, 4 s … apart with jitter (so the nodes of a cluster do not
    /// retry in step), a <c>Retry-After</c> honoured.
    /// </summary>
    public static IServiceCollection AddAlerts(this IServiceCollection services)
    {
        services.AddOptions<AlertOptions>()
            .BindConfiguration(AlertOptions.SectionName)
            .Validate(AlertOptionsValidation.IsValid, AlertOptionsValidation.Rules)
            .ValidateOnStart();
        services.AddHttpClient(AlertMonitor.WebhookClient, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers() // the monitor logs each delivery, retry and give-up itself
            .AddResilienceHandler(AlertMonitor.WebhookClient, (pipeline, context) =>
            {
                var settings = context.ServiceProvider.GetRequiredService<IOptions<AlertOptions>>().Value;
                var logger = context.ServiceProvider.GetRequiredService<ILogger<AlertMonitor>>();
                if (settings.MaxAttempts > 1)
                {
                    pipeline.AddRetry(new HttpRetryStrategyOptions
                    {
                        MaxRetryAttempts = settings.MaxAttempts - 1,
                        BackoffType = DelayBackoffType.Exponential,
                        Delay = TimeSpan.FromSeconds(1),
                        UseJitter = true,
                        OnRetry = args =>
                        {
                            var error = args.Outcome.Result is { } response ? $"HTTP {(int)response.StatusCode}" : args.Outcome.Exception?.Message ?? "failed";
                            AlertMonitor.LogRetry(logger, args.AttemptNumber + 1, error, args.RetryDelay);
                            return default;
                        },
                    });
                }

                pipeline.AddTimeout(settings.Timeout);
            });
        services.AddHostedService<AlertMonitor>();
        return services;
    }
}
