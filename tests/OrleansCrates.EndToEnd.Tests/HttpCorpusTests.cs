using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// The bad-input corpus of URLs and headers under <c>tests/corpus/http/</c> (format in its README) against a real
/// server: every case gets its expected status, and none stores or claims anything or sends anything upstream.
/// </summary>
public sealed class HttpCorpusTests : IAsyncLifetime
{
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-corpus-").FullName;
    private readonly HttpClient _http = new();
    private FakeUpstream _upstream = null!;
    private MirrorProcess? _node;

    private string Root => Path.Combine(_sandbox, "store");

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync(CrateGraph.CreateDefault());

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        await _upstream.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Fact]
    public async Task Every_case_gets_its_status_and_stores_claims_and_fetches_nothing()
    {
        _node = await MirrorProcess.StartAsync(_upstream.IndexUrl, Root, new Dictionary<string, string> { ["Registry__Private__ReadRequiresToken"] = "true" });
        var tokens = new Dictionary<string, string>
        {
            ["admin"] = await ServerCli.CreateTokenAsync(Root, "root", "admin"),
            ["acme-admin"] = await ServerCli.CreateTokenAsync(Root, "acme-boss", "admin", "acme-*"),
            ["publish"] = await ServerCli.CreateTokenAsync(Root, "pub", "publish"),
            ["read"] = await ServerCli.CreateTokenAsync(Root, "reader", "read", "other-*"),
            ["revoked"] = await ServerCli.CreateTokenAsync(Root, "gone", "admin"),
        };
        var env = new Dictionary<string, string> { ["Storage__FileSystem__Root"] = Root };
        var gone = (await ServerCli.RunAsync(env, ["token", "list", "--json"])).StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).Single(t => t.GetProperty("user").GetString() == "gone").GetProperty("id").GetString()!;
        Assert.Equal(0, (await ServerCli.RunAsync(env, ["token", "revoke", gone])).ExitCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await HttpAs.PublishAsync(_http, _node.BaseUri, tokens["admin"], "acme-core", "0.1.0")).Status);

        var cases = Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "corpus", "http"), "*.tsv")
            .Order(StringComparer.Ordinal)
            .SelectMany(file => File.ReadLines(file).Select((line, i) => (Where: $"{Path.GetFileName(file)}:{i + 1}", Line: line)))
            .Where(c => c.Line.Length > 0 && !c.Line.StartsWith('#'))
            .ToList();
        Assert.True(cases.Count >= 80, $"expected the whole corpus, found {cases.Count} cases");

        await _node.SettledAsync();
        var stored = StoredObjects();
        var upstreamRequests = _upstream.TotalRequests;
        var failures = new List<string>();
        foreach (var (where, line) in cases)
        {
            var fields = line.Split('\t');
            var expected = fields[0].Split('|').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToHashSet();
            var headers = fields.Length > 3 ? fields[3].Split("||").Select(h => Expand(h, tokens)).ToList() : [];
            var status = await SendRawAsync(_node.BaseUri, fields[1], Expand(fields[2], tokens), headers);
            if (!expected.Contains(status))
            {
                failures.Add($"{where}: {fields[1]} {fields[2]} answered {status}, expected {fields[0]}");
            }

            await _node.SettledAsync(); // what the request stored is written a moment after its answer
            var now = StoredObjects();
            if (!now.SetEquals(stored))
            {
                failures.Add($"{where}: stored {string.Join(", ", now.Except(stored))}");
                stored = now;
            }

            if (_upstream.TotalRequests != upstreamRequests)
            {
                failures.Add($"{where}: sent {_upstream.TotalRequests - upstreamRequests} request(s) upstream");
                upstreamRequests = _upstream.TotalRequests;
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.False(_node.HasExited);
    }

    /// <summary>Objects under the prefixes a request could store or claim something in.</summary>
    private HashSet<string> StoredObjects()
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (var prefix in new[] { "crates", "index", "private", "policy", "records" })
        {
            var folder = Path.Combine(Root, prefix);
            if (Directory.Exists(folder))
            {
                found.UnionWith(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Root, f)));
            }
        }

        return found;
    }

    /// <summary>Tokens by name (<c>{admin}</c>) and <c>\xNN</c> escapes (written as that byte, Latin-1).</summary>
    private static string Expand(string text, IReadOnlyDictionary<string, string> tokens)
    {
        foreach (var (name, token) in tokens)
        {
            text = text.Replace("{" + name + "}", token, StringComparison.Ordinal);
        }

        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 3 < text.Length && text[i + 1] == 'x' &&
                byte.TryParse(text.AsSpan(i + 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var b))
            {
                result.Append((char)b);
                i += 3;
            }
            else
            {
                result.Append(text[i]);
            }
        }

        return result.ToString();
    }

    /// <summary>The request exactly as written (HttpClient would normalise targets and refuse odd headers); returns the status.</summary>
    private static async Task<int> SendRawAsync(Uri server, string method, string target, IReadOnlyList<string> headers)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, timeout.Token);
        await using var stream = client.GetStream();
        var request = new StringBuilder($"{method} {target} HTTP/1.1\r\nHost: {server.Authority}\r\nConnection: close\r\n");
        foreach (var header in headers)
        {
            request.Append(header).Append("\r\n");
        }

        if (method is "POST" or "PUT" or "DELETE")
        {
            request.Append("Content-Length: 0\r\n");
        }

        request.Append("\r\n");
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request.ToString()), timeout.Token);
        using var reader = new StreamReader(stream, Encoding.Latin1);
        var statusLine = await reader.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException($"no answer to {method} {target}");
        return int.Parse(statusLine.Split(' ')[1], CultureInfo.InvariantCulture);
    }
}
