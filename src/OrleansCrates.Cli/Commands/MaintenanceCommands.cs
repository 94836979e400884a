using System.Globalization;
using Microsoft.Extensions.Options;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Server.Cli;

/// <summary>
/// A command that builds what it needs from the configuration itself: <c>verify</c> (the store, and an HTTP client
/// for <c>--against</c>), <c>verify-lock</c> (no storage at all) and <c>prefetch</c> (the server's mirror services).
/// </summary>
internal interface IMaintenanceCommand
{
    Task<int> RunAsync(CommandOutput output, IConfiguration configuration, CancellationToken cancellationToken);
}

/// <summary><c>verify</c>, <c>verify-lock</c>, <c>prefetch</c>: parsing of their shared options, and running them.</summary>
internal static class MaintenanceCommands
{
    public const int DefaultConcurrency = 8;
    public const int MaxConcurrency = 64;

    /// <summary>Null when <paramref name="words"/> is not one of these commands.</summary>
    public static (IMaintenanceCommand? Command, string? Error)? TryParse(CliArguments args, IReadOnlyList<string> words) =>
        words.Count == 0 ? null : words[0] switch
        {
            "verify" => VerifyCommands.ParseVerify(args, [.. words.Skip(1)]),
            "verify-lock" => VerifyCommands.ParseVerifyLock(args, [.. words.Skip(1)]),
            "prefetch" => PrefetchCommand.Parse(args, [.. words.Skip(1)]),
            _ => null,
        };

    public static async Task<int> RunAsync(IMaintenanceCommand command, IEnumerable<string> settings, CommandOutput output, CancellationToken cancellationToken)
    {
        try
        {
            return await command.RunAsync(output, Cli.BuildConfiguration(settings), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await output.Stderr.WriteLineAsync("Interrupted.");
            return Cli.Interrupted;
        }
        catch (Exception e) when (e is StorageUnavailableException or IOException or UnauthorizedAccessException or HttpRequestException
            or Azure.RequestFailedException or Azure.Identity.AuthenticationFailedException)
        {
            await output.Stderr.WriteLineAsync($"Storage error: {e.Message}");
            return Cli.Failed;
        }
    }

    /// <summary>
    /// Builds something from configuration; on an invalid setting writes "Configuration error: ..." and returns null
    /// (the command then exits 1), as the other commands do.
    /// </summary>
    public static async Task<T?> FromConfigurationAsync<T>(TextWriter stderr, Func<T> create)
        where T : class
    {
        try
        {
            return create();
        }
        catch (Exception e) when (e is InvalidOperationException or OptionsValidationException or FormatException)
        {
            await stderr.WriteLineAsync($"Configuration error: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// <c>--against URL</c>: a sparse index root (http or https, <c>sparse+</c> allowed); given without a URL, crates.io.
    /// Null when the option is absent.
    /// </summary>
    public static (Uri? Url, string? Error) ParseAgainst(CliArguments args)
    {
        var (value, error) = args.Single("against");
        if (error is not null || value is null)
        {
            return (null, error);
        }

        var text = value.Length == 0 ? UpstreamOptions.CratesIoIndexUrl : value;
        if (text.StartsWith("sparse+", StringComparison.Ordinal))
        {
            text = text["sparse+".Length..];
        }

        return Uri.TryCreate(Lockfile.WithTrailingSlash(text), UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && string.IsNullOrEmpty(url.Query)
            ? (url, null)
            : (null, $"--against needs a sparse index URL (http or https, e.g. {UpstreamOptions.CratesIoIndexUrl}), not '{value}'.");
    }

    /// <summary><c>--concurrency N</c>, 1–64, default 8.</summary>
    public static (int Value, string? Error) ParseConcurrency(CliArguments args)
    {
        var (value, error) = args.Single("concurrency");
        if (error is not null)
        {
            return (0, error);
        }

        if (value is null)
        {
            return (DefaultConcurrency, null);
        }

        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxConcurrency
            ? (n, null)
            : (0, $"--concurrency must be a whole number from 1 to {MaxConcurrency}, not '{value}'.");
    }

    /// <summary>
    /// An HTTP client for another sparse registry, polite as the mirror's own upstream client: the configured
    /// <c>Mirror:UserAgentContact</c> in User-Agent, at most <paramref name="concurrency"/> requests in flight,
    /// Retry-After honoured.
    /// </summary>
    public static UpstreamRegistry CreateRegistryClient(Uri indexUrl, IConfiguration configuration, int concurrency, ILoggerFactory loggers)
    {
        var timeoutText = configuration["Mirror:Upstreams:0:Timeout"];
        var options = new UpstreamOptions
        {
            IndexUrl = indexUrl.AbsoluteUri,
            Timeout = timeoutText is null ? new UpstreamOptions().Timeout : TimeSpan.Parse(timeoutText, CultureInfo.InvariantCulture),
        };
        var policy = new UpstreamPolicy
        {
            Contact = configuration["Mirror:UserAgentContact"] ?? "",
            MaxConcurrency = concurrency,
        };
        return new UpstreamRegistry(options, policy, TimeProvider.System, loggers.CreateLogger<UpstreamRegistry>());
    }

    /// <summary><c>1 file</c>, <c>2 files</c>.</summary>
    public static string Plural(long count, string noun) =>
        count.ToString(CultureInfo.InvariantCulture) + " " + (count == 1 ? noun : noun + "s");

    /// <summary>Checks that only <paramref name="allowed"/> options were given and that there are <paramref name="operands"/> as expected.</summary>
    public static string? CheckShape(CliArguments args, IReadOnlyList<string> operands, int expectedOperands, string usage, params string[] allowed) =>
        args.Disallowed(allowed) ??
        (operands.Count == expectedOperands ? null
            : operands.Count > expectedOperands ? $"Unexpected argument '{operands[expectedOperands]}'. Usage: {usage}"
            : $"Missing argument. Usage: {usage}");
}
