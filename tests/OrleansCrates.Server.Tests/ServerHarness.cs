using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansCrates.Accounts;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Mirror;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Registry;
using OrleansCrates.Server.Auth;
using OrleansCrates.Server.Services;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Tests;

/// <summary>
/// The server's services as the host registers them (auth, the private registry, the mirror's core and policy), on a
/// filesystem store in a temporary folder; no web server, no cluster. Each test builds its own.
/// </summary>
internal sealed class ServerHarness : IAsyncDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "orleanscrates-server-tests-" + Guid.NewGuid().ToString("N"));
    private readonly ServiceProvider _services;

    public ServerHarness(Dictionary<string, string?>? settings = null)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:FileSystem:Root"] = _root })
            .AddInMemoryCollection(settings ?? [])
            .Build();
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddLogging()
            .AddSingleton<IHostApplicationLifetime, StoppedNever>();
        services.AddMirrorCore(configuration);
        services.AddRegistryAuth();
        services.AddPrivateRegistry(configuration);
        services.AddMirrorPolicy();
        services.AddSingleton<MirrorReads>();
        services.AddSingleton<AdminPrefetch>();
        services.AddSingleton<DependencyIndexPrefetch>();
        _services = services.BuildServiceProvider();
    }

    public T Get<T>()
        where T : notnull => _services.GetRequiredService<T>();

    public IObjectStore Store => Get<IObjectStore>();

    /// <summary>A request as the endpoint sees it: anonymous unless <paramref name="caller"/> is given (then with its credentials).</summary>
    public DefaultHttpContext Request(string method = "GET", ClaimsPrincipal? caller = null)
    {
        var context = new DefaultHttpContext { RequestServices = _services };
        context.Request.Method = method;
        if (caller is not null)
        {
            context.Request.Headers.Authorization = "Bearer test";
            context.User = caller;
        }

        return context;
    }

    /// <summary>An authenticated caller with <paramref name="scope"/> over the crates <paramref name="patterns"/> name.</summary>
    public static ClaimsPrincipal Token(string user, TokenScope scope, params string[] patterns) =>
        new(new TokenIdentity(new TokenInfo("id-" + user, user, scope, patterns, DateTimeOffset.UnixEpoch, null), CargoAuth.Scheme));

    public async ValueTask DisposeAsync()
    {
        // Answers go out before their index documents are stored: let those writes end before the folder is deleted.
        await Get<CrateCoordinator>().WhenDrainedAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        await _services.DisposeAsync();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private sealed class StoppedNever : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication()
        {
        }
    }
}
