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
using OrleansCrates.Sockets;
using OrleansCrates.Storage;
using OrleansCrates.Storage.AzureBlob;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Toolchains;
using OrleansCrates.Upstream;

namespace OrleansCrates.Server.Hosting;

public static class ServiceRegistration
{
    /// <summary>
    /// <c>Server:InlineScheduling</c> (default true): Kestrel runs a request's code on the thread that completed its socket
    /// read or write instead of handing it to one of its I/O queues first: one queue hop less per read and per write.
    /// Which thread that is, the socket event thread or the thread pool, is <see cref="SocketCompletions"/>'s choice, and
    /// <see cref="Http.ThreadPoolDispatch"/> keeps all but the registry reads on the thread pool either way (see the
    /// README's benchmark section). False restores Kestrel's default.
    /// </summary>
    public const string InlineSchedulingKey = "Server:InlineScheduling";

    /// <summary>
    /// <c>Server:SendFile</c> (default true): on Linux, plain-HTTP TCP endpoints run on this project's socket transport
    /// (<see cref="Sockets.FileResponses"/>), and a crate file held in a file (storage on disk, or the hot layer's sealed
    /// memory files) is sent by the kernel with sendfile instead of being copied through the process. False: Kestrel's
    /// own sockets transport, every body copied.
    /// </summary>
    public const string SendFileKey = "Server:SendFile";

    public static WebApplicationBuilder AddOrleansCrates(this WebApplicationBuilder builder)
    {
        builder.AddFrontEnd();
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
        services.AddSingleton<DependencyIndexPrefetch>();
        services.AddHostedService(provider => provider.GetRequiredService<DependencyIndexPrefetch>());
        services.AddSingleton<ClusterQuery>();
        services.AddMirrorPolicy();
        services.AddStatisticsAndDirectory();
        services.AddAlerts();
        services.AddOrleansCratesHealthChecks();
        return builder;
    }

    /// <summary>Kestrel as the mirror runs it: sockets transport (<see cref="InlineSchedulingKey"/>), no Server header.</summary>
    public static WebApplicationBuilder AddFrontEnd(this WebApplicationBuilder builder)
    {
        var inlineScheduling = builder.Configuration.GetValue(InlineSchedulingKey, defaultValue: true);
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = inlineScheduling);
        if (builder.Configuration.GetValue(SendFileKey, defaultValue: true))
        {
            // TCP endpoints on Linux: this project's transport, which can send a crate file with sendfile (Sockets/FileResponses).
            builder.WebHost.UseFileSendingSockets(sockets => sockets.InlineScheduling = inlineScheduling);
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Room for a typical crate file in one write, so serving it rarely waits on the socket mid-response.
            kestrel.Limits.MaxResponseBufferSize = 1024 * 1024;
        });
        return builder;
    }
}
