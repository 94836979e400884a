using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using OrleansCrates.Server.Hosting;

namespace OrleansCrates.Server.Tests;

/// <summary>How <see cref="SocketCompletions"/> turns <c>Server:InlineCompletions</c> into the runtime's switch.</summary>
public sealed class SocketCompletionsTests
{
    [Theory]
    [InlineData(null, SocketCompletions.Mode.Inline, "1")]
    [InlineData("true", SocketCompletions.Mode.Inline, "1")]
    [InlineData("false", SocketCompletions.Mode.ThreadPool, null)]
    public void The_setting_sets_the_runtime_switch_unless_turned_off(string? setting, SocketCompletions.Mode expected, string? variable)
    {
        var environment = new Dictionary<string, string>();

        var mode = SocketCompletions.Apply(Configuration(setting), name => environment.GetValueOrDefault(name), (name, value) => environment[name] = value);

        Assert.Equal((expected, variable), (mode, environment.GetValueOrDefault(SocketCompletions.RuntimeVariable)));
    }

    [Theory]
    [InlineData("0", null)]
    [InlineData("0", "true")]
    [InlineData("1", "false")]
    public void An_operators_own_runtime_variable_wins_over_the_setting(string operatorValue, string? setting)
    {
        var environment = new Dictionary<string, string> { [SocketCompletions.RuntimeVariable] = operatorValue };

        var mode = SocketCompletions.Apply(Configuration(setting), name => environment.GetValueOrDefault(name), (name, value) => environment[name] = value);

        Assert.Equal((SocketCompletions.Mode.OperatorVariable, operatorValue), (mode, environment[SocketCompletions.RuntimeVariable]));
    }

    [Fact]
    public void A_host_built_inside_another_process_leaves_that_processes_sockets_alone()
    {
        var before = Environment.GetEnvironmentVariable(SocketCompletions.RuntimeVariable);

        var mode = SocketCompletions.Apply(WebApplication.CreateSlimBuilder());

        Assert.Equal((null, before), (mode, Environment.GetEnvironmentVariable(SocketCompletions.RuntimeVariable)));
    }

    private static IConfiguration Configuration(string? setting) => new ConfigurationBuilder()
        .AddInMemoryCollection(setting is null ? [] : new Dictionary<string, string?> { [SocketCompletions.InlineCompletionsKey] = setting })
        .Build();
}
