using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Storage.AzureBlob;

public static class AzureBlobServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="AzureBlobObjectStore"/> as the <see cref="IObjectStore"/>, with options bound from <c>Storage:AzureBlob</c> and
    /// validated on start. Call <see cref="AzureBlobObjectStore.EnsureContainerAsync"/> once at start-up.
    /// </summary>
    public static IServiceCollection AddAzureBlobObjectStore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AzureBlobStorageOptions>()
            .Bind(configuration.GetSection(AzureBlobStorageOptions.SectionName))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AzureBlobStorageOptions>, AzureBlobStorageOptionsValidator>());
        services.TryAddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<AzureBlobStorageOptions>>().Value;
            return AzureBlobClients.Create(options);
        });
        services.TryAddSingleton(provider => new AzureBlobObjectStore(
            provider.GetRequiredService<AzureBlobClients>(),
            provider.GetRequiredService<ILogger<AzureBlobObjectStore>>()));
        services.AddSingleton<IObjectStore>(provider => provider.GetRequiredService<AzureBlobObjectStore>());
        // The optional read-URL capability (Mirror:Downloads:Redirect); the filesystem store registers none.
        services.TryAddSingleton(provider => new AzureBlobReadUrls(
            provider.GetRequiredService<AzureBlobObjectStore>(),
            provider.GetService<TimeProvider>() ?? TimeProvider.System,
            provider.GetRequiredService<ILogger<AzureBlobReadUrls>>()));
        services.TryAddSingleton<IReadUrlIssuer>(provider => provider.GetRequiredService<AzureBlobReadUrls>());
        return services;
    }
}
