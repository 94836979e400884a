namespace OrleansCrates.Server.Hosting;

public sealed partial class InternalHttpListener
{
    [LoggerMessage(EventId = LogEvents.InternalHttpListening, Level = LogLevel.Information, Message = "Internal HTTP for other silos at {Url} (listening on {Endpoint})")]
    private static partial void LogListening(ILogger logger, Uri url, string endpoint);
}
