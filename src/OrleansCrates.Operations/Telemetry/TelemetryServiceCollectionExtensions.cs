using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansCrates.Storage;

namespace OrleansCrates.Operations.Telemetry;

public static class TelemetryServiceCollectionExtensions
{
    /// <summary>
    /// The <see cref="OrleansCratesMetrics"/> instruments, and the registered <see cref="IObjectStore"/> wrapped in an
    /// <see cref="InstrumentedObjectStore"/> that also tells the <see cref="StorageWriteHealth"/> about failing writes.
    /// Call after the store is registered.
    /// </summary>
    public static IServiceCollection AddOrleansCratesMetrics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton<OrleansCratesMetrics>();
        services.TryAddSingleton(sp => new StorageWriteHealth(sp.GetService<TimeProvider>() ?? TimeProvider.System));
        for (var i = services.Count - 1; i >= 0; i--)
        {
            var registered = services[i];
            if (registered.ServiceType != typeof(IObjectStore) || registered.IsKeyedService)
            {
                continue;
            }

            services[i] = ServiceDescriptor.Singleton<IObjectStore>(sp =>
                new InstrumentedObjectStore(Resolve(sp, registered), sp.GetRequiredService<OrleansCratesMetrics>(), sp.GetRequiredService<StorageWriteHealth>()));
            break;
        }

        return services;
    }

    private static IObjectStore Resolve(IServiceProvider services, ServiceDescriptor registered) =>
        registered.ImplementationInstance as IObjectStore
        ?? registered.ImplementationFactory?.Invoke(services) as IObjectStore
        ?? (IObjectStore)ActivatorUtilities.CreateInstance(services, registered.ImplementationType!);
}
