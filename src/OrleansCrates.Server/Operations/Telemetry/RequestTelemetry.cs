using System.Collections;
using Microsoft.Extensions.Logging.Console;

namespace OrleansCrates.Server.Operations.Telemetry;

/// <summary>
/// Request ids. Every response carries <c>X-Request-Id</c>: a valid one the client sent (1–128 of
/// <c>A-Z a-z 0-9 - _ . : /</c>), else ASP.NET's trace identifier, which is the <c>RequestId</c> of the log scope every
/// log line of the request is written in (<c>Logging:Console:FormatterName=json</c> prints it; scopes are on for the
/// JSON formatter unless <c>Logging:Console:FormatterOptions:IncludeScopes=false</c>). A client's id becomes the trace
/// identifier and is added to the log scope as <c>RequestId</c> too. Request metrics are ASP.NET Core's own
/// (<c>http.server.request.duration</c>, see <see cref="TelemetryHosting"/>).
/// </summary>
public static class RequestTelemetry
{
    public const string RequestIdHeader = "X-Request-Id";

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

internal sealed class RequestTelemetryMiddleware(RequestDelegate next, ILogger<RequestTelemetryMiddleware> logger)
{
    private static readonly Func<object, Task> SetRequestIdHeader = static state =>
    {
        var context = (HttpContext)state;
        context.Response.Headers[RequestTelemetry.RequestIdHeader] = context.TraceIdentifier;
        return Task.CompletedTask;
    };

    public async Task InvokeAsync(HttpContext context)
    {
        IDisposable? scope = null;
        var incoming = context.Request.Headers[RequestTelemetry.RequestIdHeader];
        if (incoming.Count == 1 && RequestTelemetry.IsValidRequestId(incoming[0]))
        {
            context.TraceIdentifier = incoming[0]!;
            scope = logger.BeginScope(new RequestIdScope(context.TraceIdentifier));
        }

        // On starting, not now: the error handler clears the headers of a response it replaces.
        context.Response.OnStarting(SetRequestIdHeader, context);
        try
        {
            await next(context);
        }
        finally
        {
            scope?.Dispose();
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
