using Microsoft.Extensions.Options;
using OrleansCrates.Accounts;
using OrleansCrates.Mirror;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Operations.Telemetry;
using OrleansCrates.Registry;
using OrleansCrates.Server.Auth;
using OrleansCrates.Server.Operations.Alerts;
using OrleansCrates.Server.Operations.Cluster;
using OrleansCrates.Server.Operations.Health;
using OrleansCrates.Server.Operations.Statistics;
using OrleansCrates.Server.Operations.Telemetry;
using OrleansCrates.Server.Services;
using OrleansCrates.Storage;
using OrleansCrates.Storage.AzureBlob;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Toolchains;
using OrleansCrates.Upstream;

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
        services.AddToolchains(builder.Configuration); // the rustup toolchain mirror (/rustup), on the same store and cluster
        builder.AddTelemetry(); // OpenTelemetry: /metrics, OTLP export, traces
        services.AddRequestTelemetry();

        services.AddRegistryAuth();
        services.AddPrivateRegistry(builder.Configuration);
        services.AddSingleton<MirrorReads>();
        services.AddSingleton<PublicNameGuard>();
        services.AddSingleton<PrivateRegistryActions>();
        services.AddSingleton<AdminQueries>();
        services.AddSingleton<AdminPrefetch>();
        services.AddSingleton<ClusterQuery>();
        services.AddMirrorPolicy();
        services.AddStatisticsAndDirectory();
        services.AddAlerts();
        services.AddOrleansCratesHealthChecks();
        return builder;
    }
}
