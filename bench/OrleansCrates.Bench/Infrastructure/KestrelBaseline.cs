using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace OrleansCrates.Bench.Infrastructure;

/// <summary>
/// ASP.NET Core without the mirror: a bare Kestrel (ASP.NET Core's server, as the mirror runs it: sockets transport, HTTP/1.1,
/// Release build, server GC, inline scheduling and inline socket completions unless the mirror's <c>Server:InlineScheduling=false</c> or <c>Server:InlineCompletions=false</c> is passed on) answering every file of a docroot from memory with one middleware — no routing, logging,
/// metrics or lookups. It runs as its own process (this bench program with <c>--kestrel-baseline DOCROOT</c>), pinned
/// like the mirror, so the throughput table can say how much of a gap to nginx is Kestrel's own (nginx sends files
/// with <c>sendfile</c>; Kestrel's sockets transport copies every body through its output pipe, which the mirror's own
/// transport avoids for crate files: see src/OrleansCrates.Sockets) and how much is the mirror's.
/// </summary>
internal static class KestrelBaseline
{
    public const string Argument = "--kestrel-baseline";

    /// <summary>Serves every file under <paramref name="docroot"/> at its relative path until stopped.</summary>
    public static async Task<int> ServeAsync(string docroot)
    {
        var files = Directory.EnumerateFiles(docroot, "*", SearchOption.AllDirectories)
            .ToDictionary(
                path => "/" + Path.GetRelativePath(docroot, path).Replace('\\', '/'),
                path => File.ReadAllBytes(path),
                StringComparer.Ordinal);
        // As the mirror does (Server:InlineCompletions, on unless "false"; an explicit runtime variable wins), before any socket.
        if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null
            && !string.Equals(Environment.GetEnvironmentVariable("Server__InlineCompletions"), "false", StringComparison.OrdinalIgnoreCase))
        {
            Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
        }

        var builder = WebApplication.CreateSlimBuilder([]);
        var inlineScheduling = !string.Equals(Environment.GetEnvironmentVariable("Server__InlineScheduling"), "false", StringComparison.OrdinalIgnoreCase);
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = inlineScheduling);
        builder.Logging.ClearProviders().AddConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        app.Run(context =>
        {
            if (!files.TryGetValue(context.Request.Path.Value ?? "", out var body))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            context.Response.ContentType = "application/octet-stream";
            context.Response.ContentLength = body.Length;
            return context.Response.Body.WriteAsync(body).AsTask();
        });
        await app.RunAsync();
        return 0;
    }

    /// <summary>
    /// Starts the baseline on <paramref name="docroot"/> (the servers' cores when pinned) with the mirror's extra
    /// environment (<c>--mirror-env</c>: runtime knobs apply to both alike) and returns its base URL.
    /// </summary>
    public static async Task<(ChildProcess Process, string BaseUrl)> StartAsync(
        string docroot, IReadOnlyDictionary<string, string> mirrorEnvironment, CpuPinning pinning, CancellationToken cancellationToken)
    {
        var (fileName, arguments) = pinning.Server("dotnet", [typeof(KestrelBaseline).Assembly.Location, Argument, docroot]);
        var process = ChildProcess.Start(
            "kestrel baseline",
            fileName,
            arguments,
            new Dictionary<string, string?>(mirrorEnvironment.Select(kv => KeyValuePair.Create(kv.Key, (string?)kv.Value)))
            {
                ["DOTNET_gcServer"] = "1",
                ["ASPNETCORE_URLS"] = null,
            });
        try
        {
            var match = await process.WaitForLineAsync(MirrorServer.ListeningRegex(), TimeSpan.FromSeconds(60), cancellationToken);
            return (process, match.Groups[1].Value.TrimEnd('/'));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }
}
