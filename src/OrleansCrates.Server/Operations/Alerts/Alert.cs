namespace OrleansCrates.Server.Operations.Alerts;

/// <summary>
/// One alert as POSTed to the webhook: <c>{"event":…,"component":…,"node":…,"at":…,"detail":…}</c>.
/// <see cref="Event"/> is one of the <see cref="AlertEvents"/>; <see cref="Component"/> is <c>storage</c> or <c>upstream</c>.
/// </summary>
public sealed record Alert(string Event, string Component, string Node, DateTimeOffset At, string Detail);

public static class AlertEvents
{
    public const string StorageFailed = "storage_failed";
    public const string StorageRecovered = "storage_recovered";
    public const string StorageWriteFailed = "storage_write_failed";
    public const string StorageWriteRecovered = "storage_write_recovered";
    public const string UpstreamFailing = "upstream_failing";
    public const string UpstreamRecovered = "upstream_recovered";
}
