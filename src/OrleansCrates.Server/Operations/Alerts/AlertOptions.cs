namespace OrleansCrates.Server.Operations.Alerts;

/// <summary>
/// Configuration section <c>Alerts</c>: a webhook told when this node's storage fails or its upstream has been failing
/// for a while, and when each recovers. Off when <see cref="WebhookUrl"/> is unset. Each node watches and alerts for
/// itself (its name is in every alert), so a cluster-wide outage sends one alert per node.
/// </summary>
public sealed class AlertOptions
{
    public const string SectionName = "Alerts";

    /// <summary>Absolute http(s) URL that alerts are POSTed to as JSON; alerts are off when unset or empty.</summary>
    public string? WebhookUrl { get; set; }

    /// <summary>How often storage and the upstreams are looked at. Default 15 s.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long every configured upstream must have been down, as this node saw it, before "upstream failing" is sent.
    /// Default 2 min; zero alerts at the first check that finds them all down.
    /// </summary>
    public TimeSpan UpstreamFailingFor { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Timeout of one webhook POST. Default 10 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Attempts per alert, the first included (1 s, 2 s, 4 s … between them). Default 3.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>The node's name in alerts; default the machine name (in Azure Container Apps, the replica's name).</summary>
    public string? NodeName { get; set; }

    /// <summary>Whether alerts are sent at all.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(WebhookUrl);
}

internal static class AlertOptionsValidation
{
    public const string Rules =
        "Alerts: WebhookUrl, if set, must be an absolute http(s) URL; CheckInterval and Timeout positive; " +
        "UpstreamFailingFor not negative; MaxAttempts at least 1.";

    public static bool IsValid(AlertOptions o) =>
        (!o.Enabled || (Uri.TryCreate(o.WebhookUrl, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")) &&
        o.CheckInterval > TimeSpan.Zero && o.Timeout > TimeSpan.Zero && o.UpstreamFailingFor >= TimeSpan.Zero && o.MaxAttempts >= 1;
}
