using OrleansCrates.Server.Operations.Telemetry;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>Where <c>Telemetry:Otlp</c> sends each signal (logic only; the export itself is in <see cref="MetricsTests"/>).</summary>
public sealed class TelemetryOptionsTests
{
    [Fact]
    public void Http_protobuf_gets_one_signal_path_on_the_collectors_base_url()
    {
        Assert.Null(new OtlpOptions().SignalUrl("metrics"));
        var otlp = new OtlpOptions { Endpoint = "http://collector:4318" };
        Assert.Equal(new Uri("http://collector:4318/v1/metrics"), otlp.SignalUrl("metrics"));
        Assert.Equal(new Uri("http://collector:4318/v1/traces"), otlp.SignalUrl("traces"));
        // A base given with a signal path (as the old setting allowed) or a trailing slash is reduced to the base.
        Assert.Equal(new Uri("http://collector:4318/v1/traces"), new OtlpOptions { Endpoint = "http://collector:4318/v1/metrics" }.SignalUrl("traces"));
        Assert.Equal(new Uri("http://collector:4318/otlp/v1/metrics"), new OtlpOptions { Endpoint = "http://collector:4318/otlp/" }.SignalUrl("metrics"));
    }

    [Fact]
    public void Grpc_uses_the_endpoint_as_it_is_and_bad_settings_are_refused()
    {
        Assert.Equal(new Uri("http://collector:4317"), new OtlpOptions { Endpoint = "http://collector:4317", Protocol = OtlpOptions.Grpc }.SignalUrl("traces"));
        Assert.True(OtlpOptions.IsValid(new OtlpOptions()));
        Assert.False(OtlpOptions.IsValid(new OtlpOptions { Endpoint = "collector:4318" }));
        Assert.False(OtlpOptions.IsValid(new OtlpOptions { Endpoint = "http://collector:4318", Protocol = "http/json" }));
        Assert.False(OtlpOptions.IsValid(new OtlpOptions { Interval = TimeSpan.Zero }));
        Assert.Equal("a=1,b=2", new OtlpOptions { Headers = { ["a"] = "1", ["b"] = "2" } }.HeaderList());
    }
}
