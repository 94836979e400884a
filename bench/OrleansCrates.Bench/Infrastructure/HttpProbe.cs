using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;

namespace OrleansCrates.Bench.Infrastructure;

/// <summary>The outcome of one GET whose body was streamed through SHA-256 and discarded.</summary>
internal sealed record ProbeResult(string Url, HttpStatusCode? Status, long Bytes, string? Sha256, TimeSpan Elapsed, string? Error)
{
    public bool IsOk => Error is null && Status == HttpStatusCode.OK;

    /// <summary>Null when the response was 200 with the expected hash, else what was wrong.</summary>
    public string? Problem(string expectedSha256)
    {
        if (Error is not null)
        {
            return $"GET {Url}: {Error}";
        }

        if (Status != HttpStatusCode.OK)
        {
            return $"GET {Url}: HTTP {(int?)Status} {Status}";
        }

        return string.Equals(Sha256, expectedSha256, StringComparison.OrdinalIgnoreCase)
            ? null
            : $"GET {Url}: sha256 {Sha256} ({Bytes} bytes), expected {expectedSha256}";
    }
}

/// <summary>GETs that stream the body into a hash and never hold it in memory.</summary>
internal sealed class HttpProbe : IDisposable
{
    private readonly HttpClient client = new(new SocketsHttpHandler
    {
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        AllowAutoRedirect = true,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public async Task<ProbeResult> GetAsync(string url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        var stopwatch = Stopwatch.StartNew();
        long bytes = 0;
        HttpStatusCode? status = null;
        try
        {
            using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timeoutSource.Token);
            status = response.StatusCode;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using var body = await response.Content.ReadAsStreamAsync(timeoutSource.Token);
            var buffer = new byte[81920];
            int read;
            while ((read = await body.ReadAsync(buffer, timeoutSource.Token)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                bytes += read;
            }

            var sha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
            return new ProbeResult(url, status, bytes, sha256, stopwatch.Elapsed, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(url, status, bytes, null, stopwatch.Elapsed, $"no complete response within {timeout.TotalSeconds:0} s ({bytes} bytes read)");
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return new ProbeResult(url, status, bytes, null, stopwatch.Elapsed, ex.Message);
        }
    }

    /// <summary>The body of a small text answer (any status), or null when there was none in time.</summary>
    public async Task<string?> GetTextAsync(string url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            using var response = await client.GetAsync(url, HttpCompletionOption.ResponseContentRead, timeoutSource.Token);
            return await response.Content.ReadAsStringAsync(timeoutSource.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    public void Dispose() => client.Dispose();

    public static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
