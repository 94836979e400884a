using System.Net;
using Orleans.Runtime;
using OrleansCrates.Server.Operations.Cluster;

namespace OrleansCrates.Server.Tests;

/// <summary>The dashboard's cluster view (<see cref="ClusterQuery.Summarize"/>), from membership entries and grain statistics as Orleans' management grain returns them.</summary>
public sealed class ClusterQueryTests
{
    private static readonly SiloAddress First = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 1);
    private static readonly SiloAddress Second = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11112), 1);

    [Fact]
    public void Crate_grains_are_summed_per_silo_and_silos_listed_in_address_order()
    {
        var started = new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        MembershipEntry[] hosts =
        [
            new() { SiloAddress = Second, SiloName = "b", Status = SiloStatus.Active, StartTime = started },
            new() { SiloAddress = First, SiloName = "a", Status = SiloStatus.Active, StartTime = started },
        ];
        SimpleGrainStatistic[] statistics =
        [
            new() { SiloAddress = First, GrainType = "OrleansCrates.Grains.CrateGrain,OrleansCrates.Grains", ActivationCount = 3 },
            new() { SiloAddress = First, GrainType = "OrleansCrates.Grains.CrateGrain", ActivationCount = 2 },
            new() { SiloAddress = First, GrainType = "OrleansCrates.Grains.PrivateCrateGrain", ActivationCount = 7 },
            new() { SiloAddress = Second, GrainType = "OrleansCrates.Grains.ToolchainFileGrain", ActivationCount = 4 },
        ];

        var view = ClusterQuery.Summarize(hosts, statistics, self: Second);

        Assert.Equal((2, 5), (view.ActiveSilos, view.CrateActivations));
        Assert.Equal(
            [
                new SiloView(First.ToParsableString(), "a", "Active", started, 5, false),
                new SiloView(Second.ToParsableString(), "b", "Active", started, 0, true),
            ],
            view.Silos);
    }
}
