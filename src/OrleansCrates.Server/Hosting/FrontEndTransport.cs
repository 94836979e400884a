using OrleansCrates.Sockets;

namespace OrleansCrates.Server.Hosting;

/// <summary>Which socket transport this node's TCP endpoints run on (<see cref="ServiceRegistration.SendFileKey"/>), said once at start.</summary>
public static partial class FrontEndTransport
{
    public static void Log(WebApplication app)
    {
        var sendFile = app.Configuration.GetValue(ServiceRegistration.SendFileKey, defaultValue: true) && SocketTransportHosting.IsSupported;
        LogMode(app.Logger, sendFile ? "this project's, crate files sent by the kernel (sendfile)" : "Kestrel's, every body copied", ServiceRegistration.SendFileKey);
    }

    [LoggerMessage(EventId = LogEvents.TransportMode, Level = LogLevel.Information, Message = "Socket transport: {Which} ({Source})")]
    private static partial void LogMode(ILogger logger, string which, string source);
}
