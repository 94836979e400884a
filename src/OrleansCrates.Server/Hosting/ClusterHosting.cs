using System.Net;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization.Configuration;
using OrleansCrates.Mirror;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Grains;
using OrleansCrates.Registry;

namespace OrleansCrates.Server.Hosting;

/// <summary>
/// Configuration section <c>Cluster</c>: how this process joins the Orleans cluster it is a silo of. Named so it is
/// not mistaken for Orleans' own <see cref="ClusterOptions"/> (which gets <see cref="ServiceId"/> and <see cref="ClusterId"/>).
/// </summary>
public sealed class SiloClusterOptions
{
    public const string SectionName = "Cluster";

    /// <summary><c>Localhost</c> (default: this process is a one-silo cluster) or <c>Redis</c> (membership in Redis).</summary>
    public string Provider { get; set; } = "Localhost";

    public RedisSettings Redis { get; set; } = new();

    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Orleans client gateway port.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// The port of the silo's internal HTTP listener (<see cref="InternalHttpListener"/>), from which other silos relay a
    /// cold download in progress here to their waiting clients. Opened only with <c>Provider=Redis</c> (a one-silo
    /// cluster has no one to serve); 0 lets the system pick a free port (tests). Keep it off every load balancer.
    /// </summary>
    public int InternalHttpPort { get; set; } = 11112;

    /// <summary>The IP other silos reach this one at; default: loopback under Localhost, the host's address under Redis.</summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>Orleans' service id: stays the same across deployments of this service.</summary>
    public string ServiceId { get; set; } = "orleanscrates";

    /// <summary>Orleans' cluster id: silos with the same one (and service id) form one cluster.</summary>
    public string ClusterId { get; set; } = "orleanscrates";

    /// <summary>
    /// How idle grains are collected (<c>Cluster:GrainCollection</c>). Orleans' own <c>GrainCollectionOptions</c> are bound
    /// from the same section too (e.g. <c>ActivationTimeout</c>, <c>DeactivationTimeout</c>); these are the ones with
    /// defaults of this mirror's.
    /// </summary>
    public GrainCollectionSettings GrainCollection { get; set; } = new();

    /// <summary>
    /// How long a stopping silo (SIGTERM) waits for its in-flight upstream fetches and HTTP responses before it leaves
    /// the cluster; the host's shutdown timeout is set to match. Keep it below the pod's termination grace period.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public sealed class GrainCollectionSettings
    {
        /// <summary>Idle time after which a grain without a class-specific age is collected (Orleans' default: 15 minutes).</summary>
        public TimeSpan CollectionAge { get; set; } = TimeSpan.FromMinutes(15);

        /// <summary>How often the collector runs (Orleans' default: 1 minute; at least 1 second).</summary>
        public TimeSpan CollectionQuantum { get; set; } = TimeSpan.FromMinutes(1);

        /// <summary>
        /// Idle time after which a mirrored crate's grain is collected. Its state is in storage, so a short age keeps
        /// memory low (about 2–3 KB per activation) at the cost of one storage read when the crate is asked for again.
        /// </summary>
        public TimeSpan CrateGrainAge { get; set; } = TimeSpan.FromMinutes(5);
    }

    public sealed class RedisSettings
    {
        /// <summary>StackExchange.Redis connection string, e.g. <c>redis.internal:6380,ssl=true,password=...</c>.</summary>
        public string? ConnectionString { get; set; }
    }

    /// <summary>Why these settings cannot start a silo, or null.</summary>
    public string? ProblemOrNull() =>
        Provider is not ("Localhost" or "Redis") ? $"Cluster:Provider must be Localhost or Redis, not '{Provider}'." :
        Provider == "Redis" && string.IsNullOrWhiteSpace(Redis.ConnectionString) ? "Cluster:Provider=Redis needs Cluster:Redis:ConnectionString." :
        SiloPort is < 1 or > 65535 || GatewayPort is < 1 or > 65535 || SiloPort == GatewayPort ? "Cluster:SiloPort and Cluster:GatewayPort must be two different ports (1–65535)." :
        Provider == "Redis" && (InternalHttpPort is < 0 or > 65535 || InternalHttpPort == SiloPort || InternalHttpPort == GatewayPort)
            ? "Cluster:InternalHttpPort must be a port (1–65535, or 0 for any free one) other than Cluster:SiloPort and Cluster:GatewayPort." :
        !string.IsNullOrEmpty(AdvertisedAddress) && !IPAddress.TryParse(AdvertisedAddress, out _) ? $"Cluster:AdvertisedAddress must be an IP address, not '{AdvertisedAddress}'." :
        string.IsNullOrWhiteSpace(ServiceId) || string.IsNullOrWhiteSpace(ClusterId) ? "Cluster:ServiceId and Cluster:ClusterId must not be empty." :
        DrainTimeout < TimeSpan.Zero || DrainTimeout > TimeSpan.FromHours(1) ? "Cluster:DrainTimeout must be between 0 and 1 hour." :
        GrainCollection.CollectionQuantum < TimeSpan.FromSeconds(1) ? "Cluster:GrainCollection:CollectionQuantum must be at least 1 second." :
        GrainCollection.CollectionAge <= GrainCollection.CollectionQuantum || GrainCollection.CrateGrainAge <= GrainCollection.CollectionQuantum
            ? "Cluster:GrainCollection:CollectionAge and CrateGrainAge must be longer than CollectionQuantum." :
        null;
}

public static class ClusterHosting
{
    /// <summary>
    /// Orleans' own options classes this app binds, by configuration section (their property names are the keys).
    /// The deployment tests read this to check the keys manifests and Bicep pass.
    /// </summary>
    public static IReadOnlyDictionary<string, Type> OrleansSections { get; } = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase)
    {
        [$"{SiloClusterOptions.SectionName}:Membership"] = typeof(ClusterMembershipOptions),
        [$"{SiloClusterOptions.SectionName}:GrainCollection"] = typeof(GrainCollectionOptions),
    };

    /// <summary>
    /// Makes this web host an Orleans silo (co-hosted: the web code calls grains in-process), the crates' cold work go
    /// to their grains (<see cref="CrateGrains"/>) and the private crates' changes to theirs (<see cref="PrivateCrateGrains"/>).
    /// </summary>
    public static WebApplicationBuilder AddCluster(this WebApplicationBuilder builder)
    {
        var settings = builder.Configuration.GetSection(SiloClusterOptions.SectionName).Get<SiloClusterOptions>() ?? new SiloClusterOptions();
        if (settings.ProblemOrNull() is { } problem)
        {
            throw new InvalidOperationException(problem);
        }

        var membership = builder.Configuration.GetSection($"{SiloClusterOptions.SectionName}:Membership");
        var collection = builder.Configuration.GetSection($"{SiloClusterOptions.SectionName}:GrainCollection");
        builder.UseOrleans(silo =>
        {
            if (settings.Provider == "Redis")
            {
                silo.UseRedisClustering(settings.Redis.ConnectionString!);
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ServiceId = settings.ServiceId;
                    o.ClusterId = settings.ClusterId;
                });
                if (string.IsNullOrEmpty(settings.AdvertisedAddress))
                {
                    silo.ConfigureEndpoints(settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: true);
                }
                else
                {
                    var address = IPAddress.Parse(settings.AdvertisedAddress);
                    silo.ConfigureEndpoints(address, settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: !IPAddress.IsLoopback(address));
                }
            }
            else
            {
                silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, null, settings.ServiceId, settings.ClusterId);
            }

            // Grain calls carry the caller's trace context (spans only when tracing is on, see TelemetryHosting).
            silo.AddActivityPropagation();
            silo.Configure<ClusterMembershipOptions>(ClusterDefaults.ApplyMembershipDefaults);
            silo.Configure<ClusterMembershipOptions>(membership);
            silo.Configure<GrainCollectionOptions>(o =>
            {
                o.CollectionAge = settings.GrainCollection.CollectionAge;
                o.CollectionQuantum = settings.GrainCollection.CollectionQuantum;
                o.ClassSpecificCollectionAge[ClusterDefaults.CrateGrainClass] = settings.GrainCollection.CrateGrainAge;
            });
            silo.Configure<GrainCollectionOptions>(collection);
            // A type crossing silos without [GenerateSerializer] stops start-up, in every environment, instead of the first remote call.
            silo.Services.Configure<TypeManifestOptions>(o => o.EnableConfigurationAnalysis = true);
        });
        builder.Services.AddSingleton<ICrateOwners, CrateGrains>();
        // Each private crate's changes (publish's commit, yank, owners, release) go to its grain: one writer for the cluster.
        builder.Services.AddSingleton<IPrivateCrateWriters, PrivateCrateGrains>();
        builder.Services.AddSingleton<Toolchains.IToolchainOwners, ToolchainGrains>();
        if (settings.Provider != "Localhost")
        {
            AddSpoolRelay(builder.Services, settings.InternalHttpPort);
        }

        // After the silo, so it stops before it: in-flight fetches finish (up to DrainTimeout) before the silo leaves.
        builder.Services.AddHostedService(sp => new MirrorDrain(
            sp.GetRequiredService<CrateCoordinator>(), settings.DrainTimeout, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<MirrorDrain>>()));
        builder.Services.PostConfigure<HostOptions>(o =>
        {
            // Room for the drain and for leaving the cluster after it; a longer timeout configured elsewhere stays.
            var needed = settings.DrainTimeout + TimeSpan.FromSeconds(15);
            if (o.ShutdownTimeout < needed)
            {
                o.ShutdownTimeout = needed;
            }
        });
        return builder;
    }

    /// <summary>
    /// Cold downloads followed across silos: the internal listener that serves this silo's spools, and the client that
    /// reads other silos' (<see cref="SpoolRelay"/>; <see cref="InFlightSpools"/> picks it up). Registered before the
    /// drain, so the listener stops after it: downloads being relayed finish before the silo leaves.
    /// </summary>
    private static void AddSpoolRelay(IServiceCollection services, int port)
    {
        services.AddHttpClient(SpoolRelay.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan) // a relay lasts as long as the download
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromSeconds(5),
                AutomaticDecompression = DecompressionMethods.None,
                UseProxy = false, // silo to silo, never through a proxy the environment names
            })
            .RemoveAllLoggers(); // the relay logs what it follows and how it ended
        services.AddSingleton(sp =>
        {
            // A download may go as long as its upstream's timeout without a byte; the relay waits that and a margin.
            var slowest = sp.GetRequiredService<IOptions<MirrorOptions>>().Value.ResolveUpstreams().Select(u => u.Timeout)
                .Concat(sp.GetRequiredService<IOptions<Toolchains.ToolchainOptions>>().Value.ResolveUpstreams().Select(u => u.Timeout))
                .Max();
            return new SpoolRelay(
                sp.GetRequiredService<IHttpClientFactory>().CreateClient(SpoolRelay.HttpClientName),
                sp.GetRequiredService<ILogger<SpoolRelay>>(),
                slowest + TimeSpan.FromSeconds(30));
        });
        services.AddHostedService(sp => new InternalHttpListener(
            sp.GetRequiredService<InFlightSpools>(), sp.GetRequiredService<ILocalSiloDetails>(), port, sp.GetRequiredService<ILogger<InternalHttpListener>>()));
    }
}
