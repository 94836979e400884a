using Microsoft.AspNetCore.Http;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Server.Hosting;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// The silo's internal listener answers one thing only — <c>GET /spools/{id}</c> of a download in progress on this silo —
/// and 404 for everything else; and its port is checked at start-up.
/// </summary>
public sealed class InternalHttpListenerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("oc-internal-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_download_in_progress_is_served_by_its_spool_id_and_nothing_else_is()
    {
        var spools = new InFlightSpools(_directory);
        var spool = spools.Start("crates/se/rd/serde-1.0.0.crate", 3, "00");
        try
        {
            await spool.AppendAsync(new byte[] { 1, 2, 3 }, CancellationToken.None);
            spool.Complete();

            var (status, body, length) = await ServeAsync(spools, "GET", "/spools/" + spool.Id);
            Assert.Equal((200, 3L), (status, length!.Value));
            Assert.Equal([1, 2, 3], body);

            foreach (var (method, path) in new[]
            {
                ("POST", "/spools/" + spool.Id),
                ("GET", "/spools/" + spool.Id.ToUpperInvariant()),
                ("GET", "/spools/" + spool.Id + "/x"),
                ("GET", "/spools/" + new string('0', 32)),
                ("GET", "/spools/"),
                ("GET", "/index/se/rd/serde"),
                ("GET", "/crates/serde/1.0.0/download"),
                ("GET", "/health/ready"),
                ("GET", "/"),
            })
            {
                var (refused, content, _) = await ServeAsync(spools, method, path);
                Assert.True(refused == 404 && content.Length == 0, $"{method} {path} answered {refused} with {content.Length} bytes");
            }
        }
        finally
        {
            spools.End(spool);
        }

        Assert.Equal(404, (await ServeAsync(spools, "GET", "/spools/" + spool.Id)).Status); // over: the caller waits for the stored file
    }

    [Theory]
    [InlineData("Redis", 11112, null)]
    [InlineData("Redis", 0, null)] // any free port (tests)
    [InlineData("Redis", 11111, "Cluster:InternalHttpPort")] // the silo port
    [InlineData("Redis", 30000, "Cluster:InternalHttpPort")] // the gateway port
    [InlineData("Redis", 70000, "Cluster:InternalHttpPort")]
    [InlineData("Localhost", 11111, null)] // not opened in a one-silo cluster: not checked
    public void The_internal_port_must_differ_from_the_silos_other_ports(string provider, int port, string? problem)
    {
        var settings = new SiloClusterOptions { Provider = provider, Redis = { ConnectionString = "127.0.0.1:6379" }, InternalHttpPort = port };
        if (problem is null)
        {
            Assert.Null(settings.ProblemOrNull());
        }
        else
        {
            Assert.Contains(problem, settings.ProblemOrNull(), StringComparison.Ordinal);
        }
    }

    private static async Task<(int Status, byte[] Body, long? Length)> ServeAsync(InFlightSpools spools, string method, string path)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = path;
        using var body = new MemoryStream();
        context.Response.Body = body;
        await InternalHttpListener.ServeAsync(context, spools);
        return (context.Response.StatusCode, body.ToArray(), context.Response.ContentLength);
    }
}
