using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansCrates.Accounts;

public static class AccountsServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="TokenStore"/>, <see cref="AccessPolicy"/>, <see cref="DownloadLog"/> and its
    /// <see cref="DownloadLogFlusher"/> as singletons. Needs an <see cref="Storage.IObjectStore"/> registered by the
    /// host; uses the registered <see cref="TimeProvider"/> or the system clock.
    /// </summary>
    public static IServiceCollection AddAccounts(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<TokenStore>();
        services.TryAddSingleton<AccessPolicy>();
        services.TryAddSingleton<DownloadLog>();
        services.AddHostedService<DownloadLogFlusher>();
        return services;
    }
}
