using System.Net;
using OrleansCrates.Server.Hosting;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// Where a real server process runs its socket completions (<see cref="SocketCompletions"/>): inline by default, the
/// thread pool when the setting is off, and the operator's own runtime variable above both. Every other end-to-end test
/// runs the default, inline mode (cargo's reads, publishes, cluster relays).
/// </summary>
public sealed class SocketCompletionsTests : IAsyncLifetime
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-sockets-").FullName;
    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync(Graph);

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Theory]
    [InlineData(null, null, "inline on the socket event threads (Server:InlineCompletions)")]
    [InlineData("false", null, "on the thread pool (Server:InlineCompletions)")]
    [InlineData("true", "0", "on the thread pool (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS)")]
    [InlineData("false", "1", "inline on the socket event threads (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS)")]
    public async Task The_node_says_where_its_socket_completions_run_and_serves_either_way(string? setting, string? runtimeVariable, string expected)
    {
        var environment = new Dictionary<string, string>();
        if (setting is not null)
        {
            environment["Server__InlineCompletions"] = setting;
        }

        if (runtimeVariable is not null)
        {
            environment[SocketCompletions.RuntimeVariable] = runtimeVariable;
        }

        await using var mirror = await MirrorProcess.StartAsync(_upstream.IndexUrl, Path.Combine(_sandbox, Guid.NewGuid().ToString("N")), environment);
        using var http = new HttpClient { BaseAddress = mirror.BaseUri };
        var crate = Graph.Crates[0];

        using var index = await http.GetAsync("index/" + RegistryPaths.IndexPath(crate.Name));
        using var download = await http.GetAsync($"crates/{crate.Name}/{crate.Version}/download");

        Assert.Contains($"Socket completions: {expected}", mirror.Output, StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (index.StatusCode, download.StatusCode));
        Assert.Equal(crate.Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await download.Content.ReadAsByteArrayAsync())));
    }
}
