using Microsoft.Extensions.Options;
using OrleansCrates.Storage;

namespace OrleansCrates.Server.Cli;

/// <summary>
/// The operator's command line: the server binary run with a command word instead of serving, against the storage
/// the server is configured with (no web server starts). Stdout carries only the command's output, so
/// <c>TOKEN=$(OrleansCrates.Server token create --user ci)</c> works; notes, warnings and logs go to stderr.
/// Exit codes: 0 done, 1 failed (unknown id, storage or configuration error), 2 usage (including <c>help</c>),
/// 130 interrupted.
/// </summary>
public static class Cli
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Interrupted = 130;

    private static readonly HashSet<string> CommandWords = new(StringComparer.Ordinal) { "token", "downloads", "approvals", "private", "verify", "verify-lock", "prefetch", "help", "--help", "-h" };

    private const string UsageText = """
        Usage: OrleansCrates.Server <command> [options] [--Section:Key=Value ...]

        Commands:
          token create --user LOGIN [--scope read|publish|admin] [--crates PATTERN]...
              Create a token and print it, and nothing else, on stdout. It cannot be shown again.
              Scope defaults to publish. --crates may be repeated or comma-separated (acme-*,tools);
              '*' matches anything, '-' and '_' are the same; without --crates the token covers every crate.
              The patterns limit every scope: an admin token with --crates administers only those crates.
          token list [--json]
              List tokens: id, user, scope, crates, created, revoked. Never their secrets.
          token revoke ID
              Revoke the token with this id (from 'token list'). Every node refuses it within 5 s.
          downloads list [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--user LOGIN] [--crate NAME] [--json]
              Download records for UTC days --from to --to inclusive (default: the 7 days up to today; at most
              366 days at a time, as the admin API).
          verify [--against [URL]] [--concurrency N] [--json]
              Re-hash every stored crate file (mirror and private registry) against the stored index; report
              mismatches, missing and extra versions, and versions kept after upstream deleted them. --against
              also compares every stored crate's index lines and files with that sparse registry (no URL:
              https://index.crates.io/). Exit 1 when anything does not match.
          verify-lock PATH/Cargo.lock [--against URL] [--concurrency N] [--json]
              Check every checksum in a Cargo.lock against that registry's index (default crates.io; give the
              mirror's /index/ URL to check the mirror). Needs no storage. Exit 1 on any mismatch or missing version.
          prefetch PATH/Cargo.lock [--concurrency N]
              Fetch every crates.io package of a Cargo.lock (index file and crate file, checksums verified) into
              the mirror's storage from the configured upstream, N at a time (default 8), so the mirror can serve it
              offline. Prints failures and a summary; exit 1 if any failed.
          approvals list [--json]
              Crates waiting for approval (who asked first, when, which versions) and every decision.
          approvals approve NAME VERSIONREQ [--by LOGIN]
          approvals reject NAME VERSIONREQ [--by LOGIN]
              Decide on the versions of NAME that VERSIONREQ (cargo's syntax: '^1.2', '>=1, <2', '*') matches;
              every node serves the change from its next request on. --by defaults to the OS user.
          approvals audit [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json]
              Who decided what, for UTC days --from to --to inclusive (default: the 7 days up to today).
          private release NAME [--delete-versions]
              Give a private crate's name back: delete its claim (and, with --delete-versions, its published
              versions; refused without it when it has any), so the mirror serves the public crate of that name
              again. Every node sees it within Registry:Private:PrivateNameCacheTtl.
          help
              This text.

        Storage is configured as for the server: appsettings.json beside the binary, environment variables
        (Storage__Provider, Storage__FileSystem__Root, Storage__AzureBlob__ConnectionString, ...) and
        --Key=Value arguments. Exit codes: 0 done, 1 failed, 2 usage.
        """;

    /// <summary>
    /// True when the arguments name a CLI command (<c>token</c>, <c>downloads</c>, <c>help</c>) rather than server
    /// settings. Leading <c>--Key=Value</c> settings are skipped; anything else (<c>--urls ...</c>, no arguments)
    /// means "run the server".
    /// </summary>
    public static bool IsCommand(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Contains('=', StringComparison.Ordinal))
            {
                continue;
            }

            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Contains(':', StringComparison.Ordinal))
            {
                i++; // --Section:Key value
                continue;
            }

            return CommandWords.Contains(arg);
        }

        return false;
    }

    /// <summary>Runs a command and returns the process exit code. Ctrl+C cancels it.</summary>
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            cancel.Cancel();
        }

        Console.CancelKeyPress += OnCancel;
        try
        {
            return await RunAsync(args, Console.Out, Console.Error, cancel.Token);
        }
        finally
        {
            Console.CancelKeyPress -= OnCancel;
        }
    }

    internal static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var parsed = CliArguments.Parse(args);
        if (parsed.Error is not null)
        {
            return UsageError(stderr, parsed.Error);
        }

        var words = parsed.Words;
        if (parsed.Flags.Contains("help") || words.Count == 0 || words[0] == "help")
        {
            return UsageError(stderr, null);
        }

        // Every command line is checked before storage is touched, so bad usage never has side effects.
        if (MaintenanceCommands.TryParse(parsed, words) is { } maintenance)
        {
            return maintenance.Command is null
                ? UsageError(stderr, maintenance.Error ?? "Invalid command line.")
                : await MaintenanceCommands.RunAsync(maintenance.Command, parsed.Configuration, new CommandOutput(stdout, stderr), cancellationToken);
        }

        var operands = words.Skip(2).ToList();
        var (command, error) = (words[0], words.Count > 1 ? words[1] : null) switch
        {
            ("token", "create") => TokenCommands.ParseCreate(parsed, operands),
            ("token", "list") => TokenCommands.ParseList(parsed, operands),
            ("token", "revoke") => TokenCommands.ParseRevoke(parsed, operands),
            ("downloads", "list") => DownloadCommands.ParseList(parsed, operands),
            ("approvals", "list") => ApprovalCommands.ParseList(parsed, operands),
            ("approvals", "approve") => ApprovalCommands.ParseApprove(parsed, operands),
            ("approvals", "reject") => ApprovalCommands.ParseReject(parsed, operands),
            ("approvals", "audit") => ApprovalCommands.ParseAudit(parsed, operands),
            ("private", "release") => PrivateCommands.ParseRelease(parsed, operands),
            ("private", null) => (null, "'private' needs a subcommand: release."),
            ("approvals", null) => (null, "'approvals' needs a subcommand: list, approve, reject or audit."),
            ("token", null) => (null, "'token' needs a subcommand: create, list or revoke."),
            ("downloads", null) => (null, "'downloads' needs a subcommand: list."),
            _ => (null, $"Unknown command '{string.Join(' ', words.Take(2))}'."),
        };
        if (command is null)
        {
            return UsageError(stderr, error ?? "Invalid command line.");
        }

        CliStorage storage;
        try
        {
            storage = CliStorage.Create(BuildConfiguration(parsed.Configuration));
        }
        catch (Exception e) when (e is InvalidOperationException or OptionsValidationException or FormatException)
        {
            await stderr.WriteLineAsync($"Configuration error: {e.Message}");
            return Failed;
        }

        await using (storage)
        {
            try
            {
                await storage.EnsureReadyAsync(cancellationToken);
                return await command.RunAsync(new CommandOutput(stdout, stderr), storage.Store, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await stderr.WriteLineAsync("Interrupted.");
                return Interrupted;
            }
            catch (Exception e) when (e is StorageUnavailableException or IOException or UnauthorizedAccessException or HttpRequestException
                or Azure.RequestFailedException or Azure.Identity.AuthenticationFailedException)
            {
                await stderr.WriteLineAsync($"Storage error: {e.Message}");
                return Failed;
            }
        }
    }

    /// <summary>The server's configuration sources, in the server's order: JSON files beside the binary, environment, command line.</summary>
    internal static IConfiguration BuildConfiguration(IEnumerable<string> commandLineSettings)
    {
        var environment = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT")
            ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT")
            ?? "Production";
        return new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true, reloadOnChange: false)
            .AddJsonFile($"appsettings.{environment}.json", optional: true, reloadOnChange: false)
            .AddEnvironmentVariables()
            .AddCommandLine([.. commandLineSettings])
            .Build();
    }

    private static int UsageError(TextWriter stderr, string? error)
    {
        if (error is not null)
        {
            stderr.WriteLine($"error: {error}");
            stderr.WriteLine();
        }

        stderr.WriteLine(UsageText);
        return Usage;
    }
}

/// <summary>Where a command writes: its result on <see cref="Stdout"/>, everything else on <see cref="Stderr"/>.</summary>
internal sealed record CommandOutput(TextWriter Stdout, TextWriter Stderr);

/// <summary>A command whose command line was already checked; running it is the only part that touches storage.</summary>
internal interface ICliCommand
{
    Task<int> RunAsync(CommandOutput output, IObjectStore store, CancellationToken cancellationToken);
}
