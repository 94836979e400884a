using System.CommandLine;
using OrleansCrates.Accounts;
using OrleansCrates.Mirror;

namespace OrleansCrates.Cli;

/// <summary>The options several commands share, each defined once with its validation.</summary>
internal static class CliOptions
{
    public static Option<bool> Json() => new("--json") { Description = "One JSON object per line instead of text." };

    public static Option<int> Concurrency() => WithValidator(
        new Option<int>("--concurrency") { Description = $"How many at a time (1–{CratePrefetcher.MaxConcurrency}).", DefaultValueFactory = _ => CratePrefetcher.DefaultConcurrency },
        (int n) => n is >= 1 and <= CratePrefetcher.MaxConcurrency ? null : $"--concurrency must be a whole number from 1 to {CratePrefetcher.MaxConcurrency}, not '{n}'.");

    /// <summary><c>--from</c>/<c>--to</c>: UTC days, parsed by the admin API's own <see cref="DayRange"/>.</summary>
    public sealed class Days
    {
        public Option<string?> From { get; } = new("--from") { Description = "First UTC day, YYYY-MM-DD (default: 6 days before --to)." };

        public Option<string?> To { get; } = new("--to") { Description = "Last UTC day, YYYY-MM-DD (default: today)." };

        public void AddTo(Command command)
        {
            command.Options.Add(From);
            command.Options.Add(To);
            command.Validators.Add(result =>
            {
                if (!TryParse(result.GetValue(From), result.GetValue(To), out _, out var error))
                {
                    result.AddError(error);
                }
            });
        }

        public DayRange Get(ParseResult parse) =>
            TryParse(parse.GetValue(From), parse.GetValue(To), out var range, out var error) ? range : throw new InvalidOperationException(error);

        private static bool TryParse(string? from, string? to, out DayRange range, out string error)
        {
            var today = DateOnly.FromDateTime(TimeProvider.System.GetUtcNow().UtcDateTime);
            var ok = DayRange.TryParse(from, to, today, out range, out error, "--from", "--to");
            error = ok ? "" : char.ToUpperInvariant(error[0]) + error[1..] + ".";
            return ok;
        }
    }

    /// <summary><c>--server URL</c> and <c>--token</c> (or <c>ORLEANSCRATES_TOKEN</c>): go through a running cluster instead of its storage.</summary>
    public sealed class Server
    {
        public const string TokenVariable = "ORLEANSCRATES_TOKEN";

        public Option<string?> Url { get; } = WithValidator(
            new Option<string?>("--server") { Description = "A running node's base URL (http or https): act through the cluster and its single-flight, not on storage directly." },
            (string? url) => url is null || ParseUrl(url) is not null ? null : $"--server needs an absolute http or https URL, not '{url}'.");

        public Option<string?> Token { get; } = new("--token") { Description = $"An admin-scope token for --server (default: the {TokenVariable} environment variable)." };

        public void AddTo(Command command)
        {
            command.Options.Add(Url);
            command.Options.Add(Token);
            command.Validators.Add(result =>
            {
                var token = result.GetValue(Token) ?? Environment.GetEnvironmentVariable(TokenVariable);
                if (result.GetValue(Url) is not null && string.IsNullOrWhiteSpace(token))
                {
                    result.AddError($"--server needs an admin token: --token TOKEN or the {TokenVariable} environment variable.");
                }
                else if (result.GetValue(Url) is null && result.GetValue(Token) is not null)
                {
                    result.AddError("--token applies only with --server.");
                }
            });
        }

        /// <summary>A client for the node, or null when the command is to work on storage.</summary>
        public AdminClient? ClientOrNull(ParseResult parse) =>
            ParseUrl(parse.GetValue(Url)) is { } url ? AdminClient.Create(url, parse.GetValue(Token) ?? Environment.GetEnvironmentVariable(TokenVariable)!) : null;
    }

    private static Uri? ParseUrl(string? text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" ? url : null;

    public static Option<T> WithValidator<T>(Option<T> option, Func<T, string?> check)
    {
        option.Validators.Add(result =>
        {
            T value;
            try
            {
                value = result.GetValueOrDefault<T>();
            }
            catch (InvalidOperationException)
            {
                return; // not convertible: the parser reports that itself
            }

            if (result.Tokens.Count > 0 && check(value) is { } error)
            {
                result.AddError(error);
            }
        });
        return option;
    }

    public static Argument<string> WithValidator(Argument<string> argument, Func<string, string?> check)
    {
        argument.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && check(result.Tokens[0].Value) is { } error)
            {
                result.AddError(error);
            }
        });
        return argument;
    }
}
