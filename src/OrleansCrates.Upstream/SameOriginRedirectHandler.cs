using System.Net;

namespace OrleansCrates.Upstream;

/// <summary>
/// Follows redirects of GET requests only while they stay on the request's origin (scheme, host and port), at most
/// <paramref name="maxRedirects"/> times. A redirect to another origin is handed back to the caller unfollowed, so an
/// index file is never taken from a host other than the configured index's.
/// </summary>
internal sealed class SameOriginRedirectHandler(int maxRedirects) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        for (var redirects = 0; redirects < maxRedirects && request.Method == HttpMethod.Get; redirects++)
        {
            if (!IsRedirect(response.StatusCode) || response.Headers.Location is not { } location || request.RequestUri is not { } from)
            {
                return response;
            }

            var target = new Uri(from, location);
            if (Uri.Compare(from, target, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) != 0)
            {
                return response;
            }

            response.Dispose();
            request.RequestUri = target;
            response = await base.SendAsync(request, cancellationToken);
        }

        return response;
    }

    private static bool IsRedirect(HttpStatusCode status) =>
        status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther
            or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;
}
