using System.Net;
using System.Net.Sockets;

namespace OrleansCrates.Bench.Infrastructure;

internal static class Network
{
    /// <summary>A loopback TCP port that was free a moment ago.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
