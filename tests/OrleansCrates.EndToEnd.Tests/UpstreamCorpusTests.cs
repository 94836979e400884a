using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// One case of tests/corpus/upstream: an upstream answer (status, headers, body) for an index file or a crate file,
/// and what a client of the mirror must see. Bodies are literal text (<c>body</c>), base64 (<c>bodyBase64</c>) or made
/// from the real file (<c>bodyOf</c>); <c>{name}</c>, <c>{cksum}</c>, <c>{CKSUM}</c>, <c>{path}</c>, <c>{version}</c>,
/// <c>{base}</c> (the upstream) and <c>{other}</c> (another host) are filled in.
/// </summary>
public sealed record UpstreamCorpusCase(string Name, JsonElement Json)
{
    public static IEnumerable<object[]> Load(string target) =>
        Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "corpus", "upstream"), "*.json")
            .Order(StringComparer.Ordinal)
            .Select(f => new UpstreamCorpusCase(Path.GetFileNameWithoutExtension(f), JsonDocument.Parse(File.ReadAllBytes(f)).RootElement.Clone()))
            .Where(c => c.Json.GetProperty("target").GetString() == target)
            .Select(c => new object[] { c });

    public int Expect(string name) => Json.GetProperty("expect").GetProperty(name).GetInt32();

    public bool ExpectFlag(string name) =>
        Json.GetProperty("expect").TryGetProperty(name, out var flag) && flag.GetBoolean();

    /// <summary>The canned answer for <paramref name="crate"/>, placeholders filled in.</summary>
    public CannedAnswer AnswerFor(SyntheticCrate crate, CrateGraph graph, SyntheticCrate another, Uri other)
    {
        string Fill(string text) => text
            .Replace("{name}", crate.Name, StringComparison.Ordinal)
            .Replace("{cksum}", crate.Sha256, StringComparison.Ordinal)
            .Replace("{CKSUM}", crate.Sha256.ToUpperInvariant(), StringComparison.Ordinal)
            .Replace("{path}", crate.IndexPath, StringComparison.Ordinal)
            .Replace("{version}", crate.Version, StringComparison.Ordinal)
            .Replace("{other}", other.ToString().TrimEnd('/'), StringComparison.Ordinal);

        var good = graph.IndexFileFor(crate.Name)!;
        byte[] body = Json.TryGetProperty("bodyOf", out var of) ? of.GetString() switch
        {
            "good-index" => good,
            "gzip-of-good-index" => Gzip(good),
            "good-index-of-another-crate" => graph.IndexFileFor(another.Name)!,
            "first-half-of-good-index" => good[..(good.Length / 2)],
            "good-index-then-html" => [.. good, .. "<html><body>oops</body></html>\n"u8],
            "good-file-inverted" => [.. crate.CrateBytes.Select(b => (byte)~b)],
            "good-file-plus-garbage" => [.. crate.CrateBytes, .. "garbage"u8],
            var unknown => throw new InvalidOperationException($"{Name}: unknown bodyOf '{unknown}'"),
        }
        : Json.TryGetProperty("bodyBase64", out var base64) ? Convert.FromBase64String(base64.GetString()!)
        : Encoding.UTF8.GetBytes(Fill(Json.GetProperty("body").GetString()!));
        var headers = Json.GetProperty("headers").EnumerateObject()
            .Select(h => new KeyValuePair<string, string>(h.Name, Fill(h.Value.GetString()!))).ToList();
        return new CannedAnswer(Json.GetProperty("status").GetInt32(), headers, body);
    }

    public override string ToString() => Name;

    private static byte[] Gzip(byte[] content)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal))
        {
            gzip.Write(content);
        }

        return buffer.ToArray();
    }
}

/// <summary>
/// Shared by the corpus cases: one upstream whose answers the cases replace, another host that redirects point at,
/// and one real mirror process that revalidates every index request (IndexTtl 0) and retries failed ones at once.
/// </summary>
public sealed class UpstreamCorpusFixture : IAsyncLifetime
{
    private int _nextCrate;

    public CrateGraph Graph { get; } = CrateGraph.Create(
        Enumerable.Range(0, 80).Select(i => CrateGraph.BuildCrate($"corpus-{i:D3}", "1.0.0")));

    public FakeUpstream Upstream { get; private set; } = null!;

    public FakeUpstream Other { get; private set; } = null!;

    public MirrorProcess Mirror { get; private set; } = null!;

    public string Root { get; } = Directory.CreateTempSubdirectory("oc-corpus-").FullName;

    public HttpClient Http { get; } = new(new SocketsHttpHandler { AllowAutoRedirect = false });

    /// <summary>A crate no earlier case used.</summary>
    public SyntheticCrate NextCrate() => Graph.Crates[Interlocked.Increment(ref _nextCrate) - 1];

    public async Task InitializeAsync()
    {
        Upstream = await FakeUpstream.StartAsync(Graph);
        Other = await FakeUpstream.StartAsync(Graph);
        Mirror = await MirrorProcess.StartAsync(
            Upstream.IndexUrl,
            Path.Combine(Root, "store"),
            new Dictionary<string, string>
            {
                ["Mirror__IndexTtl"] = "00:00:00",
                ["Mirror__FailureBackoff"] = "00:00:00",
                ["Mirror__Upstreams__0__Timeout"] = "00:00:10",
            });
    }

    public async Task DisposeAsync()
    {
        await Mirror.DisposeAsync();
        await Upstream.DisposeAsync();
        await Other.DisposeAsync();
        Http.Dispose();
        Directory.Delete(Root, recursive: true);
    }

    /// <summary>What the mirror's store holds for the crate's index file (read as any node would), or null.</summary>
    public async Task<StoredIndex?> StoredIndexAsync(string name)
    {
        await Mirror.SettledAsync(); // an index document is stored after its answer
        var store = new FileSystemObjectStore(Path.Combine(Root, "store"));
        var bytes = await store.ReadSmallOrNullAsync(MirrorKeys.Index(CrateName.Parse(name)), CancellationToken.None);
        return bytes is null ? null : StoredIndex.TryDeserialize(bytes.Value.Content);
    }

    public async Task<bool> HoldsFileAsync(SyntheticCrate crate)
    {
        await Mirror.SettledAsync(); // a verified file is answered while its commit runs
        return await new FileSystemObjectStore(Path.Combine(Root, "store"))
            .GetPropertiesOrNullAsync(MirrorKeys.CrateFile(CrateName.Parse(crate.Name), crate.Version), CancellationToken.None) is not null;
    }
}

/// <summary>
/// The bad-input corpus of upstream answers (tests/corpus/upstream), each against the real fault-injecting fake
/// upstream and a real mirror process: a 200 that is not an index file never replaces the good stored copy (the copy
/// keeps being served, byte for byte) and with no copy the client is told to retry (503), never "not found"; a crate
/// file that is not the file the index describes is never stored.
/// </summary>
public sealed class UpstreamCorpusTests(UpstreamCorpusFixture fixture) : IClassFixture<UpstreamCorpusFixture>
{
    public static IEnumerable<object[]> IndexCases => UpstreamCorpusCase.Load("index");

    public static IEnumerable<object[]> DownloadCases => UpstreamCorpusCase.Load("download");

    [Theory]
    [MemberData(nameof(IndexCases))]
    public async Task A_bad_index_answer_keeps_the_good_copy_and_stores_nothing(UpstreamCorpusCase corpus)
    {
        var ct = Deadline();
        var (cached, uncached, another) = (fixture.NextCrate(), fixture.NextCrate(), fixture.NextCrate());
        var good = fixture.Graph.IndexFileFor(cached.Name)!;
        using (var primed = await GetAsync("index/" + cached.IndexPath, ct))
        {
            Assert.Equal(HttpStatusCode.OK, primed.StatusCode);
            Assert.Equal(good, await primed.Content.ReadAsByteArrayAsync(ct));
        }

        var otherRequestsBefore = fixture.Other.TotalRequests;
        foreach (var crate in new[] { cached, uncached })
        {
            fixture.Upstream.AddFault(new FaultRule
            {
                PathContains = "/index/" + crate.IndexPath,
                Kind = FaultKind.Canned,
                Answer = corpus.AnswerFor(crate, fixture.Graph, another, fixture.Other.BaseUri),
            });
        }

        try
        {
            using (var withCopy = await GetAsync("index/" + cached.IndexPath, ct))
            {
                Assert.Equal((HttpStatusCode)corpus.Expect("withGoodCopy"), withCopy.StatusCode);
                Assert.Equal(good, await withCopy.Content.ReadAsByteArrayAsync(ct));
            }

            Assert.True(corpus.ExpectFlag("goodCopyKept"));
            Assert.Equal(good, (await fixture.StoredIndexAsync(cached.Name))!.Body);

            using (var withoutCopy = await GetAsync("index/" + uncached.IndexPath, ct))
            {
                Assert.Equal((HttpStatusCode)corpus.Expect("withoutCopy"), withoutCopy.StatusCode);
                Assert.NotNull(withoutCopy.Headers.RetryAfter);
            }

            Assert.True(corpus.ExpectFlag("nothingStored"));
            Assert.Null(await fixture.StoredIndexAsync(uncached.Name));
            Assert.True(fixture.Upstream.IndexRequests(uncached.Name) >= 1);
            if (corpus.Json.GetProperty("expect").TryGetProperty("otherHostAsked", out var asked) && !asked.GetBoolean())
            {
                Assert.Equal(otherRequestsBefore, fixture.Other.TotalRequests);
            }
        }
        finally
        {
            fixture.Upstream.ClearFaults();
        }
    }

    [Theory]
    [MemberData(nameof(DownloadCases))]
    public async Task A_bad_download_answer_stores_nothing(UpstreamCorpusCase corpus)
    {
        var ct = Deadline();
        var (crate, another) = (fixture.NextCrate(), fixture.NextCrate());
        using (var index = await GetAsync("index/" + crate.IndexPath, ct))
        {
            Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        }

        var rule = fixture.Upstream.AddFault(new FaultRule
        {
            PathContains = $"/crates/{crate.Name}/{crate.Version}/download",
            Kind = FaultKind.Canned,
            Answer = corpus.AnswerFor(crate, fixture.Graph, another, fixture.Other.BaseUri),
        });
        try
        {
            using var download = await GetAsync($"crates/{crate.Name}/{crate.Version}/download", ct);
            Assert.Equal((HttpStatusCode)corpus.Expect("client"), download.StatusCode);
            Assert.True(rule.Hits >= 1);
            var stored = corpus.Json.GetProperty("expect").GetProperty("stored").GetBoolean();
            Assert.Equal(stored, await fixture.HoldsFileAsync(crate));
            if (stored)
            {
                Assert.Equal(crate.CrateBytes, await download.Content.ReadAsByteArrayAsync(ct));
            }
        }
        finally
        {
            fixture.Upstream.ClearFaults();
        }
    }

    private Task<HttpResponseMessage> GetAsync(string path, CancellationToken ct) =>
        fixture.Http.GetAsync(new Uri(fixture.Mirror.BaseUri, path), ct);

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;
}
