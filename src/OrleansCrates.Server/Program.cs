using OrleansCrates.Server.Apis;
using OrleansCrates.Server.Auth;
using OrleansCrates.Server.Hosting;
using OrleansCrates.Server.Http;
using OrleansCrates.Server.Operations.Cluster;
using OrleansCrates.Server.Operations.Dashboard;
using OrleansCrates.Server.Operations.Directory;
using OrleansCrates.Server.Operations.Health;
using OrleansCrates.Server.Operations.Statistics;
using OrleansCrates.Server.Operations.Telemetry;

// Settings files ship beside the binary; relative paths in settings (Storage:FileSystem:Root) still mean the working directory.
// The operator's command line is its own program: src/OrleansCrates.Cli.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
var socketCompletions = SocketCompletions.Apply(builder); // before anything touches a socket: the runtime reads its switch once
builder.AddOrleansCrates();

var app = builder.Build();
SocketCompletions.Log(app, socketCompletions);
FrontEndTransport.Log(app);
app.UseRequestTelemetry(); // X-Request-Id on every response, errors included
app.UseOrleansCratesErrorHandling();
app.UseTrafficStatistics();
app.UseDirectIndexRoute(); // index files: straight to their endpoint, the router and what follows it skipped
app.UseRouting();
app.UseThreadPoolDispatch(); // all but the registry reads leave the socket event threads before their endpoint's work
app.UseRegistryAuth(); // after telemetry and statistics: a refused request is counted as any other
app.MapHealthApi();
app.MapClusterApi();
app.MapMetrics();
var registries = app.MapGroup("").WithServedBytes(app.Services); // the endpoints that serve files count their bytes
registries.MapMirrorApi();
registries.MapToolchainApi();
registries.MapPrivateRegistryApi();
app.MapAdminApi();
app.MapAdminPrefetchApi();
app.MapStatisticsApi();
app.MapDirectoryApi();
app.MapDashboardApi();
app.Run();

/// <summary>The web host; public so tests can reference the assembly.</summary>
public partial class Program;
