using System.CommandLine;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Storage;

namespace OrleansCrates.Cli;

/// <summary>
/// <c>orleanscrates</c>, the operator's command line: System.CommandLine parses, validates and writes help and
/// completions; each command group is one static class with a <c>Create()</c> returning its <see cref="Command"/>.
/// Stdout carries only a command's output (<c>TOKEN=$(orleanscrates token create --user ci)</c>); notes, progress and
/// logs go to stderr. Storage is configured as for the server: appsettings.json beside the binary, environment
/// variables (<c>Storage__FileSystem__Root</c>) and <c>--Section:Key=Value</c> arguments.
/// Exit codes: 0 done, 1 failed, 2 usage, 130 interrupted.
/// </summary>
public static class CliApp
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Interrupted = 130;

    /// <summary>Parses <paramref name="args"/> for <paramref name="root"/> (the commands, composed in Program.cs) and runs the command.</summary>
    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(args);
        var (commandLine, settings) = SplitSettings(args);
        Settings = settings;
        var parse = root.Parse(commandLine);
        if (parse.Errors.Count > 0)
        {
            // Errors and the command's help on stderr, so a script's stdout never holds usage text.
            await parse.InvokeAsync(new InvocationConfiguration { Output = Console.Error, Error = Console.Error });
            return Usage;
        }

        return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }

    /// <summary>The <c>--Section:Key=Value</c> (or <c>--Section:Key value</c>) settings given on the command line.</summary>
    internal static IReadOnlyList<string> Settings { get; private set; } = [];

    /// <summary>
    /// Configuration settings are any <c>--Name</c> whose name holds a <c>:</c> (all of this program's settings do:
    /// <c>--Storage:FileSystem:Root=/srv/crates</c>); they go to the configuration, the rest to the parser.
    /// </summary>
    internal static (string[] CommandLine, IReadOnlyList<string> Settings) SplitSettings(IReadOnlyList<string> args)
    {
        var commandLine = new List<string>();
        var settings = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? arg : arg[..equals];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || !name.Contains(':', StringComparison.Ordinal))
            {
                commandLine.Add(arg);
            }
            else if (equals >= 0)
            {
                settings.Add(arg);
            }
            else if (i + 1 < args.Count)
            {
                settings.Add($"{arg}={args[++i]}");
            }
            else
            {
                commandLine.Add(arg); // a setting without a value: the parser reports it
            }
        }

        return ([.. commandLine], settings);
    }

    /// <summary>The server's configuration sources, in the server's order: JSON files beside the binary, environment, command line.</summary>
    internal static IConfiguration BuildConfiguration()
    {
        var environment = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT")
            ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT")
            ?? "Production";
        return new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true, reloadOnChange: false)
            .AddJsonFile($"appsettings.{environment}.json", optional: true, reloadOnChange: false)
            .AddEnvironmentVariables()
            .AddCommandLine([.. Settings])
            .Build();
    }

    /// <summary>
    /// Runs a command's work with the errors every command shares turned into exit codes: configuration (1), storage
    /// or network (1), Ctrl+C (130).
    /// </summary>
    internal static async Task<int> GuardAsync(Func<Task<int>> work, CancellationToken cancellationToken)
    {
        try
        {
            return await work();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("Interrupted.");
            return Interrupted;
        }
        catch (Exception e) when (e is InvalidOperationException or OptionsValidationException or FormatException)
        {
            await Console.Error.WriteLineAsync($"Configuration error: {e.Message}");
            return Failed;
        }
        catch (Exception e) when (e is StorageUnavailableException or IOException or UnauthorizedAccessException or HttpRequestException
            or Azure.RequestFailedException or Azure.Identity.AuthenticationFailedException or AdminCallException)
        {
            await Console.Error.WriteLineAsync(e is AdminCallException ? e.Message : $"Storage error: {e.Message}");
            return Failed;
        }
    }

    /// <summary>Runs <paramref name="work"/> against the configured object store, with <see cref="GuardAsync"/>'s exit codes.</summary>
    internal static Task<int> WithStoreAsync(Func<IObjectStore, Task<int>> work, CancellationToken cancellationToken) =>
        GuardAsync(() => WithStoreResultAsync(work, cancellationToken), cancellationToken);

    /// <summary>Opens the configured object store (registered as the server registers it), runs <paramref name="work"/> and closes it.</summary>
    internal static async Task<T> WithStoreResultAsync<T>(Func<IObjectStore, Task<T>> work, CancellationToken cancellationToken)
    {
        var configuration = BuildConfiguration();
        await using var services = new ServiceCollection()
            .AddSingleton(configuration)
            .AddLogging(logging => logging.AddCliLogging())
            .AddObjectStore(configuration)
            .BuildServiceProvider();
        return await work(await services.EnsureStorageReadyAsync(cancellationToken));
    }
}

internal static class CliLogging
{
    /// <summary>Warnings and errors only, and all of it on stderr: stdout carries nothing but command output.</summary>
    public static ILoggingBuilder AddCliLogging(this ILoggingBuilder logging) => logging
        .SetMinimumLevel(LogLevel.Warning)
        .AddSimpleConsole(console => console.SingleLine = true)
        .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
}
