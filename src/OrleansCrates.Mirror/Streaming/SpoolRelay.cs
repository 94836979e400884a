using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace OrleansCrates.Mirror.Streaming;

/// <summary>
/// How a node reads another node's download in progress: <c>GET {node}/spools/{id}</c> on the downloading node's
/// internal HTTP listener (<c>Cluster:InternalHttpPort</c>), copied into a relay <see cref="InFlightSpool"/> on this
/// node. The relay checks the bytes again on their way through — no more than the announced length, and at the end the
/// length and the sha256 the owner published — and completes only then, so a client of this node never finishes a
/// body the downloading node did not verify: a mismatch, a reset connection (the downloading node was killed) or
/// <see cref="IdleTimeout"/> without a byte (it hangs) fails the relay spool, which breaks every reader's transfer.
/// </summary>
public sealed partial class SpoolRelay(HttpClient http, ILogger<SpoolRelay> logger, TimeSpan? idleTimeout = null)
{
    /// <summary>The name of the relay's client in <c>IHttpClientFactory</c>.</summary>
    public const string HttpClientName = "OrleansCrates.SpoolRelay";

    /// <summary>How long the downloading node may take to answer with its headers before this node waits for the stored file instead.</summary>
    private static readonly TimeSpan HeadersTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The longest the downloading node may send nothing before the relay is given up as broken (it hangs or is gone).</summary>
    public TimeSpan IdleTimeout { get; } = idleTimeout ?? TimeSpan.FromSeconds(60);

    /// <summary>The path of a spool on a node's internal listener, relative to its base URL.</summary>
    public static string PathOf(string spoolId) => "spools/" + spoolId;

    /// <summary>Whether <paramref name="id"/> looks like a spool id (32 lower-case hex digits); anything else is not looked up.</summary>
    public static bool IsSpoolId(string? id) => id is { Length: 32 } && id.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    /// <summary>
    /// Opens the spool at <paramref name="location"/> (headers read, body not): null when the node answers anything but
    /// 200 (404: the download is over), announces another length than the owner said, or cannot be reached in time.
    /// </summary>
    public async Task<HttpResponseMessage?> OpenAsync(SpoolLocation location, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (location.Node is null || !IsSpoolId(location.SpoolId))
        {
            return null;
        }

        using var headers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        headers.CancelAfter(HeadersTimeout);
        HttpResponseMessage? response = null;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(location.Node, PathOf(location.SpoolId)));
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headers.Token);
            var announced = response.Content.Headers.ContentLength;
            string? problem = response.StatusCode != HttpStatusCode.OK ? $"it answered {(int)response.StatusCode}"
                : location.Length is { } length && announced != length ? $"it announced {announced?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no"} length, not {length}"
                : null;
            if (problem is null)
            {
                LogFollowing(logger, location.SpoolId, location.Node, announced);
                return response;
            }

            LogNotFollowed(logger, location.SpoolId, location.Node, problem);
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            LogNotFollowed(logger, location.SpoolId, location.Node, e.Message);
        }

        response?.Dispose();
        return null;
    }

    /// <summary>
    /// Copies the opened spool's body into <paramref name="spool"/> as it arrives, then completes it if the body ended
    /// cleanly with the announced length and the published sha256, and fails it otherwise.
    /// </summary>
    public async Task CopyAsync(HttpResponseMessage response, InFlightSpool spool, SpoolLocation location)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(spool);
        ArgumentNullException.ThrowIfNull(location);
        using var _ = response;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var idle = new CancellationTokenSource();
        long received = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        string? problem;
        try
        {
            idle.CancelAfter(IdleTimeout);
            await using var body = await response.Content.ReadAsStreamAsync(idle.Token);
            while (true)
            {
                idle.CancelAfter(IdleTimeout);
                var read = await body.ReadAsync(buffer, idle.Token);
                if (read == 0)
                {
                    break;
                }

                received += read;
                if (spool.ExpectedLength is { } most && received > most)
                {
                    break;
                }

                sha.AppendData(buffer, 0, read);
                await spool.AppendAsync(buffer.AsMemory(0, read), idle.Token);
            }

            var actual = Convert.ToHexStringLower(sha.GetHashAndReset());
            problem = spool.ExpectedLength is { } expected && received != expected ? $"received {received} of {expected} bytes"
                : location.Sha256 is { } published && !string.Equals(actual, published, StringComparison.OrdinalIgnoreCase) ? $"sha256 {actual} does not match the published {published}"
                : null;
        }
        catch (OperationCanceledException)
        {
            problem = $"nothing for {IdleTimeout.TotalSeconds:0} s after {received} bytes";
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            problem = $"broke off after {received} bytes: {e.Message}";
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (problem is null)
        {
            spool.Complete();
            LogRelayed(logger, location.SpoolId, location.Node!, received);
        }
        else
        {
            spool.Fail($"the downloading node's transfer {problem}");
            LogRelayBroke(logger, location.SpoolId, location.Node!, problem);
        }
    }
}
