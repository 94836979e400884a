using System.Net.Sockets;
using System.Text;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>Sends a request line exactly as written (HttpClient would clean up "..", encodings and backslashes).</summary>
internal static class RawHttp
{
    public static async Task<(int Status, string Body)> GetAsync(Uri server, string rawTarget, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, cancellationToken);
        await using var stream = client.GetStream();
        var request = $"GET {rawTarget} HTTP/1.1\r\nHost: {server.Authority}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request), cancellationToken);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync(cancellationToken);
        var statusLine = response[..response.IndexOf('\r', StringComparison.Ordinal)];
        var bodyStart = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), bodyStart < 0 ? "" : response[(bodyStart + 4)..]);
    }
}
