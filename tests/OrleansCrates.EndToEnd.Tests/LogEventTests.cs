using System.Reflection;
using Microsoft.Extensions.Logging;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>Every <c>[LoggerMessage]</c> in the program takes its id from the one table, <c>src/Shared/LogEvents.cs</c>, and no id is used twice.</summary>
public sealed class LogEventTests
{
    private static readonly string[] ProgramAssemblies =
    [
        "OrleansCrates.Accounts", "OrleansCrates.Cli", "OrleansCrates.Grains", "OrleansCrates.Mirror", "OrleansCrates.Operations", "OrleansCrates.Registry",
        "OrleansCrates.Server", "OrleansCrates.Sockets", "OrleansCrates.Storage", "OrleansCrates.Storage.AzureBlob", "OrleansCrates.Toolchains", "OrleansCrates.Upstream",
    ];

    [Fact]
    public void Every_log_event_id_is_unique_across_the_program_and_listed_in_the_table()
    {
        var assemblies = ProgramAssemblies.Select(name => Assembly.Load(name)).ToList();
        var table = assemblies
            .Select(a => a.GetType("OrleansCrates.LogEvents", throwOnError: false))
            .OfType<Type>()
            .First()
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .ToDictionary(f => (int)f.GetRawConstantValue()!, f => f.Name);
        var events = assemblies
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: $"{m.DeclaringType!.FullName}.{m.Name}", Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(e => e.Attribute is not null)
            .ToList();

        Assert.True(events.Count >= 50, $"found only {events.Count} log events: is the attribute kept in metadata?");
        var reused = events.GroupBy(e => e.Attribute!.EventId).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(e => e.Method))}").ToList();
        Assert.True(reused.Count == 0, "event ids used twice: " + string.Join("; ", reused));
        var unlisted = events.Where(e => !table.ContainsKey(e.Attribute!.EventId)).Select(e => $"{e.Method} ({e.Attribute!.EventId})").ToList();
        Assert.True(unlisted.Count == 0, "event ids not in LogEvents: " + string.Join(", ", unlisted));
        Assert.Equal(table.Count, events.Count); // and no id in the table is left without its event
    }
}
