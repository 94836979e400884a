using System.Net.Http.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Polly.Timeout;
using OrleansCrates.Mirror;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Operations.Alerts;

internal sealed partial class AlertMonitor
{
    [LoggerMessage(EventId = LogEvents.AlertMonitorDisabled, Level = LogLevel.Debug, Message = "Alerts are off (Alerts:WebhookUrl is not set)")]
    private static partial void LogDisabled(ILogger logger);

    [LoggerMessage(EventId = LogEvents.AlertMonitorEnabled, Level = LogLevel.Information, Message = "Alerts go to {Webhook} as node {Node}: checks every {Interval}, upstream alert after {FailingFor} of failures")]
    private static partial void LogEnabled(ILogger logger, string webhook, string node, TimeSpan interval, TimeSpan failingFor);

    [LoggerMessage(EventId = LogEvents.AlertMonitorProblem, Level = LogLevel.Warning, Message = "Alert {Event}: {Detail}")]
    private static partial void LogProblem(ILogger logger, string @event, string detail);

    [LoggerMessage(EventId = LogEvents.AlertMonitorRecovery, Level = LogLevel.Information, Message = "Alert {Event}: {Detail}")]
    private static partial void LogRecovery(ILogger logger, string @event, string detail);

    [LoggerMessage(EventId = LogEvents.AlertMonitorSent, Level = LogLevel.Information, Message = "Alert {Event} delivered to the webhook")]
    private static partial void LogSent(ILogger logger, string @event);

    [LoggerMessage(EventId = LogEvents.AlertMonitorRetrying, Level = LogLevel.Warning, Message = "Alerts webhook attempt {Attempt} failed ({Error}); retrying in {Seconds:0.#} s")]
    private static partial void LogRetrying(ILogger logger, int attempt, string error, double seconds);

    [LoggerMessage(EventId = LogEvents.AlertMonitorGaveUp, Level = LogLevel.Error, Message = "Alert {Event} was not delivered (up to {Attempts} attempts; last: {Error})")]
    private static partial void LogGaveUp(ILogger logger, string @event, int attempts, string error);
}
