using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// <c>Mirror:Downloads:Redirect</c> on Azure Blob storage (a real Azurite, so a service SAS signed with its shared
/// key): real cargo resolves and fetches a graph through a mirror whose downloads answer 302 to read-only blob URLs,
/// the URLs read exactly the stored bytes and nothing else, downloads are still counted; a mirror whose reads need a
/// token never redirects.
/// </summary>
public sealed class DownloadRedirectTests(DownloadRedirectTests.SharedAzurite shared) : IClassFixture<DownloadRedirectTests.SharedAzurite>, IAsyncLifetime
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-redirect-").FullName;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None });
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;
    private AzuriteProcess? _azurite;

    public async Task InitializeAsync() => _azurite = await shared.GetAsync(_ct);

    public Task DisposeAsync()
    {
        _http.Dispose();
        Directory.Delete(_sandbox, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Cargo_fetches_through_redirects_to_read_only_blob_urls_and_downloads_are_still_counted()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await using var mirror = await StartMirrorAsync(upstream, "redirect-open", readRequiresToken: false);
        using var project = CargoProject.Create(mirror.IndexUrl, Graph);

        foreach (var command in new[] { "generate-lockfile", "fetch" })
        {
            var result = await project.RunAsync([command], TimeSpan.FromMinutes(3), _ct);
            Assert.True(result.ExitCode == 0, $"cargo {command} failed ({result.ExitCode}):\n{result.Output}\nmirror said:\n{mirror.Output}");
        }

        var locked = project.LockfilePackages().Where(p => p.Checksum is not null).ToList();
        Assert.NotEmpty(locked);
        Assert.All(locked, p => Assert.Equal(Graph.Get(p.Name, p.Version).Sha256, p.Checksum));
        Assert.All(locked, p => Assert.Equal(1, upstream.Downloads(p.Name, p.Version)));

        // The answer itself, once the files are stored (a verified file is answered while its commit runs): a 302 nobody
        // caches, to the blob on Azurite with a read-only SAS.
        await mirror.SettledAsync();
        var crate = Graph.Get(locked[0].Name, locked[0].Version);
        using var response = await _http.GetAsync(new Uri(mirror.BaseUri, $"crates/{crate.Name}/{crate.Version}/download"), _ct);
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);
        var location = response.Headers.Location!;
        Assert.StartsWith(_azurite!.BlobEndpoint + "/redirect-open/", location.AbsoluteUri, StringComparison.Ordinal);
        var query = System.Web.HttpUtility.ParseQueryString(location.Query);
        Assert.Equal("r", query["sp"]);
        Assert.Equal("b", query["sr"]);
        Assert.False(string.IsNullOrEmpty(query["sig"]));

        var bytes = await _http.GetByteArrayAsync(location, _ct);
        Assert.Equal(crate.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));

        // Read-only: the same URL cannot overwrite the blob.
        using var overwrite = new HttpRequestMessage(HttpMethod.Put, location) { Content = new ByteArrayContent([1, 2, 3]) };
        overwrite.Headers.Add("x-ms-blob-type", "BlockBlob");
        using var refused = await _http.SendAsync(overwrite, _ct);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

        // Counted: cargo's downloads plus ours, each a download in the statistics.
        var expected = locked.Count + 1;
        var stats = await WaitForDownloadsAsync(mirror, expected);
        Assert.Equal(expected, stats);
    }

    [Fact]
    public async Task A_mirror_whose_reads_need_a_token_never_redirects()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        const string container = "redirect-gated";
        var token = await CreateTokenAsync(container);
        await using var mirror = await StartMirrorAsync(upstream, container, readRequiresToken: true);
        var crate = Graph.Get("abc", "1.1.0");

        for (var attempt = 0; attempt < 2; attempt++) // cold (fetched upstream), then warm (stored)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(mirror.BaseUri, $"crates/{crate.Name}/{crate.Version}/download"));
            request.Headers.TryAddWithoutValidation("Authorization", token);
            using var response = await _http.SendAsync(request, _ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Null(response.Headers.Location);
            var body = await response.Content.ReadAsByteArrayAsync(_ct);
            Assert.Equal(crate.Sha256, Convert.ToHexStringLower(SHA256.HashData(body)));
            await mirror.SettledAsync(); // the second attempt reads the stored blob, not the download's verified spool
        }
    }

    private Dictionary<string, string> StorageSettings(string container) => new()
    {
        ["Storage__Provider"] = "AzureBlob",
        ["Storage__AzureBlob__ConnectionString"] = _azurite!.ConnectionString,
        ["Storage__AzureBlob__Container"] = container,
    };

    private Task<MirrorProcess> StartMirrorAsync(FakeUpstream upstream, string container, bool readRequiresToken)
    {
        var settings = StorageSettings(container);
        settings["Mirror__Downloads__Redirect"] = "true";
        settings["Statistics__FlushInterval"] = "00:00:01"; // counters reach storage (and /api/v1/stats) within a second
        settings["Statistics__CacheTtl"] = "00:00:00";
        settings["Mirror__ReadRequiresToken"] = readRequiresToken ? "true" : "false";
        return MirrorProcess.StartAsync(upstream.IndexUrl, Path.Combine(_sandbox, container), settings, _ct);
    }

    private async Task<string> CreateTokenAsync(string container)
    {
        var result = await ServerCli.RunAsync(StorageSettings(container), ["token", "create", "--user", "reader", "--scope", "read"], _ct);
        Assert.True(result.ExitCode == 0, $"token create failed ({result.ExitCode}): {result.StdErr}");
        return result.StdOut.Trim();
    }

    /// <summary>The statistics' download total once it reaches <paramref name="expected"/> (they are flushed in batches).</summary>
    private async Task<long> WaitForDownloadsAsync(MirrorProcess mirror, long expected)
    {
        long last = -1;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            using var doc = JsonDocument.Parse(await _http.GetStringAsync(new Uri(mirror.BaseUri, "api/v1/stats?days=2&top=50"), _ct));
            last = doc.RootElement.GetProperty("totals").GetProperty("downloads").GetInt64();
            if (last >= expected)
            {
                return last;
            }

            await Task.Delay(200, _ct);
        }

        throw new TimeoutException($"Expected {expected} downloads in the statistics within 30 s; last saw {last}.\n{mirror.Output}");
    }

    /// <summary>One Azurite for the class (each test uses a container of its own).</summary>
    public sealed class SharedAzurite : IAsyncLifetime
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private AzuriteProcess? _azurite;

        public async Task<AzuriteProcess> GetAsync(CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken);
            try
            {
                return _azurite ??= await AzuriteProcess.StartAsync(cancellationToken);
            }
            finally
            {
                _gate.Release();
            }
        }

        public Task InitializeAsync() => Task.CompletedTask;

        public async Task DisposeAsync()
        {
            if (_azurite is not null)
            {
                await _azurite.DisposeAsync();
            }

            _gate.Dispose();
        }
    }
}
