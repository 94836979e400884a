using Microsoft.Extensions.Options;
using OrleansCrates.Accounts;
using OrleansCrates.Core;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Core.Policy;
using OrleansCrates.Core.Telemetry;
using OrleansCrates.Registry;
using OrleansCrates.Server.Alerts;
using OrleansCrates.Server.Statistics;
using OrleansCrates.Storage;
using OrleansCrates.Storage.AzureBlob;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Server.Hosting;

public static class ServiceRegistration
{
    public static WebApplicationBuilder AddOrleansCrates(this WebApplicationBuilder builder)
    {
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Room for a typical crate file in one write, so serving it rarely waits on the socket mid-response.
            kestrel.Limits.MaxResponseBufferSize = 1024 * 1024;
        });
        builder.AddCluster();
        var services = builder.Services;
        services.AddMirrorCore(builder.Configuration);
        services.AddMetricsExport("Microsoft.Orleans"); // Orleans' own meters (activations, messaging, membership) on /metrics too
        services.AddRequestTelemetry();

        services.AddAccounts();
        services.AddSingleton<IUserDirectory, TokenStoreUserDirectory>();
        services.AddPrivateRegistry(builder.Configuration);
        services.AddSingleton<RegistryAccess>();
        services.AddSingleton<MirrorGuard>();
        services.AddSingleton<PublicNameGuard>();
        services.AddMirrorPolicy();
        services.AddStatisticsAndDirectory();
        services.AddAlerts();
        return builder;
    }
}
