using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using OrleansCrates.Operations.Telemetry;

namespace OrleansCrates.Server.Operations.Telemetry;

/// <summary>
/// Metrics and traces through the OpenTelemetry SDK. Metrics: the project's meter (<see cref="OrleansCratesMetrics"/>),
/// Orleans' (<c>Microsoft.Orleans</c>), ASP.NET Core's (<c>http.server.request.duration</c>, Kestrel), HttpClient's
/// (the upstream and webhook calls) and the runtime's (GC, thread pool), served as Prometheus text at <c>/metrics</c>
/// and, with <c>Telemetry:Otlp:Endpoint</c>, exported over OTLP every <c>Telemetry:Otlp:Interval</c>. Traces only
/// with an endpoint (nothing is recorded otherwise, so requests pay nothing for them): the project's spans
/// (<see cref="OrleansCratesTracing"/>), Orleans' grain calls, ASP.NET Core's requests and HttpClient's calls.
/// </summary>
public static class TelemetryHosting
{
    public const string MetricsRoute = "/metrics";

    /// <summary>Orleans' meter: activations, messaging, membership, directory.</summary>
    public const string OrleansMeter = "Microsoft.Orleans";

    /// <summary>Orleans' spans of grain calls (with the silo's activity propagation on, they carry the caller's trace).</summary>
    public static readonly string[] OrleansActivitySources = ["Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application"];

    public static WebApplicationBuilder AddTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TelemetryOptions>()
            .BindConfiguration(TelemetryOptions.SectionName)
            .Validate(o => OtlpOptions.IsValid(o.Otlp), "Telemetry:Otlp:Endpoint, if set, must be an absolute http(s) URL; Telemetry:Otlp:Protocol http/protobuf or grpc; Telemetry:Otlp:Interval at least 00:00:01.")
            .ValidateOnStart();
        var otlp = builder.Configuration.GetSection($"{TelemetryOptions.SectionName}:{nameof(TelemetryOptions.Otlp)}").Get<OtlpOptions>() ?? new OtlpOptions();
        var exporting = otlp.Enabled && OtlpOptions.IsValid(otlp); // an invalid section fails start through the validation above

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(
                otlp.ServiceName,
                serviceVersion: typeof(TelemetryHosting).Assembly.GetName().Version?.ToString(3),
                serviceInstanceId: $"{Environment.MachineName}:{Environment.ProcessId}"))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(OrleansCratesMetrics.MeterName, OrleansMeter)
                    .AddAspNetCoreInstrumentation()
                    // Two of ASP.NET Core's instruments are recorded on every request and say nothing the duration
                    // histogram does not (requests in flight; route match attempts): dropped, so the listener never
                    // enables them and a warm request does not pay for them (2-3 % of a warm index request's cycles).
                    .AddView("http.server.active_requests", MetricStreamConfiguration.Drop)
                    .AddView("aspnetcore.routing.match_attempts", MetricStreamConfiguration.Drop)
                    // Kestrel's memory pool counts every 4 KB block it rents and returns: 50 tagged updates per 200 KB
                    // download, 4-5 us of each warm download on one core. Dropped; the pool's allocations and evictions
                    // (rare: the pool growing and shrinking) stay.
                    .AddView("aspnetcore.memory_pool.rented", MetricStreamConfiguration.Drop)
                    .AddView("aspnetcore.memory_pool.pooled", MetricStreamConfiguration.Drop)
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    // Each scrape collects afresh: a scrape right after a request sees it.
                    .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0);
                if (exporting)
                {
                    metrics.AddOtlpExporter((exporter, reader) =>
                    {
                        Configure(exporter, otlp, "metrics");
                        reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)Math.Min(int.MaxValue, otlp.Interval.TotalMilliseconds);
                    });
                }
            });
        if (exporting)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(OrleansCratesTracing.SourceName)
                .AddSource(OrleansActivitySources)
                .AddAspNetCoreInstrumentation(aspnet => aspnet.Filter = context => !IsScrapeOrProbe(context.Request.Path))
                .AddHttpClientInstrumentation()
                .AddOtlpExporter(exporter => Configure(exporter, otlp, "traces")));
        }

        return builder;
    }

    /// <summary>Serves <c>/metrics</c> (GET, Prometheus text format 0.0.4 unless the scraper asks for OpenMetrics).</summary>
    public static WebApplication MapMetrics(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint(MetricsRoute);
        return app;
    }

    private static void Configure(OtlpExporterOptions exporter, OtlpOptions otlp, string signal)
    {
        exporter.Protocol = otlp.Protocol == OtlpOptions.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
        exporter.Endpoint = otlp.SignalUrl(signal)!;
        if (otlp.HeaderList() is { } headers)
        {
            exporter.Headers = headers;
        }
    }

    /// <summary>Scrapes and health probes come every few seconds and say nothing about the mirror's work: not traced.</summary>
    private static bool IsScrapeOrProbe(PathString path) =>
        path.StartsWithSegments(MetricsRoute, StringComparison.Ordinal) || path.StartsWithSegments("/health", StringComparison.Ordinal);
}
