using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansCrates.Server.Hosting;

namespace OrleansCrates.Server.Tests;

/// <summary>Kestrel's settings as <see cref="ServiceRegistration.AddFrontEnd"/> makes them, read back from the built host.</summary>
public sealed class FrontEndTests
{
    [Theory]
    [InlineData(null, true)]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public async Task Inline_scheduling_is_on_unless_turned_off(string? setting, bool expected)
    {
        await using var app = Build(setting);

        var sockets = app.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;

        Assert.Equal(expected, sockets.UnsafePreferInlineScheduling);
    }

    [Fact]
    public async Task Responses_carry_no_server_header_and_a_crate_file_fits_the_response_buffer()
    {
        await using var app = Build(setting: null);

        var kestrel = app.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value;

        Assert.Equal((false, 1024L * 1024), (kestrel.AddServerHeader, kestrel.Limits.MaxResponseBufferSize));
    }

    private static WebApplication Build(string? setting)
    {
        var builder = WebApplication.CreateSlimBuilder();
        if (setting is not null)
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [ServiceRegistration.InlineSchedulingKey] = setting });
        }

        return builder.AddFrontEnd().Build();
    }
}
