using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansCrates.Mirror.Streaming;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// Following a download wherever it runs (<see cref="InFlightSpools.FollowAsync"/>): this node's own spool by id, or
/// another node's relayed over HTTP (<see cref="SpoolRelay"/>) against a real Kestrel standing in for the downloading
/// node. A relayed body ends only if it ended cleanly with its length and sha256; anything else breaks the readers.
/// </summary>
public sealed class SpoolRelayTests : IAsyncLifetime
{
    private static readonly byte[] File = [.. Enumerable.Range(0, 200_000).Select(i => (byte)(i * 7))];
    private static readonly string FileSha256 = Convert.ToHexStringLower(SHA256.HashData(File));
    private static readonly string SpoolId = new('a', 32);

    private readonly string _directory = Directory.CreateTempSubdirectory("oc-spools-").FullName;
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;
    private readonly TaskCompletionSource _never = new();
    private readonly HttpClient _http = new();
    private WebApplication _origin = null!;
    private Func<HttpContext, Task> _serve = _ => Task.CompletedTask;
    private int _originRequests;
    private Uri _originUri = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _origin = builder.Build();
        _origin.Run(context =>
        {
            Interlocked.Increment(ref _originRequests);
            return _serve(context);
        });
        await _origin.StartAsync(_ct);
        _originUri = new Uri(_origin.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
    }

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_relayed_download_arrives_as_sent_and_ends_only_once_the_origin_ended_it_cleanly()
    {
        var half = File.Length / 2;
        var rest = new TaskCompletionSource();
        _serve = async context =>
        {
            Assert.Equal("/" + SpoolRelay.PathOf(SpoolId), context.Request.Path.Value);
            context.Response.ContentLength = File.Length;
            await context.Response.Body.WriteAsync(File.AsMemory(0, half));
            await context.Response.Body.FlushAsync();
            await rest.Task;
            await context.Response.Body.WriteAsync(File.AsMemory(half));
        };
        var spools = Spools();

        await using var read = await FollowAsync(spools, Location());
        Assert.Equal(File.Length, read.Length);
        var first = new byte[half - 1]; // the relay holds back its last byte until the whole body verified
        await read.Content.ReadExactlyAsync(first, _ct);
        Assert.Equal(File.AsSpan(0, first.Length).ToArray(), first);
        Assert.Equal(1, spools.RelayCount);

        rest.SetResult();
        using var all = new MemoryStream();
        all.Write(first);
        await read.Content.CopyToAsync(all, _ct);
        Assert.Equal(File, all.ToArray());
    }

    [Fact]
    public async Task A_relayed_body_with_another_sha256_breaks_the_reader_before_its_last_byte()
    {
        var wrong = File.ToArray();
        wrong[^10] ^= 0xff;
        var rest = new TaskCompletionSource();
        _serve = async context =>
        {
            context.Response.ContentLength = wrong.Length;
            await context.Response.Body.WriteAsync(wrong.AsMemory(0, 1000));
            await context.Response.Body.FlushAsync();
            await rest.Task;
            await context.Response.Body.WriteAsync(wrong.AsMemory(1000)); // a clean end: only the relay's own check catches it
        };

        await using var read = await FollowAsync(Spools(), Location());
        await read.Content.ReadExactlyAsync(new byte[999], _ct);
        rest.SetResult();
        var delivered = await ReadUntilBrokenAsync(read.Content);
        Assert.True(delivered < File.Length, $"the reader got all {delivered} bytes of a body that does not verify");
    }

    [Theory]
    [InlineData("aborted")]
    [InlineData("short")]
    public async Task A_relayed_body_the_origin_breaks_off_breaks_the_reader(string how)
    {
        var breakOff = new TaskCompletionSource();
        _serve = async context =>
        {
            context.Response.ContentLength = File.Length;
            await context.Response.Body.WriteAsync(File.AsMemory(0, File.Length / 2));
            await context.Response.Body.FlushAsync();
            await breakOff.Task;
            if (how == "aborted")
            {
                context.Abort(); // the downloading node failed the spool, or died
            }

            // "short": the handler returns early, so Kestrel ends the connection with the body incomplete
        };

        await using var read = await FollowAsync(Spools(), Location());
        await read.Content.ReadExactlyAsync(new byte[1000], _ct);
        breakOff.SetResult();
        Assert.True(await ReadUntilBrokenAsync(read.Content) < File.Length);
    }

    [Fact]
    public async Task A_relay_that_hears_nothing_for_the_idle_timeout_breaks_the_reader()
    {
        var release = new TaskCompletionSource();
        _serve = async context =>
        {
            context.Response.ContentLength = File.Length;
            await context.Response.Body.WriteAsync(File.AsMemory(0, 1000));
            await context.Response.Body.FlushAsync();
            await release.Task.WaitAsync(context.RequestAborted); // a downloading node that hangs
        };

        await using var read = await FollowAsync(Spools(idleTimeout: TimeSpan.FromMilliseconds(300)), Location());
        Assert.True(await ReadUntilBrokenAsync(read.Content) < File.Length);
        release.SetResult();
    }

    [Theory]
    [InlineData(404, null)]
    [InlineData(200, 12345L)]
    public async Task A_spool_the_origin_does_not_serve_as_located_is_not_followed(int status, long? announced)
    {
        _serve = async context =>
        {
            context.Response.StatusCode = status;
            if (announced is { } length)
            {
                context.Response.ContentLength = length;
                await context.Response.Body.WriteAsync(new byte[length]);
            }
        };

        Assert.Null(await Spools().FollowAsync("k", _never.Task, _ => Task.FromResult<SpoolLocation?>(Location()), _ct));
    }

    [Fact]
    public async Task Requests_on_one_node_following_one_remote_download_share_one_relay()
    {
        var rest = new TaskCompletionSource();
        _serve = async context =>
        {
            context.Response.ContentLength = File.Length;
            await context.Response.Body.WriteAsync(File.AsMemory(0, 100));
            await context.Response.Body.FlushAsync();
            await rest.Task;
            await context.Response.Body.WriteAsync(File.AsMemory(100));
        };
        var spools = Spools();

        var reads = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => FollowAsync(spools, Location())));
        rest.SetResult();
        foreach (var read in reads)
        {
            await using var _ = read;
            using var all = new MemoryStream();
            await read.Content.CopyToAsync(all, _ct);
            Assert.Equal(File, all.ToArray());
        }

        Assert.Equal(1, Volatile.Read(ref _originRequests));
    }

    [Fact]
    public async Task A_download_located_on_this_node_is_read_from_its_own_spool_without_http()
    {
        var spools = Spools();
        using var download = new SpoolWriter(spools.Start("k", File.Length, FileSha256), spools);
        var location = new SpoolLocation(download.Spool.Id, _originUri, File.Length, FileSha256);
        await download.Spool.AppendAsync(File, _ct);
        download.Spool.Complete();

        await using var read = await FollowAsync(spools, location);
        using var all = new MemoryStream();
        await read.Content.CopyToAsync(all, _ct);
        Assert.Equal(File, all.ToArray());
        Assert.Equal(0, Volatile.Read(ref _originRequests));
    }

    [Fact]
    public async Task The_owner_locates_a_download_once_it_starts_or_says_none_when_its_flight_ends_first()
    {
        var spools = Spools();
        var flight = new TaskCompletionSource();
        var locating = spools.LocateAsync("k", flight.Task, _ct);
        Assert.False(locating.IsCompleted);
        spools.ServedAt = _originUri;
        using var download = new SpoolWriter(spools.Start("k", 42, FileSha256), spools);
        var location = await locating;
        Assert.Equal(new SpoolLocation(download.Spool.Id, _originUri, 42, FileSha256), location);
        Assert.True(SpoolRelay.IsSpoolId(location!.SpoolId));

        var other = new TaskCompletionSource();
        var none = spools.LocateAsync("other", other.Task, _ct);
        other.SetResult();
        Assert.Null(await none);
    }

    [Fact]
    public async Task A_failed_call_to_the_owner_is_made_again_and_a_finished_wait_stops_asking()
    {
        var spools = Spools();
        using var download = new SpoolWriter(spools.Start("k", File.Length, FileSha256), spools);
        var calls = 0;
        Task<SpoolLocation?> Locate(CancellationToken _) => ++calls == 1
            ? Task.FromException<SpoolLocation?>(new InvalidOperationException("the owner's silo died"))
            : Task.FromResult<SpoolLocation?>(new SpoolLocation(download.Spool.Id, null, File.Length, FileSha256));

        await using (var read = await spools.FollowAsync("k2", _never.Task, Locate, _ct))
        {
            Assert.NotNull(read);
        }

        Assert.Equal(2, calls);

        var done = new TaskCompletionSource();
        var asked = new TaskCompletionSource<CancellationToken>();
        var following = spools.FollowAsync("k3", done.Task, ct => { asked.SetResult(ct); return new TaskCompletionSource<SpoolLocation?>().Task; }, _ct);
        var token = await asked.Task;
        done.SetResult();
        Assert.Null(await following);
        Assert.True(token.IsCancellationRequested, "the call to the owner is cancelled once the file is there");
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef", true)]
    [InlineData("0123456789ABCDEF0123456789abcdef", false)]
    [InlineData("0123456789abcdef0123456789abcde", false)]
    [InlineData("../../etc/passwd0123456789abcdef", false)]
    [InlineData("", false)]
    public void Only_spool_ids_are_looked_up(string id, bool valid) => Assert.Equal(valid, SpoolRelay.IsSpoolId(id));

    private InFlightSpools Spools(TimeSpan? idleTimeout = null) =>
        new(_directory, TimeSpan.Zero, new SpoolRelay(_http, NullLogger<SpoolRelay>.Instance, idleTimeout), NullLogger<InFlightSpools>.Instance);

    private SpoolLocation Location() => new(SpoolId, _originUri, File.Length, FileSha256);

    private async Task<SpoolRead> FollowAsync(InFlightSpools spools, SpoolLocation location) =>
        await spools.FollowAsync("crates/k", _never.Task, _ => Task.FromResult<SpoolLocation?>(location), _ct)
        ?? throw new Xunit.Sdk.XunitException("expected the download to be followed");

    /// <summary>Reads until the stream breaks; fails if it ends as if complete. Returns how many bytes it delivered.</summary>
    private async Task<long> ReadUntilBrokenAsync(Stream content)
    {
        var buffer = new byte[8192];
        long delivered = 0;
        try
        {
            int read;
            while ((read = await content.ReadAsync(buffer, _ct)) > 0)
            {
                delivered += read;
            }
        }
        catch (IOException)
        {
            return delivered;
        }

        Assert.Fail($"the relayed body ended as if complete after {delivered} bytes");
        return delivered;
    }

    /// <summary>A download's spool on this node, ended (left as failed if not completed) when the test is done.</summary>
    private sealed class SpoolWriter(InFlightSpool spool, InFlightSpools spools) : IDisposable
    {
        public InFlightSpool Spool => spool;

        public void Dispose() => spools.End(spool);
    }
}
