using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using OrleansCrates.Mirror.Streaming;
using OrleansCrates.Server.Apis;

namespace OrleansCrates.Server.Hosting;

/// <summary>
/// The silo's internal HTTP listener (<c>Cluster:InternalHttpPort</c>), a Kestrel server of its own beside the public
/// one, serving exactly one thing: <c>GET /spools/{id}</c>, a cold download in progress on this silo, to the other silos
/// whose clients wait for it (<see cref="SpoolRelay"/>). Nothing else answers here (404), and nothing of this route is
/// on the public listener. Who may read: the port is for the cluster's own network (no Service or load balancer
/// publishes it; a NetworkPolicy admits only the silos), and a spool is named by 128 random bits that only the file's
/// owner grain hands out, in silo-to-silo messages, while the download runs. What it serves is what the public
/// download would serve (an upstream file on its way to storage), never private crates or tokens. It listens on the
/// advertised address when that is loopback, else on every address, like the silo port; other silos are told
/// <c>http://{advertised address}:{port}/</c>. Started after the silo and stopped after the drain, so a silo stopped
/// with SIGTERM finishes the downloads it serves before it closes.
/// </summary>
public sealed partial class InternalHttpListener(InFlightSpools spools, ILocalSiloDetails silo, int port, ILogger<InternalHttpListener> logger) : IHostedService, IAsyncDisposable
{
    private const string SpoolsPrefix = "/spools/";
    private WebApplication? _app;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var advertised = silo.SiloAddress.Endpoint.Address;
        var listenOn = IPAddress.IsLoopback(advertised) ? advertised
            : advertised.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any
            : IPAddress.Any;
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(InternalHttpListener).Assembly.GetName().Name });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(listenOn, port);
        });
        var app = builder.Build();
        app.Run(context => ServeAsync(context, spools));
        await app.StartAsync(cancellationToken);
        _app = app;

        // With port 0 (tests) the system picked one: other silos are told the one bound.
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            .Select(a => new Uri(a).Port).FirstOrDefault() ?? port;
        spools.ServedAt = new Uri($"http://{new IPEndPoint(advertised, bound)}/");
        LogListening(logger, spools.ServedAt, $"{listenOn}:{bound}");
    }

    /// <summary>
    /// <c>GET /spools/{id}</c>: the download's bytes as they arrive (<see cref="SpooledFileHttpResult"/>: Content-Length
    /// when upstream announced one, the last byte only once verified and stored, the connection aborted if it fails);
    /// 404 for anything else, and for a spool that is over (the caller then waits for the stored file).
    /// </summary>
    public static Task ServeAsync(HttpContext context, InFlightSpools spools)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(spools);
        var path = context.Request.Path.Value;
        if (HttpMethods.IsGet(context.Request.Method) && path is not null && path.StartsWith(SpoolsPrefix, StringComparison.Ordinal) &&
            path[SpoolsPrefix.Length..] is var id && SpoolRelay.IsSpoolId(id) && spools.OpenByIdOrNull(id) is { } read)
        {
            return new SpooledFileHttpResult(read, "application/octet-stream").ExecuteAsync(context);
        }

        context.Response.StatusCode = StatusCodes.Status404NotFound;
        context.Response.Headers.CacheControl = "no-store";
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        spools.ServedAt = null; // new locations say "not followable"; downloads being read finish (up to the host's timeout)
        if (_app is { } app)
        {
            await app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.DisposeAsync();
        }
    }
}
