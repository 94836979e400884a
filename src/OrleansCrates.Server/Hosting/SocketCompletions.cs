using System.Reflection;

namespace OrleansCrates.Server.Hosting;

/// <summary>
/// <c>Server:InlineCompletions</c> (default true): the runtime's socket event threads run the code a socket read or
/// write completes instead of handing it to the thread pool (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>, one
/// event thread per core). With Kestrel's inline scheduling a warm hit then runs start to end on the thread its bytes
/// arrived on, with no thread handoff and no wake-up: the largest single cost of a warm index hit on this server (see the
/// README's benchmark section). <see cref="Http.ThreadPoolDispatch"/> keeps everything but the registry reads off those
/// threads. The runtime reads the variable once, when the process first touches its socket engine (building the host
/// already does), so <see cref="Apply"/> runs before the host is built; an operator's own value of the variable wins over the setting.
/// </summary>
public static partial class SocketCompletions
{
    public const string InlineCompletionsKey = "Server:InlineCompletions";

    /// <summary>The runtime's switch (System.Net.Sockets on Unix; Windows completes through its I/O ports either way).</summary>
    public const string RuntimeVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>What <see cref="Apply"/> found and did.</summary>
    public enum Mode
    {
        /// <summary>Turned on here from the setting.</summary>
        Inline,

        /// <summary>The setting is false: the runtime's default (completions on the thread pool).</summary>
        ThreadPool,

        /// <summary>The operator set the runtime's variable: left as it is (inline when it is "1").</summary>
        OperatorVariable,
    }

    /// <summary>Sets the runtime's variable from the setting unless the environment already has it.</summary>
    public static Mode Apply(IConfiguration configuration, Func<string, string?> getVariable, Action<string, string> setVariable)
    {
        if (getVariable(RuntimeVariable) is not null)
        {
            return Mode.OperatorVariable;
        }

        if (!configuration.GetValue(InlineCompletionsKey, defaultValue: true))
        {
            return Mode.ThreadPool;
        }

        setVariable(RuntimeVariable, "1");
        return Mode.Inline;
    }

    /// <summary>
    /// <see cref="Apply"/> on this process's environment, when this process is the server itself: a host that a test
    /// process runs in-process (its entry assembly is the test runner) leaves that process's sockets alone. Call it before
    /// the host is built (building it already touches the runtime's socket engine); <see cref="Log"/> says the outcome.
    /// </summary>
    public static Mode? Apply(WebApplicationBuilder builder) =>
        Assembly.GetEntryAssembly() == typeof(SocketCompletions).Assembly
            ? Apply(builder.Configuration, Environment.GetEnvironmentVariable, Environment.SetEnvironmentVariable)
            : null;

    /// <summary>One line in the log saying where this node's socket completions run.</summary>
    public static void Log(WebApplication app, Mode? mode)
    {
        if (mode is not { } applied)
        {
            return;
        }

        var inline = applied == Mode.Inline || (applied == Mode.OperatorVariable && Environment.GetEnvironmentVariable(RuntimeVariable) == "1");
        LogMode(app.Logger, inline ? "inline on the socket event threads" : "on the thread pool", applied == Mode.OperatorVariable ? RuntimeVariable : InlineCompletionsKey);
    }

    [LoggerMessage(EventId = LogEvents.SocketCompletionsMode, Level = LogLevel.Information, Message = "Socket completions: {Where} ({Source})")]
    private static partial void LogMode(ILogger logger, string where, string source);
}
