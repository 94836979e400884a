using Orleans.Placement;
using OrleansCrates.Grains;

namespace OrleansCrates.Bench.Grains;

/// <summary>
/// The shape of the crate grain's index call (<c>ICrateGrain.GetIndexAsync</c>: a nullable age and a cancellation token
/// in, a <see cref="CrateIndexReply"/> with a ~1 KB index document out) answered from memory, so that timing it
/// measures the grain call itself: scheduling, the message, and (between silos) serialization and the TCP hop.
/// </summary>
public interface IBenchIndexGrain : IGrainWithStringKey
{
    Task<CrateIndexReply> GetIndexAsync(TimeSpan? maxAge, CancellationToken cancellationToken);

    /// <summary>The silo this activation lives on (to check that a "remote" call really crosses silos).</summary>
    Task<string> SiloAsync();
}

/// <summary>Placed on the caller's silo, like the crate grain, so the first caller decides where it lives.</summary>
[PreferLocalPlacement]
internal sealed class BenchIndexGrain : Grain, IBenchIndexGrain
{
    private static readonly byte[] Document = CreateDocument();

    public Task<CrateIndexReply> GetIndexAsync(TimeSpan? maxAge, CancellationToken cancellationToken) =>
        Task.FromResult(new CrateIndexReply(CrateIndexState.Found, Document, DateTimeOffset.UtcNow.AddMinutes(5), null, null));

    public Task<string> SiloAsync() => Task.FromResult(RuntimeIdentity);

    private static byte[] CreateDocument()
    {
        // About the size of a small crate's index file: a few JSON lines.
        var line = "{\"name\":\"bench-crate\",\"vers\":\"1.0.0\",\"deps\":[],\"cksum\":\"" + new string('a', 64) + "\",\"features\":{},\"yanked\":false}\n";
        return System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(line, 8)));
    }
}
