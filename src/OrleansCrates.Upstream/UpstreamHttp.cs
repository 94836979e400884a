using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.Timeout;

namespace OrleansCrates.Upstream;

/// <summary>
/// The HTTP clients of one upstream, from <see cref="IHttpClientFactory"/> (pooled, rotated handlers): one for index
/// files (decompressed; redirects followed only within the index's origin) and one for downloads (raw bytes; redirects
/// anywhere: crates.io sends them to its CDN). Each sends through a resilience pipeline
/// (Microsoft.Extensions.Http.Resilience): <see cref="UpstreamOptions.Timeout"/> per attempt (connect and response
/// headers), and retries with jittered backoff for network errors and 5xx other than 503 — only as many as the request
/// allows (<see cref="AttemptBudget"/>: with several upstreams each is asked once and the next one is asked instead),
/// never after a timeout, and never for 429/503, whose <c>Retry-After</c> holds the upstream back instead (its circuit
/// breaker, <see cref="UpstreamCircuit"/>), so no client waits it out. Failover between upstreams is not a retry here:
/// <see cref="UpstreamFailover"/> asks the next upstream.
/// </summary>
public static class UpstreamHttp
{
    private const int MaxRedirects = 5;

    /// <summary>The attempts one request may make (set by <see cref="UpstreamRegistry"/> from the caller's budget).</summary>
    internal static readonly HttpRequestOptionsKey<int> Attempts = new("OrleansCrates.UpstreamAttempts");

    /// <summary>The client names of the crate mirror's upstream registries.</summary>
    public const string CratesPrefix = "upstream";

    /// <summary>The client names of the toolchain mirror's dist servers.</summary>
    public const string DistPrefix = "dist";

    public static string IndexClientName(string prefix, UpstreamOptions upstream) => $"{prefix}-index:{upstream.ResolveName()}";

    public static string DownloadClientName(string prefix, UpstreamOptions upstream) => $"{prefix}-download:{upstream.ResolveName()}";

    /// <summary>
    /// Registers the two named clients of each upstream under <paramref name="prefix"/> (done once per process: the
    /// crate registries by the mirror's core, the dist servers by the toolchain mirror).
    /// </summary>
    public static IServiceCollection AddUpstreamHttpClients(
        this IServiceCollection services, IEnumerable<UpstreamOptions> upstreams, UpstreamPolicy policy, string prefix = CratesPrefix)
    {
        foreach (var upstream in upstreams)
        {
            AddClient(services, IndexClientName(prefix, upstream), upstream, policy, DecompressionMethods.All, sameOriginRedirectsOnly: true);
            AddClient(services, DownloadClientName(prefix, upstream), upstream, policy, DecompressionMethods.None, sameOriginRedirectsOnly: false);
        }

        return services;
    }

    /// <summary>The clients of one upstream in a container of their own, for code that runs without the host's (the CLI's verify, tests).</summary>
    internal static ServiceProvider CreateServices(UpstreamOptions upstream, UpstreamPolicy policy, string prefix)
    {
        // No TimeProvider registered: the retry pauses and per-attempt timeouts run in real time (TimeProvider.System),
        // never on a clock a test moves by hand, which would leave a retry waiting forever.
        var services = new ServiceCollection();
        services.AddUpstreamHttpClients([upstream], policy, prefix);
        return services.BuildServiceProvider();
    }

    private static void AddClient(IServiceCollection services, string name, UpstreamOptions upstream, UpstreamPolicy policy, DecompressionMethods decompression, bool sameOriginRedirectsOnly)
    {
        var userAgent = UpstreamRegistry.UserAgentFor(policy.Contact);
        var client = services.AddHttpClient(name, http =>
            {
                http.Timeout = Timeout.InfiniteTimeSpan; // per attempt, below; a download's body has its own limits (TransferLimits)
                http.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", userAgent);
                http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("*/*"));
            })
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AutomaticDecompression = decompression,
                ConnectTimeout = upstream.Timeout,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                MaxConnectionsPerServer = Math.Max(1, policy.MaxConcurrency),
                AllowAutoRedirect = !sameOriginRedirectsOnly,
                MaxAutomaticRedirections = MaxRedirects,
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan) // the primary handler pools and recycles its own connections
            .RemoveAllLoggers(); // outcomes are logged (once, without stack traces) where they are judged
        client.AddResilienceHandler(name, pipeline =>
        {
            pipeline.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = Math.Max(1, policy.MaxAttempts),
                BackoffType = DelayBackoffType.Exponential,
                Delay = TimeSpan.FromMilliseconds(100),
                UseJitter = true,
                ShouldRetryAfterHeader = false, // a Retry-After holds the upstream; it is never waited out here
                ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome, args.AttemptNumber, args.Context.GetRequestMessage())),
            });
            pipeline.AddTimeout(upstream.Timeout);
        });
        if (sameOriginRedirectsOnly)
        {
            // Inside the resilience handler: an attempt and its same-origin redirects share one timeout.
            client.AddHttpMessageHandler(() => new SameOriginRedirectHandler(MaxRedirects));
        }
    }

    /// <summary>Network errors and 5xx (not 503) are retried while the request's budget lasts; timeouts, 429 and 503 never.</summary>
    private static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, int attemptNumber, HttpRequestMessage? request)
    {
        var allowed = request is not null && request.Options.TryGetValue(Attempts, out var attempts) ? attempts : 1;
        if (attemptNumber + 1 >= allowed)
        {
            return false;
        }

        return outcome switch
        {
            { Exception: TimeoutRejectedException } => false,
            { Exception: HttpRequestException or IOException } => true,
            { Result: { } response } => (int)response.StatusCode >= 500 && response.StatusCode != HttpStatusCode.ServiceUnavailable,
            _ => false,
        };
    }
}
