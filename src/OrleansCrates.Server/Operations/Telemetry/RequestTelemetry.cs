using System.Collections;
using Microsoft.Extensions.Logging.Console;

namespace OrleansCrates.Server.Operations.Telemetry;

/// <summary>
/// Request ids. Every response carries <c>X-Request-Id</c>: a valid one the client sent (1–128 of
/// <c>A-Z a-z 0-9 - _ . : /</c>), else ASP.NET's trace identifier, which is the <c>RequestId</c> of the log scope every
/// log line of the request is written in (<c>Logging:Console:FormatterName=json</c> prints it; scopes are on for the
/// JSON formatter unless <c>Logging:Console:FormatterOptions:IncludeScopes=false</c>; the scope is opened only where it
/// is printed, see <see cref="HostingDiagnosticsCategory"/>). A client's id becomes the trace
/// identifier and is added to the log scope as <c>RequestId</c> too. Request metrics are ASP.NET Core's own
/// (<c>http.server.request.duration</c>, see <see cref="TelemetryHosting"/>).
/// </summary>
public static class RequestTelemetry
{
    public const string RequestIdHeader = "X-Request-Id";

    /// <summary>
    /// ASP.NET Core's hosting diagnostics. With this category on at any level, hosting opens a log scope and starts an
    /// <see cref="System.Diagnostics.Activity"/> for every request, whether or not anything prints or exports them
    /// (about a tenth of a warm index request's cost on one core). The server's appsettings turn it off
    /// (<c>Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics=None</c>); traces exported over OTLP still get
    /// their activities, and the request id scope is then opened by this project's middleware where it is printed.
    /// </summary>
    public const string HostingDiagnosticsCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

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

    /// <summary>The request's id on its response; again by whatever clears a response's headers (the error handler).</summary>
    public static void SetRequestIdHeader(HttpContext context) =>
        context.Response.Headers[RequestIdHeader] = context.TraceIdentifier;

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

internal sealed class RequestTelemetryMiddleware(RequestDelegate next, ILogger<RequestTelemetryMiddleware> logger, ILoggerFactory loggers, IConfiguration configuration)
{
    private readonly ILogger _hosting = loggers.CreateLogger(RequestTelemetry.HostingDiagnosticsCategory);

    /// <summary>Whether log lines print their scopes (the JSON console formatter, scopes not turned off): only then is a request's scope worth opening.</summary>
    private readonly bool _scopesPrinted =
        string.Equals(configuration["Logging:Console:FormatterName"], "json", StringComparison.OrdinalIgnoreCase) &&
        configuration.GetValue("Logging:Console:FormatterOptions:IncludeScopes", true);

    public async Task InvokeAsync(HttpContext context)
    {
        var incoming = context.Request.Headers[RequestTelemetry.RequestIdHeader];
        var fromClient = incoming.Count == 1 && RequestTelemetry.IsValidRequestId(incoming[0]);
        if (fromClient)
        {
            context.TraceIdentifier = incoming[0]!;
        }

        // Hosting's own scope carries ASP.NET's trace identifier as RequestId when its logging is on; when it is off
        // (the default, see RequestTelemetry.HostingDiagnosticsCategory), the scope is opened here, but only where log
        // lines print it: a scope sets an async-local, which makes every later step of the request carry and restore it.
        var scope = fromClient || (_scopesPrinted && !_hosting.IsEnabled(LogLevel.Critical))
            ? logger.BeginScope(new RequestIdScope(context.TraceIdentifier))
            : null;

        // Now, not on starting (a callback Kestrel keeps and runs for every response): the error handler, which clears
        // the headers of a response it replaces, sets it again (RequestTelemetry.SetRequestIdHeader).
        RequestTelemetry.SetRequestIdHeader(context);
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
