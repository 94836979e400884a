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

    private static readonly HashSet<string> FlagOptions = new(StringComparer.Ordinal) { "json", "help", "delete-versions" };

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
    /// The inclusive day range given by <c>--from</c> and <c>--to</c>, parsed exactly as the admin API parses its
    /// <c>from</c>/<c>to</c> (<see cref="Hosting.DayRange"/>): by default the last 7 days up to <c>--to</c> (or today),
    /// at most <see cref="Hosting.DayRange.MaxDays"/> days.
    /// </summary>
    public (Hosting.DayRange? Range, string? Error) DayRange()
    {
        var (fromText, fromError) = Single("from");
        var (toText, toError) = Single("to");
        if ((fromError ?? toError) is { } error)
        {
            return (null, error);
        }

        var today = DateOnly.FromDateTime(TimeProvider.System.GetUtcNow().UtcDateTime);
        return Hosting.DayRange.TryParse(fromText, toText, today, out var range, out var problem, "--from", "--to")
            ? (range, null)
            : (null, char.ToUpperInvariant(problem[0]) + problem[1..] + ".");
    }

}
