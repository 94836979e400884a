namespace OrleansCrates.Server.Http;

public static class PublicBaseUrl
{
    /// <summary>The configured public URL, or the scheme, host and path base this request came in on. No trailing slash.</summary>
    public static string Of(HttpRequest request, string? configured) =>
        string.IsNullOrWhiteSpace(configured)
            ? $"{request.Scheme}://{request.Host}{request.PathBase}"
            : configured.TrimEnd('/');
}
