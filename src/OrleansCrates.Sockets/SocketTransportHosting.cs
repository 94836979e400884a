using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace OrleansCrates.Sockets;

public static class SocketTransportHosting
{
    /// <summary>Whether this platform runs the transport (Linux); elsewhere <see cref="UseFileSendingSockets"/> changes nothing.</summary>
    public static bool IsSupported => Native.Supported;

    /// <summary>
    /// Kestrel's TCP endpoints on Linux run on this transport, so <see cref="FileResponses"/> can send files with
    /// sendfile; elsewhere nothing changes. Registered after Kestrel's own transport, which Kestrel then asks last.
    /// </summary>
    public static IWebHostBuilder UseFileSendingSockets(this IWebHostBuilder builder, Action<SocketTransportOptions>? configure = null) =>
        builder.ConfigureServices(services =>
        {
            if (configure is not null)
            {
                services.Configure(configure);
            }

            services.AddSingleton<IConnectionListenerFactory, SocketTransportFactory>();
        });
}
