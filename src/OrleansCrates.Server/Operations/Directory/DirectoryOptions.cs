namespace OrleansCrates.Server.Operations.Directory;

/// <summary>The <c>Directory</c> section: the community mirror directory served at <c>/mirrors.json</c>.</summary>
public sealed class DirectoryOptions
{
    public const string SectionName = "Directory";

    /// <summary>Mirrors listed by configuration (<c>Directory:Mirrors:N:Name</c>, <c>…:Url</c>: the mirror's base URL).</summary>
    public List<DirectoryMirrorOptions> Mirrors { get; set; } = [];

    /// <summary>This deployment's public base URL to announce to the other nodes of the store; empty announces nothing.</summary>
    public string? AnnounceUrl { get; set; }

    /// <summary>The name announced with <see cref="AnnounceUrl"/>; default its host.</summary>
    public string? AnnounceName { get; set; }

    /// <summary>How often each node announces itself and health-checks every known mirror.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long one health check may take before the mirror counts as down.</summary>
    public TimeSpan CheckTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Announcements not renewed for this long are left out of the list (their node stopped).</summary>
    public TimeSpan AnnouncementMaxAge { get; set; } = TimeSpan.FromDays(1);
}

public sealed class DirectoryMirrorOptions
{
    public string? Name { get; set; }

    public string Url { get; set; } = "";
}

internal static class DirectoryOptionsValidation
{
    public const string Rules =
        "Directory: every Mirrors:N:Url and AnnounceUrl (if set) must be an absolute http(s) URL; CheckInterval, CheckTimeout and AnnouncementMaxAge must be positive.";

    public static bool IsValid(DirectoryOptions o) =>
        o.Mirrors.All(m => IsHttpUrl(m.Url)) &&
        (string.IsNullOrWhiteSpace(o.AnnounceUrl) || IsHttpUrl(o.AnnounceUrl)) &&
        o.CheckInterval > TimeSpan.Zero && o.CheckTimeout > TimeSpan.Zero && o.AnnouncementMaxAge > TimeSpan.Zero;

    private static bool IsHttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";
}
