using OrleansCrates.Accounts.Auth;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Http;

public static class ErrorHandling
{
    /// <summary>
    /// Unexpected failures answer with a short message and no internals. A request the client got wrong — a body
    /// over the size limit (413) or sent slower than Kestrel's minimum rate (408), a malformed body (400) — answers
    /// with its own status in cargo's error shape, so cargo prints it. Storage that cannot be reached is a 503, so cargo
    /// retries; it is never turned into "not found".
    /// </summary>
    public static WebApplication UseOrleansCratesErrorHandling(this WebApplication app)
    {
        app.UseExceptionHandler(error => error.Run(async context =>
        {
            Operations.Telemetry.RequestTelemetry.SetRequestIdHeader(context); // the handler cleared the response's headers
            var exception = context.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.Error;
            var failure = Classify(exception);
            if (failure.Status == StatusCodes.Status503ServiceUnavailable)
            {
                context.Response.Headers.RetryAfter = "5";
            }

            if (failure.Status < 500)
            {
                await TypedResults.Json(new CargoErrorBody([new CargoErrorDetail(failure.Message)]), statusCode: failure.Status).ExecuteAsync(context);
                return;
            }

            context.Response.StatusCode = failure.Status;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync(failure.Message + "\n", context.RequestAborted);
        }));
        return app;
    }

    /// <summary>
    /// The one place an exception becomes a status. Kestrel's <see cref="BadHttpRequestException"/> is an
    /// <see cref="IOException"/>, so it is told apart before any I/O failure is taken for storage.
    /// </summary>
    public static RequestFailure Classify(Exception? exception) => exception switch
    {
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
            new(StatusCodes.Status413PayloadTooLarge, "the request body is larger than this endpoint accepts"),
        BadHttpRequestException { StatusCode: StatusCodes.Status408RequestTimeout } =>
            new(StatusCodes.Status408RequestTimeout, "the request body arrived slower than the minimum data rate"),
        BadHttpRequestException { StatusCode: >= 400 and < 500 } bad => new(bad.StatusCode, "bad request"),
        StorageUnavailableException or IOException => new(StatusCodes.Status503ServiceUnavailable, "storage unavailable, retry later"),
        _ => new(StatusCodes.Status500InternalServerError, "internal error"),
    };

    public readonly record struct RequestFailure(int Status, string Message);
}
