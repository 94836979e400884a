using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Registry.Tests;

public sealed class ServiceRegistrationTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings, string root)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IObjectStore>(new FileSystemObjectStore(root));
        services.AddSingleton<IUserDirectory>(new FakeUserDirectory("alice"));
        services.AddPrivateRegistry(configuration);
        return services.BuildServiceProvider();
    }

    [Fact]
    public void Options_bind_from_Registry_Private_and_the_registry_resolves()
    {
        using var h = new RegistryHarness();
        using var provider = Build(new()
        {
            ["Registry:Private:ReadRequiresToken"] = "true",
            ["Registry:Private:MaxCrateBytes"] = "2048",
            ["Registry:Private:ShadowPolicy"] = "Off",
        }, h.Root);

        var registry = provider.GetRequiredService<PrivateRegistry>();

        Assert.Same(registry, provider.GetRequiredService<PrivateRegistry>());
        Assert.True(registry.Options.ReadRequiresToken);
        Assert.Equal(2048, registry.Options.MaxCrateBytes);
        Assert.Equal(1024 * 1024, registry.Options.MaxMetadataBytes);
        Assert.Equal(ShadowPolicy.Off, registry.Options.ShadowPolicy);
    }

    [Theory]
    [InlineData("Registry:Private:MaxCrateBytes", "0", "MaxCrateBytes must be between 1 and 4294967295")]
    [InlineData("Registry:Private:MaxCrateBytes", "5000000000", "MaxCrateBytes must be between 1 and 4294967295")]
    [InlineData("Registry:Private:MaxMetadataBytes", "-1", "MaxMetadataBytes must be between 1 and")]
    [InlineData("Registry:Private:PrivateNameCacheTtl", "01:00:00", "PrivateNameCacheTtl must be between")]
    public void Invalid_options_are_refused_with_the_rule(string key, string value, string message)
    {
        using var h = new RegistryHarness();
        using var provider = Build(new() { [key] = value }, h.Root);

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<PrivateRegistryOptions>>().Value);

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
