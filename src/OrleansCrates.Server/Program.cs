using OrleansCrates.Server.Apis;
using OrleansCrates.Server.Cli;
using OrleansCrates.Server.Hosting;

// `token ...`, `downloads ...`: administration against the configured storage, with no web server.
if (Cli.IsCommand(args))
{
    Environment.ExitCode = await Cli.RunAsync(args, CancellationToken.None);
    return;
}

// Settings files ship beside the binary; relative paths in settings (Storage:FileSystem:Root) still mean the working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddOrleansCrates();

var app = builder.Build();
app.UseOrleansCratesErrorHandling();
app.MapHealthApi();
app.MapMirrorApi();
app.MapPrivateRegistryApi();
app.MapAdminApi();
app.Run();

/// <summary>The web host; public so tests can reference the assembly.</summary>
public partial class Program;
