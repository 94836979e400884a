namespace OrleansCrates.Core.Telemetry;

/// <summary>The <c>Telemetry</c> section. Prometheus text is always served at <c>/metrics</c>; OTLP export is optional.</summary>
public sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";

    public OtlpOptions Otlp { get; set; } = new();
}

/// <summary><c>Telemetry:Otlp</c>: push metrics to an OpenTelemetry collector over OTLP/HTTP (JSON encoding).</summary>
public sealed class OtlpOptions
{
    /// <summary>The collector's base URL, e.g. <c>http://collector:4318</c>; metrics go to <c>{Endpoint}/v1/metrics</c>. Empty: no export.</summary>
    public string? Endpoint { get; set; }

    /// <summary>How often the cumulative metrics are pushed.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Extra request headers (an API key, say): <c>Telemetry:Otlp:Headers:NAME=value</c>.</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The <c>service.name</c> resource attribute.</summary>
    public string ServiceName { get; set; } = "orleanscrates";

    /// <summary>Where the POST goes, or null when export is off.</summary>
    public Uri? MetricsUrl()
    {
        if (string.IsNullOrWhiteSpace(Endpoint) || !Uri.TryCreate(Endpoint, UriKind.Absolute, out var endpoint))
        {
            return null;
        }

        var text = endpoint.ToString().TrimEnd('/');
        return new Uri(text.EndsWith("/v1/metrics", StringComparison.Ordinal) ? text : text + "/v1/metrics");
    }

    public static bool IsValid(OtlpOptions o) =>
        (string.IsNullOrWhiteSpace(o.Endpoint) ||
         (Uri.TryCreate(o.Endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")) &&
        o.Interval >= TimeSpan.FromSeconds(1) && !string.IsNullOrWhiteSpace(o.ServiceName);
}
