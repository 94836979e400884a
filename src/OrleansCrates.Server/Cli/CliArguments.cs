namespace OrleansCrates.Server.Cli;

/// <summary>
/// A command line split into command words, the command's options and configuration settings. Options take a value
/// as <c>--name value</c> or <c>--name=value</c>; flags take none. Any other <c>--Key=Value</c> (and
/// <c>--Section:Key value</c>) is a configuration setting, as it is for the server.
/// </summary>
internal sealed class CliArguments
{
    private static readonly HashSet<string> ValueOptions = new(StringComparer.Ordinal) { "user", "scope", "crates", "from", "to", "crate", "by", "against", "concurrency" };

    /// <summary>Options whose value may be left out (last argument, or followed by another option): the value is then "".</summary>
    private static readonly HashSet<string> OptionalValueOptions = new(StringComparer.Ordinal) { "against" };

    private static readonly HashSet<string> FlagOptions = new(StringComparer.Ordinal) { "json", "help" };

    private CliArguments()
    {
    }

    public List<string> Words { get; } = [];

    public Dictionary<string, List<string>> Options { get; } = new(StringComparer.Ordinal);

    public HashSet<string> Flags { get; } = new(StringComparer.Ordinal);

    /// <summary>Configuration settings, as <c>--Key=Value</c> arguments for the command-line configuration provider.</summary>
    public List<string> Configuration { get; } = [];

    /// <summary>Why the command line cannot be understood; null when it can.</summary>
    public string? Error { get; private set; }

    public static CliArguments Parse(IReadOnlyList<string> args)
    {
        var parsed = new CliArguments();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h")
            {
                parsed.Flags.Add("help");
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                parsed.Words.Add(arg);
                continue;
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? arg[2..] : arg[2..equals];
            var value = equals < 0 ? null : arg[(equals + 1)..];
            if (ValueOptions.Contains(name))
            {
                if (value is null && OptionalValueOptions.Contains(name) && (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal)))
                {
                    value = "";
                }

                if (value is null)
                {
                    if (i + 1 >= args.Count)
                    {
                        return parsed.Fail($"--{name} needs a value.");
                    }

                    value = args[++i];
                }

                if (!parsed.Options.TryGetValue(name, out var values))
                {
                    parsed.Options[name] = values = [];
                }

                values.Add(value);
            }
            else if (FlagOptions.Contains(name))
            {
                if (value is not null)
                {
                    return parsed.Fail($"--{name} takes no value.");
                }

                parsed.Flags.Add(name);
            }
            else if (value is not null)
            {
                parsed.Configuration.Add(arg);
            }
            else if (name.Contains(':', StringComparison.Ordinal) && i + 1 < args.Count)
            {
                parsed.Configuration.Add($"--{name}={args[++i]}");
            }
            else
            {
                return parsed.Fail($"Unknown option {arg}.");
            }
        }

        return parsed;
    }

    /// <summary>The value of an option given at most once: null when absent, an error when given twice.</summary>
    public (string? Value, string? Error) Single(string name) =>
        !Options.TryGetValue(name, out var values) ? (null, null)
        : values.Count > 1 ? (null, $"--{name} may be given only once.")
        : (values[0], null);

    /// <summary>An error naming the first option or flag given that is not one of <paramref name="allowed"/>; null when all are.</summary>
    public string? Disallowed(params string[] allowed)
    {
        foreach (var name in Options.Keys.Concat(Flags))
        {
            if (!allowed.Contains(name, StringComparer.Ordinal))
            {
                return $"--{name} does not apply to this command.";
            }
        }

        return null;
    }

    private CliArguments Fail(string error)
    {
        Error = error;
        return this;
    }

    /// <summary>
    /// The inclusive day range given by <c>--from</c> and <c>--to</c> (YYYY-MM-DD, UTC): by default the last 7 days up
    /// to <c>--to</c> (or today), at most <paramref name="maxDays"/> days.
    /// </summary>
    public ((DateOnly First, DateOnly Last)? Range, string? Error) DayRange(int maxDays)
    {
        var (fromText, fromError) = Single("from");
        var (toText, toError) = Single("to");
        if ((fromError ?? toError) is { } error)
        {
            return (null, error);
        }

        DateOnly? from = null, to = null;
        if (fromText is not null && (from = ParseDay(fromText)) is null)
        {
            return (null, $"--from must be a date YYYY-MM-DD, not '{fromText}'.");
        }

        if (toText is not null && (to = ParseDay(toText)) is null)
        {
            return (null, $"--to must be a date YYYY-MM-DD, not '{toText}'.");
        }

        var last = to ?? DateOnly.FromDateTime(TimeProvider.System.GetUtcNow().UtcDateTime);
        var first = from ?? last.AddDays(-6);
        return first > last ? (null, "--from must not be after --to.")
            : last.DayNumber - first.DayNumber >= maxDays ? (null, $"At most {maxDays} days at a time.")
            : ((first, last), null);
    }

    private static DateOnly? ParseDay(string text) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var day) ? day : null;
}
