using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OrleansCrates.Testing;

/// <summary>
/// An in-process rustup dist server (Kestrel on 127.0.0.1) serving a dictionary of files by path, counting requests
/// per path. Files can be replaced (a moving channel, a corrupted archive) and held half-way (<see cref="Hold"/>).
/// rustup can use it directly as <c>RUSTUP_DIST_SERVER</c>.
/// </summary>
public sealed class FakeDistServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, byte[]> _files;
    private readonly ConcurrentDictionary<string, int> _requests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DistHold> _holds = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Action> _beforeServing = new(StringComparer.Ordinal);
    private WebApplication? _app;

    private FakeDistServer(IDictionary<string, byte[]> files) => _files = new(files, StringComparer.Ordinal);

    public Uri BaseUri { get; private set; } = null!;

    /// <summary>The server's root, as <c>RUSTUP_DIST_SERVER</c> or <c>Toolchains:Upstreams:0:Url</c> names it (no trailing slash).</summary>
    public string Url => BaseUri.ToString().TrimEnd('/');

    public static async Task<FakeDistServer> StartAsync(IDictionary<string, byte[]> files, CancellationToken cancellationToken = default)
    {
        var server = new FakeDistServer(files);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(server.ServeAsync);
        await app.StartAsync(cancellationToken);
        server._app = app;
        server.BaseUri = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
        return server;
    }

    /// <summary>GET requests this server answered (or began answering) for <paramref name="path"/>.</summary>
    public int Requests(string path) => _requests.GetValueOrDefault(path);

    public int TotalRequests => _requests.Values.Sum();

    public void Set(string path, byte[] content) => _files[path] = content;

    /// <summary>Replaces (or adds) every file in <paramref name="files"/>: a channel moving to another release.</summary>
    public void SetAll(IEnumerable<KeyValuePair<string, byte[]>> files)
    {
        foreach (var (path, content) in files)
        {
            _files[path] = content;
        }
    }

    public void Remove(string path) => _files.TryRemove(path, out _);

    /// <summary>Requests for <paramref name="path"/> answer <paramref name="status"/> (an outage of that file) until <see cref="Heal"/>.</summary>
    public void FailWith(string path, int status) => _failures[path] = status;

    public void Heal(string path) => _failures.TryRemove(path, out _);

    /// <summary>The next request for <paramref name="path"/> runs <paramref name="action"/> first (e.g. upstream publishing in between).</summary>
    public void BeforeServing(string path, Action action) => _beforeServing[path] = action;

    /// <summary>The next responses for <paramref name="path"/> send their headers and the first half of the body, then wait for the hold's release.</summary>
    public DistHold Hold(string path) => _holds[path] = new DistHold();

    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            foreach (var hold in _holds.Values)
            {
                hold.Release();
            }

            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    private async Task ServeAsync(HttpContext context)
    {
        var path = (context.Request.Path.Value ?? "").TrimStart('/');
        _requests.AddOrUpdate(path, 1, (_, n) => n + 1);
        if (_beforeServing.TryRemove(path, out var before))
        {
            before();
        }

        if (_failures.TryGetValue(path, out var status))
        {
            context.Response.StatusCode = status;
            return;
        }

        if (!_files.TryGetValue(path, out var content))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        context.Response.ContentLength = content.Length;
        context.Response.ContentType = "application/octet-stream";
        if (_holds.TryGetValue(path, out var hold))
        {
            var half = content.Length / 2;
            await context.Response.Body.WriteAsync(content.AsMemory(0, half), context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            hold.MarkReached();
            await hold.Released.WaitAsync(context.RequestAborted);
            await context.Response.Body.WriteAsync(content.AsMemory(half), context.RequestAborted);
            return;
        }

        await context.Response.Body.WriteAsync(content, context.RequestAborted);
    }
}

/// <summary>A response held after half its body (<see cref="FakeDistServer.Hold"/>).</summary>
public sealed class DistHold
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a response has sent its first half and waits.</summary>
    public Task Reached => _reached.Task;

    internal Task Released => _released.Task;

    public void Release() => _released.TrySetResult();

    internal void MarkReached() => _reached.TrySetResult();
}
