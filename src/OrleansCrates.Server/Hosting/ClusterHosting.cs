using System.Net;
using Orleans.Configuration;
using Orleans.Serialization.Configuration;
using OrleansCrates.Core.Mirror;
using OrleansCrates.Grains;

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

    /// <summary>The IP other silos reach this one at; default: loopback under Localhost, the host's address under Redis.</summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>Orleans' service id: stays the same across deployments of this service.</summary>
    public string ServiceId { get; set; } = "orleanscrates";

    /// <summary>Orleans' cluster id: silos with the same one (and service id) form one cluster.</summary>
    public string ClusterId { get; set; } = "orleanscrates";

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
        !string.IsNullOrEmpty(AdvertisedAddress) && !IPAddress.TryParse(AdvertisedAddress, out _) ? $"Cluster:AdvertisedAddress must be an IP address, not '{AdvertisedAddress}'." :
        string.IsNullOrWhiteSpace(ServiceId) || string.IsNullOrWhiteSpace(ClusterId) ? "Cluster:ServiceId and Cluster:ClusterId must not be empty." :
        null;
}

public static class ClusterHosting
{
    /// <summary>
    /// Makes this web host an Orleans silo (co-hosted: the web code calls grains in-process) and the crates' cold work
    /// go to their grains (<see cref="CrateGrains"/>).
    /// </summary>
    public static WebApplicationBuilder AddCluster(this WebApplicationBuilder builder)
    {
        var settings = builder.Configuration.GetSection(SiloClusterOptions.SectionName).Get<SiloClusterOptions>() ?? new SiloClusterOptions();
        if (settings.ProblemOrNull() is { } problem)
        {
            throw new InvalidOperationException(problem);
        }

        var membership = builder.Configuration.GetSection($"{SiloClusterOptions.SectionName}:Membership");
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
            // A type crossing silos without [GenerateSerializer] stops start-up, in every environment, instead of the first remote call.
            silo.Services.Configure<TypeManifestOptions>(o => o.EnableConfigurationAnalysis = true);
        });
        builder.Services.AddSingleton<ICrateOwners, CrateGrains>();
        builder.Services.AddSingleton<Toolchains.IToolchainOwners, ToolchainGrains>();
        return builder;
    }
}
