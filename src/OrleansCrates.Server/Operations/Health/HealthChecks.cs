using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;
using OrleansCrates.Mirror;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Server.Operations.Health;

/// <summary>
/// The checks behind <c>/health/ready</c> (ASP.NET Core health checks, all tagged <see cref="ReadyTag"/>): storage can
/// be read (the only one that makes a node unready: without it the node cannot serve correct data), this silo's view of
/// the cluster (active silos), and each upstream's state on this node. The cluster and upstream checks report
/// <see cref="HealthStatus.Degraded"/> at worst, so an air-gapped node with a warm store, or a silo still joining,
/// stays in rotation. None of them asks an upstream.
/// </summary>
public static class HealthChecks
{
    public const string ReadyTag = "ready";
    public const string Storage = "storage";
    public const string Cluster = "cluster";
    public const string Upstreams = "upstreams";

    public static IServiceCollection AddOrleansCratesHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<StorageCheck>(Storage, HealthStatus.Unhealthy, [ReadyTag])
            .AddCheck<ClusterCheck>(Cluster, HealthStatus.Degraded, [ReadyTag])
            .AddCheck<UpstreamCheck>(Upstreams, HealthStatus.Degraded, [ReadyTag]);
        return services;
    }

    /// <summary>Storage answers (<see cref="IObjectStore.CheckHealthAsync"/>), and how the writes requests attempted went.</summary>
    internal sealed class StorageCheck(IObjectStore store, StorageWriteHealth writes) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
        {
            var storage = await store.CheckHealthAsync(cancellationToken);
            var data = new Dictionary<string, object> { [nameof(StorageHealth)] = storage, [nameof(StorageWriteSnapshot)] = writes.Snapshot() };
            return new HealthCheckResult(storage.Healthy ? HealthStatus.Healthy : context.Registration.FailureStatus, storage.Detail, data: data);
        }
    }

    /// <summary>How many silos this node's view of the membership holds as active (itself included), and whether it is one.</summary>
    internal sealed class ClusterCheck(IClusterMembershipService membership, ILocalSiloDetails silo) : IHealthCheck
    {
        public const string ActiveSilos = "activeSilos";

        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
        {
            var snapshot = membership.CurrentSnapshot;
            var active = snapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
            var self = snapshot.GetSiloStatus(silo.SiloAddress);
            var data = new Dictionary<string, object> { [ActiveSilos] = active };
            return Task.FromResult(self == SiloStatus.Active
                ? HealthCheckResult.Healthy($"{active} active silo(s)", data)
                : new HealthCheckResult(context.Registration.FailureStatus, $"this silo is {self}", data: data));
        }
    }

    /// <summary>Each upstream's state on this node (<see cref="UpstreamSet.Status"/>, which asks no upstream): degraded while one is down.</summary>
    internal sealed class UpstreamCheck(UpstreamSet upstreams) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
        {
            var status = upstreams.Status();
            var down = status.Count(u => u.Health.State == UpstreamState.Down);
            var data = new Dictionary<string, object> { [Upstreams] = status };
            return Task.FromResult(down == 0
                ? HealthCheckResult.Healthy($"{status.Count} upstream(s), none down", data)
                : new HealthCheckResult(context.Registration.FailureStatus, $"{down} of {status.Count} upstream(s) down", data: data));
        }
    }
}
