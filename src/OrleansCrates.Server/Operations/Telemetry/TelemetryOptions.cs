namespace OrleansCrates.Server.Operations.Telemetry;

/// <summary>The <c>Telemetry</c> section. Prometheus text is always served at <c>/metrics</c>; OTLP export is optional.</summary>
public sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";

    public OtlpOptions Otlp { get; set; } = new();
}

/// <summary><c>Telemetry:Otlp</c>: send metrics and traces to an OpenTelemetry collector (the SDK's OTLP exporter).</summary>
public sealed class OtlpOptions
{
    public const string HttpProtobuf = "http/protobuf";
    public const string Grpc = "grpc";

    /// <summary>
    /// The collector's base URL, e.g. <c>http://collector:4318</c> (http/protobuf: metrics go to <c>{Endpoint}/v1/metrics</c>,
    /// traces to <c>{Endpoint}/v1/traces</c>) or <c>http://collector:4317</c> (gRPC). Empty: no export, and no tracing.
    /// </summary>
    public string? Endpoint { get; set; }

    /// <summary><c>http/protobuf</c> (default) or <c>grpc</c>.</summary>
    public string Protocol { get; set; } = HttpProtobuf;

    /// <summary>How often the cumulative metrics are exported.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Extra request headers (an API key, say): <c>Telemetry:Otlp:Headers:NAME=value</c>.</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The <c>service.name</c> resource attribute.</summary>
    public string ServiceName { get; set; } = "orleanscrates";

    /// <summary>True when an endpoint is set.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Endpoint);

    /// <summary>
    /// Where one signal (<c>metrics</c>, <c>traces</c>) goes: with http/protobuf the base URL plus <c>/v1/{signal}</c>
    /// (a base given with a signal path already, say <c>…/v1/metrics</c>, is reduced to the base first); with gRPC the
    /// endpoint as it is. Null when export is off or the endpoint is not a URL.
    /// </summary>
    public Uri? SignalUrl(string signal)
    {
        if (!Enabled || !Uri.TryCreate(Endpoint, UriKind.Absolute, out var endpoint))
        {
            return null;
        }

        if (Protocol == Grpc)
        {
            return endpoint;
        }

        var text = endpoint.ToString().TrimEnd('/');
        foreach (var known in new[] { "/v1/metrics", "/v1/traces" })
        {
            if (text.EndsWith(known, StringComparison.Ordinal))
            {
                text = text[..^known.Length];
            }
        }

        return new Uri($"{text}/v1/{signal}");
    }

    /// <summary>The <see cref="Headers"/> in the exporter's <c>name=value,name=value</c> form.</summary>
    public string? HeaderList() =>
        Headers.Count == 0 ? null : string.Join(',', Headers.Select(h => $"{h.Key}={h.Value}"));

    public static bool IsValid(OtlpOptions o) =>
        (!o.Enabled || (Uri.TryCreate(o.Endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")) &&
        o.Protocol is HttpProtobuf or Grpc &&
        o.Interval >= TimeSpan.FromSeconds(1) && !string.IsNullOrWhiteSpace(o.ServiceName);
}
