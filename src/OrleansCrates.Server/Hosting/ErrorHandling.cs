using OrleansCrates.Storage;

namespace OrleansCrates.Server.Hosting;

public static class ErrorHandling
{
    /// <summary>
    /// Unexpected failures answer with a short plain message and no internals. Storage that cannot be reached is a
    /// 503, so cargo retries; it is never turned into "not found".
    /// </summary>
    public static WebApplication UseOrleansCratesErrorHandling(this WebApplication app)
    {
        app.UseExceptionHandler(error => error.Run(async context =>
        {
            var exception = context.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.Error;
            var unavailable = exception is StorageUnavailableException or IOException;
            context.Response.StatusCode = unavailable ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status500InternalServerError;
            if (unavailable)
            {
                context.Response.Headers.RetryAfter = "5";
            }

            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync(unavailable ? "storage unavailable, retry later\n" : "internal error\n", context.RequestAborted);
        }));
        return app;
    }
}
