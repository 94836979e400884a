using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansCrates.Accounts;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Mirror;
using OrleansCrates.Registry;
using OrleansCrates.Server.Auth;
using OrleansCrates.Server.Apis;
using OrleansCrates.Server.Http;
using OrleansCrates.Server.Operations.Telemetry;

namespace OrleansCrates.Server.Tests;

/// <summary>
/// <see cref="DirectIndexRoute"/>: which requests it takes to the index endpoint itself (with the route value the router
/// would give), which it leaves to the router, and the endpoints it refuses to take anything to. On real ASP.NET Core
/// endpoints (a built <see cref="WebApplication"/>, mapped as the mirror maps them); the last test runs the front of the
/// server's pipeline on Kestrel.
/// </summary>
public sealed class DirectIndexRouteTests
{
    [Theory]
    [InlineData("GET", "/index/se/rd/serde", "se/rd/serde")]
    [InlineData("HEAD", "/index/se/rd/serde", "se/rd/serde")]
    [InlineData("GET", "/index/1/a", "1/a")]
    [InlineData("GET", "/index/3/s/syn/", "3/s/syn/")] // what the router's catch-all gives too; the handler answers 404
    [InlineData("GET", "/index/not a path", "not a path")]
    public async Task An_index_request_runs_the_index_endpoint_with_the_routers_value(string method, string path, string expected)
    {
        await using var app = MirrorLike(gated: false);
        var (context, calls) = Request(method, path);

        await Route(app).InvokeAsync(context);

        Assert.Equal(["index:" + expected], calls);
        Assert.Equal("/index/{**path}", (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText);
        Assert.Equal(expected, context.Request.RouteValues["path"]);
    }

    [Theory]
    [InlineData("GET", "/index/config.json")] // its own endpoint
    [InlineData("GET", "/index/CONFIG.JSON")] // the router matches literals in any case
    [InlineData("GET", "/index/config.json/")] // and ignores a trailing slash
    [InlineData("GET", "/INDEX/se/rd/serde")] // left to the router, which gives the same endpoint
    [InlineData("GET", "/index/")] // an empty catch-all: the router's own answer
    [InlineData("GET", "/index")]
    [InlineData("POST", "/index/se/rd/serde")]
    [InlineData("DELETE", "/index/se/rd/serde")]
    [InlineData("GET", "/crates/serde/1.0.0/download")]
    [InlineData("GET", "/private/index/se/rd/serde")]
    public async Task Anything_else_goes_on_to_the_router(string method, string path)
    {
        await using var app = MirrorLike(gated: false);
        var (context, calls) = Request(method, path);

        await Route(app).InvokeAsync(context);

        Assert.Equal(["next"], calls);
        Assert.Null(context.GetEndpoint());
    }

    [Fact]
    public async Task Where_reads_need_a_token_the_read_gate_runs_first_as_after_routing()
    {
        var root = Path.Combine(Path.GetTempPath(), "orleanscrates-direct-route-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var app = MirrorLike(gated: true, services =>
            {
                var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:FileSystem:Root"] = root }).Build();
                services.AddMirrorCore(configuration);
                services.AddRegistryAuth();
                services.AddPrivateRegistry(configuration);
            });
            var (token, _) = await app.Services.GetRequiredService<TokenStore>().CreateAsync("alice", TokenScope.Read, ["*"], CancellationToken.None);
            var (anonymous, anonymousCalls) = Request("GET", "/index/se/rd/serde", app.Services);
            var (holder, holderCalls) = Request("GET", "/index/se/rd/serde", app.Services);
            holder.Request.Headers.Authorization = token;

            await Route(app).InvokeAsync(anonymous);
            await Route(app).InvokeAsync(holder);

            Assert.Equal((StatusCodes.Status401Unauthorized, 0), (anonymous.Response.StatusCode, anonymousCalls.Count)); // cargo's challenge; the endpoint never ran
            Assert.StartsWith("Cargo login_url=", anonymous.Response.Headers.WWWAuthenticate.ToString(), StringComparison.Ordinal);
            Assert.Equal(["index:se/rd/serde"], holderCalls);
            Assert.Equal("alice", TokenIdentity.TokenOf(holder.User)?.User); // the gate made the token the request's user
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    [Fact]
    public async Task A_gated_endpoint_without_the_token_store_goes_through_the_router_every_time()
    {
        await using var app = MirrorLike(gated: true); // no registry services: the gate cannot be built here
        var (first, firstCalls) = Request("GET", "/index/se/rd/serde");
        var (second, secondCalls) = Request("GET", "/index/se/rd/serde");

        await Route(app).InvokeAsync(first);
        var route = Route(app);
        await route.InvokeAsync(second);
        await route.InvokeAsync(first);

        Assert.Equal(["next", "next"], firstCalls);
        Assert.Equal(["next"], secondCalls);
    }

    [Fact]
    public async Task An_index_endpoint_that_must_leave_the_event_thread_needs_authorization_or_shares_its_paths_is_never_taken()
    {
        await using var plain = App(map => map.MapMethods(DirectIndexRoute.Pattern, MirrorApi.GetAndHead, () => "index"));
        await using var authorized = App(map => map.MapMethods(DirectIndexRoute.Pattern, MirrorApi.GetAndHead, () => "index").RunOnEventThread().RequireAuthorization());
        await using var getOnly = App(map => map.MapGet(DirectIndexRoute.Pattern, () => "index").RunOnEventThread());
        await using var qualifying = App(map => map.MapMethods(DirectIndexRoute.Pattern, MirrorApi.GetAndHead, () => "index").RunOnEventThread());
        await using var overlapped = App(map =>
        {
            map.MapMethods(DirectIndexRoute.Pattern, MirrorApi.GetAndHead, () => "index").RunOnEventThread();
            map.MapGet("index/{a}/{b}/special", () => "a route that would win some index paths (mapped without its leading slash)");
        });
        await using var twice = App(map =>
        {
            map.MapMethods(DirectIndexRoute.Pattern, MirrorApi.GetAndHead, () => "index").RunOnEventThread();
            map.MapPost(DirectIndexRoute.Pattern, () => "the same pattern, another endpoint");
        });

        Assert.Equal(
            (false, false, false, true, false, false),
            (DirectIndexRoute.Find(plain) is not null, DirectIndexRoute.Find(authorized) is not null, DirectIndexRoute.Find(getOnly) is not null,
             DirectIndexRoute.Find(qualifying) is not null, DirectIndexRoute.Find(overlapped) is not null, DirectIndexRoute.Find(twice) is not null));
    }

    [Fact]
    public async Task On_kestrel_a_direct_answer_and_an_error_handlers_answer_both_carry_the_request_id()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.UseRequestTelemetry();
        app.UseOrleansCratesErrorHandling();
        app.UseDirectIndexRoute();
        app.UseRouting();
        var group = app.MapGroup("").RunOnEventThread();
        group.MapMethods(DirectIndexRoute.Pattern, MirrorApi.GetAndHead, (string path) => path == "1/x"
            ? throw new IOException("storage went away") // the error handler replaces the response: 503, headers cleared
            : Results.Text("line\n", "text/plain"));
        await app.StartAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
            using var found = await http.GetAsync("/index/1/a");
            using var failed = await http.GetAsync("/index/1/x");
            using var echoed = new HttpRequestMessage(HttpMethod.Get, "/index/1/x") { Headers = { { RequestTelemetry.RequestIdHeader, "build-7" } } };
            using var failedWithId = await http.SendAsync(echoed);

            Assert.Equal(
                (HttpStatusCode.OK, "line\n", HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable),
                (found.StatusCode, await found.Content.ReadAsStringAsync(), failed.StatusCode, failedWithId.StatusCode));
            Assert.False(string.IsNullOrEmpty(Assert.Single(found.Headers.GetValues(RequestTelemetry.RequestIdHeader))));
            Assert.False(string.IsNullOrEmpty(Assert.Single(failed.Headers.GetValues(RequestTelemetry.RequestIdHeader))));
            Assert.Equal("build-7", Assert.Single(failedWithId.Headers.GetValues(RequestTelemetry.RequestIdHeader)));
        }
        finally
        {
            await app.StopAsync();
        }
    }

    /// <summary>The mirror's two index routes as <see cref="MirrorApi"/> maps them (group on the event thread; gated where reads need a token).</summary>
    private static WebApplication MirrorLike(bool gated, Action<IServiceCollection>? services = null) => App(map =>
    {
        var group = map.MapGroup("").RunOnEventThread();
        if (gated)
        {
            group.WithMetadata(RegistryReadGate.Required.Instance);
        }

        group.MapMethods("/index/config.json", MirrorApi.GetAndHead, (HttpContext context) => Calls(context).Add("config"));
        group.MapMethods(DirectIndexRoute.Pattern, MirrorApi.GetAndHead, (string path, HttpContext context) => Calls(context).Add("index:" + path));
    }, services);

    private static WebApplication App(Action<WebApplication> map, Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        map(app);
        return app;
    }

    private static DirectIndexRoute Route(WebApplication app) => new(context =>
    {
        Calls(context).Add("next");
        return Task.CompletedTask;
    }, app, Microsoft.Extensions.Logging.Abstractions.NullLogger<DirectIndexRoute>.Instance);

    private static (DefaultHttpContext Context, List<string> Calls) Request(string method, string path, IServiceProvider? services = null)
    {
        var context = new DefaultHttpContext { RequestServices = services! };
        context.Request.Method = method;
        context.Request.Path = path;
        var calls = new List<string>();
        context.Items["calls"] = calls;
        return (context, calls);
    }

    private static List<string> Calls(HttpContext context) => (List<string>)context.Items["calls"]!;
}
