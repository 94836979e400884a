using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Registry;

public static class PrivateRegistryServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="PrivateRegistry"/> as a singleton with <see cref="PrivateRegistryOptions"/> bound from
    /// <c>Registry:Private</c> and validated on start, and <see cref="PrivateCrateWriter"/>. The host registers
    /// <see cref="OrleansCrates.Storage.IObjectStore"/> and an <see cref="IUserDirectory"/>; changes go to the
    /// <see cref="IPrivateCrateWriters"/> registered before this (a server's: the crates' grains), else to
    /// <see cref="LocalPrivateCrateWriters"/> in this process.
    /// </summary>
    public static IServiceCollection AddPrivateRegistry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PrivateRegistryOptions>()
            .Bind(configuration.GetSection(PrivateRegistryOptions.SectionName))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PrivateRegistryOptions>, PrivateRegistryOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<PublishSpool>();
        services.AddHostedService(provider => provider.GetRequiredService<PublishSpool>());
        services.TryAddSingleton<PrivateCrateWriter>();
        services.TryAddSingleton<IPrivateCrateWriters, LocalPrivateCrateWriters>();
        services.TryAddSingleton<PrivateRegistry>();
        return services;
    }
}
