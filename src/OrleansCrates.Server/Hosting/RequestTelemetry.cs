using System.Collections;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Console;
using OrleansCrates.Core.Telemetry;

namespace OrleansCrates.Server.Hosting;

/// <summary>
/// Request ids and request metrics. Every response carries <c>X-Request-Id</c>: a valid one the client sent (1–128 of
/// <c>A-Z a-z 0-9 - _ . : /</c>), else ASP.NET's trace identifier, which is the <c>RequestId</c> of the log scope every
/// log line of the request is written in (<c>Logging:Console:FormatterName=json</c> prints it; scopes are on for the
/// JSON formatter unless <c>Logging:Console:FormatterOptions:IncludeScopes=false</c>). A client's id becomes the trace
/// identifier and is added to the log scope as <c>RequestId</c> too. Each request is counted under its route template
/// (never the raw path, so the series stay few), method and final status.
/// </summary>
public static class RequestTelemetry
{
    public const string RequestIdHeader = "X-Request-Id";

    /// <summary>The route label of requests that matched no endpoint.</summary>
    public const string UnmatchedRoute = "unmatched";

    public static IServiceCollection AddRequestTelemetry(this IServiceCollection services)
    {
        services.AddOptions<JsonConsoleFormatterOptions>()
            .Configure<IConfiguration>((o, configuration) =>
                o.IncludeScopes = configuration.GetValue("Logging:Console:FormatterOptions:IncludeScopes", true));
        return services;
    }

    public static WebApplication UseRequestTelemetry(this WebApplication app)
    {
        app.UseMiddleware<RequestTelemetryMiddleware>();
        return app;
    }

    internal static bool IsValidRequestId(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 128)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':' or '/'))
            {
                return false;
            }
        }

        return true;
    }
}

internal sealed class RequestTelemetryMiddleware(RequestDelegate next, OrleansCratesMetrics metrics, ILogger<RequestTelemetryMiddleware> logger)
{
    private static readonly Func<object, Task> SetRequestIdHeader = static state =>
    {
        var context = (HttpContext)state;
        context.Response.Headers[RequestTelemetry.RequestIdHeader] = context.TraceIdentifier;
        return Task.CompletedTask;
    };

    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        IDisposable? scope = null;
        var incoming = context.Request.Headers[RequestTelemetry.RequestIdHeader];
        if (incoming.Count == 1 && RequestTelemetry.IsValidRequestId(incoming[0]))
        {
            context.TraceIdentifier = incoming[0]!;
            scope = logger.BeginScope(new RequestIdScope(context.TraceIdentifier));
        }

        // On starting, not now: the error handler clears the headers of a response it replaces.
        context.Response.OnStarting(SetRequestIdHeader, context);
        var endpoint = context.GetEndpoint(); // the error handler resets it, so take it before
        var failed = false;
        try
        {
            await next(context);
        }
        catch
        {
            failed = true;
            throw;
        }
        finally
        {
            scope?.Dispose();
            endpoint ??= context.GetEndpoint();
            var route = endpoint is RouteEndpoint routed ? routed.RoutePattern.RawText ?? RequestTelemetry.UnmatchedRoute : RequestTelemetry.UnmatchedRoute;
            var status = failed && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode;
            metrics.HttpRequest(route, context.Request.Method, status, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <summary>The client's request id as a log scope property.</summary>
    private sealed class RequestIdScope(string requestId) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public int Count => 1;

        public KeyValuePair<string, object?> this[int index] =>
            index == 0 ? new("RequestId", requestId) : throw new ArgumentOutOfRangeException(nameof(index));

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            yield return this[0];
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"RequestId:{requestId}";
    }
}
