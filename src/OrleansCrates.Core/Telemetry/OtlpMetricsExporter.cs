using System.Net.Http.Headers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Core.Telemetry;

/// <summary>
/// Pushes the collected metrics to <c>Telemetry:Otlp:Endpoint</c> every <c>Telemetry:Otlp:Interval</c> (OTLP/HTTP,
/// JSON), and once more when the node stops. A failed push is logged and the next one carries the cumulative values, so
/// nothing is lost but resolution. Without an endpoint it does nothing — but it is what creates the
/// <see cref="MetricsCollector"/> at start, so <c>/metrics</c> counts from the first request.
/// </summary>
public sealed partial class OtlpMetricsExporter : BackgroundService
{
    private static readonly TimeSpan PushTimeout = TimeSpan.FromSeconds(10);

    private readonly MetricsCollector _collector;
    private readonly OtlpOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<OtlpMetricsExporter> _logger;
    private readonly Uri? _url;
    private readonly KeyValuePair<string, string>[] _resource;

    public OtlpMetricsExporter(MetricsCollector collector, IOptions<TelemetryOptions> options, TimeProvider time, ILogger<OtlpMetricsExporter> logger)
    {
        _collector = collector;
        _options = options.Value.Otlp;
        _time = time;
        _logger = logger;
        _url = _options.MetricsUrl();
        _resource =
        [
            new("service.name", _options.ServiceName),
            new("service.version", typeof(OtlpMetricsExporter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0"),
            new("service.instance.id", $"{Environment.MachineName}:{Environment.ProcessId}"),
        ];
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_url is null)
        {
            return;
        }

        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        using var timer = new PeriodicTimer(_options.Interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await PushAsync(http, _url, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: one last push of what was counted since the previous one.
            using var last = new CancellationTokenSource(PushTimeout);
            await PushAsync(http, _url, last.Token);
        }
    }

    /// <summary>Sends one export request; true when the collector accepted it.</summary>
    public async Task<bool> PushAsync(HttpClient http, Uri url, CancellationToken cancellationToken)
    {
        var body = OtlpJson.Serialize(_collector.Collect(), _resource);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(PushTimeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(OtlpJson.ContentType);
            foreach (var (name, value) in _options.Headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            using var response = await http.SendAsync(request, timeout.Token);
            if (response.IsSuccessStatusCode)
            {
                return true;
            }

            LogPushFailed(_logger, url, $"answered {(int)response.StatusCode}");
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            LogPushFailed(_logger, url, e is OperationCanceledException ? "timed out" : e.Message);
        }

        return false;
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Pushing metrics to {Url} failed: {Error}")]
    private static partial void LogPushFailed(ILogger logger, Uri url, string error);
}
