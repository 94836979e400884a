using System.Net.Sockets;
using System.Text;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// Publish bodies the real server (Kestrel) refuses before the registry sees them: over the size limit is 413 and
/// slower than Kestrel's minimum data rate is 408, never 503 "storage unavailable"; and the bad-publish corpus gets
/// the same statuses over HTTP as in process, with nothing claimed.
/// </summary>
public sealed class PublishHardeningTests : IAsyncLifetime
{
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-publish-hardening-").FullName;
    private FakeUpstream _upstream = null!;
    private MirrorProcess _node = null!;
    private string _token = "";

    private string Root => Path.Combine(_sandbox, "store");

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync(CrateGraph.CreateDefault());
        _token = await ServerCli.CreateTokenAsync(Root, "alice");
        _node = await MirrorProcess.StartAsync(_upstream.IndexUrl, Root, new Dictionary<string, string>
        {
            ["Registry__Private__MaxCrateBytes"] = "2000000",
            ["Registry__Private__SpoolPath"] = Path.Combine(_sandbox, "spool"),
        });
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        await _upstream.DisposeAsync();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Fact]
    public async Task A_body_over_the_size_limit_is_413_not_storage_unavailable()
    {
        // Content-Length over the endpoint's limit (crate + metadata limits + 8): Kestrel refuses it on the first read.
        var (status, body) = await SendAsync(contentLength: 2_000_000 + (1024 * 1024) + 9, sendBytes: 4, stallAfterwards: false);

        Assert.True(status == 413, $"expected 413, got {status}: {body}\n{_node.Output}");
        Assert.Contains("\"errors\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_sent_slower_than_the_minimum_rate_is_408_not_storage_unavailable()
    {
        // 4 bytes announcing 1000 bytes of metadata, then nothing: after Kestrel's grace period the body's rate is under its minimum (240 bytes/s).
        var (status, body) = await SendAsync(contentLength: 100_000, sendBytes: 4, stallAfterwards: true);

        Assert.True(status == 408, $"expected 408, got {status}: {body}\n{_node.Output}");
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_sandbox, "spool"), "*.crate", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task The_bad_publish_corpus_gets_its_statuses_over_http_and_claims_nothing()
    {
        using var http = new HttpClient { BaseAddress = _node.BaseUri };
        var folder = CorpusFolder();
        foreach (var line in File.ReadAllLines(Path.Combine(folder, "cases.tsv")).Where(l => l.Length > 0 && l[0] != '#'))
        {
            var parts = line.Split('\t');
            using var request = new HttpRequestMessage(HttpMethod.Put, "private/api/v1/crates/new")
            {
                Content = new ByteArrayContent(File.ReadAllBytes(Path.Combine(folder, parts[0]))),
            };
            request.Headers.TryAddWithoutValidation("Authorization", _token);
            using var response = await http.SendAsync(request);
            Assert.True(int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) == (int)response.StatusCode,
                $"{parts[0]} ({parts[2]}): expected {parts[1]}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        Assert.False(Directory.Exists(Path.Combine(Root, "private")), "something was stored under private/");
        var index = await http.GetAsync("private/index/co/rp/corpus");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, index.StatusCode);
    }

    private async Task<(int Status, string Body)> SendAsync(long contentLength, int sendBytes, bool stallAfterwards)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(_node.BaseUri.Host, _node.BaseUri.Port);
        var stream = client.GetStream();
        var head = $"PUT /private/api/v1/crates/new HTTP/1.1\r\nHost: {_node.BaseUri.Authority}\r\nAuthorization: {_token}\r\n" +
            $"Content-Length: {contentLength}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        // A metadata length of 1000 (little-endian), so the registry goes on reading.
        await stream.WriteAsync(new byte[] { 0xE8, 0x03, 0, 0, 0, 0, 0, 0 }.AsMemory(0, sendBytes));
        if (!stallAfterwards)
        {
            await stream.WriteAsync(new byte[4096]);
        }

        // The server answers (and closes) on its own; the read ends with its answer.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var response = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                response.Write(buffer, 0, n);
            }
        }
        catch (IOException)
        {
            // The server may reset the connection after answering; what it sent is in response.
        }

        var text = Encoding.UTF8.GetString(response.ToArray());
        Assert.StartsWith("HTTP/1.1 ", text, StringComparison.Ordinal);
        var status = int.Parse(text.AsSpan(9, 3), provider: System.Globalization.CultureInfo.InvariantCulture);
        var bodyStart = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (status, bodyStart < 0 ? "" : text[(bodyStart + 4)..]);
    }

    private static string CorpusFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "corpus", "publish");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/corpus/publish");
    }
}
