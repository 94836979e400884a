using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansCrates.Upstream;

namespace OrleansCrates.Core.Mirror;

/// <summary>The configured upstream registries, in order of preference. Nothing here talks to them at start-up.</summary>
public sealed class UpstreamSet : IDisposable
{
    public UpstreamSet(IOptions<MirrorOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        var mirror = options.Value;
        var policy = new UpstreamPolicy
        {
            Contact = mirror.UserAgentContact,
            MaxConcurrency = mirror.MaxUpstreamConcurrency,
            MaxAttempts = mirror.UpstreamMaxAttempts,
        };
        var configured = mirror.Upstreams.Count > 0 ? mirror.Upstreams : [new UpstreamOptions()];
        All = [.. configured.Select(u => new UpstreamRegistry(u, policy, time, loggers.CreateLogger<UpstreamRegistry>()))];
    }

    public IReadOnlyList<UpstreamRegistry> All { get; }

    public UpstreamRegistry Primary => All[0];

    public void Dispose()
    {
        foreach (var upstream in All)
        {
            upstream.Dispose();
        }
    }
}
