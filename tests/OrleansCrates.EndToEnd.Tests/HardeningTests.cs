using System.Net;
using System.Text.Json;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// The hardening of issue 10 against a real server process and a fake upstream: a token's crate patterns limit admin
/// tokens too, answers to credentials are private, the open mirror does not reveal private names, HEAD, the shadowing
/// guard and the release of a name, day ranges at the calendar's edge, and what the public statistics show of errors.
/// </summary>
public sealed class HardeningTests : IAsyncLifetime
{
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-hardening-").FullName;
    private readonly List<IAsyncDisposable> _disposables = [];
    private readonly HttpClient _http = new();
    private FakeUpstream _upstream = null!;

    private string Root => Path.Combine(_sandbox, "store");

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync(Graph);

    public async Task DisposeAsync()
    {
        foreach (var disposable in _disposables)
        {
            await disposable.DisposeAsync();
        }

        await _upstream.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_sandbox, recursive: true);
    }

    [Fact]
    public async Task An_admin_token_limited_to_a_pattern_acts_only_within_it_and_cannot_tell_what_exists_outside()
    {
        var node = await StartNodeAsync();
        var root = await ServerCli.CreateTokenAsync(Root, "root", "admin");
        var acmeAdmin = await ServerCli.CreateTokenAsync(Root, "acme-boss", "admin", "acme-*");
        var alice = await ServerCli.CreateTokenAsync(Root, "alice", "publish");
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.PublishAsync(_http, node.BaseUri, root, "acme-core", "0.1.0")).Status);
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.PublishAsync(_http, node.BaseUri, root, "other-lib", "0.1.0")).Status);

        // Every crate-scoped call, on a crate outside the pattern that exists and on one that does not: one answer, 404.
        var calls = new (HttpMethod Method, string Path, string? Json)[]
        {
            (HttpMethod.Delete, "private/api/v1/crates/{0}/0.1.0/yank", null),
            (HttpMethod.Put, "private/api/v1/crates/{0}/0.1.0/unyank", null),
            (HttpMethod.Put, "private/api/v1/crates/{0}/owners", """{"users":["alice"]}"""),
            (HttpMethod.Delete, "private/api/v1/crates/{0}/owners", """{"users":["root"]}"""),
            (HttpMethod.Post, "private/api/v1/admin/crates/{0}/release?delete_versions=true", null),
        };
        foreach (var (method, path, json) in calls)
        {
            var existing = await HttpAs.JsonAsync(_http, node.BaseUri, method, string.Format(path, "other-lib"), acmeAdmin, json ?? "");
            var missing = await HttpAs.JsonAsync(_http, node.BaseUri, method, string.Format(path, "nothing-here"), acmeAdmin, json ?? "");
            Assert.Equal(HttpStatusCode.NotFound, existing.Status);
            Assert.Equal((missing.Status, missing.Header("Content-Type"), missing.Body.Replace("nothing-here", "X", StringComparison.Ordinal)),
                (existing.Status, existing.Header("Content-Type"), existing.Body.Replace("other-lib", "X", StringComparison.Ordinal)));
        }

        // Nothing outside the pattern changed: other-lib is not yanked, still owned by root alone, still there.
        Assert.False(JsonDocument.Parse((await HttpAs.GetAsync(_http, node.BaseUri, "private/index/ot/he/other-lib")).Body).RootElement.GetProperty("yanked").GetBoolean());
        var owners = JsonDocument.Parse((await HttpAs.GetAsync(_http, node.BaseUri, "private/api/v1/crates/other-lib/owners")).Body).RootElement.GetProperty("users");
        Assert.Equal(["root"], owners.EnumerateArray().Select(u => u.GetProperty("login").GetString()));

        // Within the pattern the admin acts as an admin (not an owner of acme-core, yet may yank it).
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.SendAsync(_http, node.BaseUri, HttpMethod.Delete, "private/api/v1/crates/acme-core/0.1.0/yank", acmeAdmin)).Status);
        Assert.True(JsonDocument.Parse((await HttpAs.GetAsync(_http, node.BaseUri, "private/index/ac/me/acme-core")).Body).RootElement.GetProperty("yanked").GetBoolean());

        // Approvals: deciding on a crate outside the pattern (here one upstream has) is 404; lists show only the pattern.
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.JsonAsync(_http, node.BaseUri, HttpMethod.Post, "admin/api/v1/approvals/approve", root, """{"name":"abc","req":"*"}""")).Status);
        var outside = await HttpAs.JsonAsync(_http, node.BaseUri, HttpMethod.Post, "admin/api/v1/approvals/reject", acmeAdmin, """{"name":"abc","req":"*"}""");
        Assert.Equal(HttpStatusCode.NotFound, outside.Status);
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.JsonAsync(_http, node.BaseUri, HttpMethod.Post, "admin/api/v1/approvals/approve", acmeAdmin, """{"name":"acme-core","req":"^0.1"}""")).Status);
        var listed = JsonDocument.Parse((await HttpAs.GetAsync(_http, node.BaseUri, "admin/api/v1/approvals", acmeAdmin)).Body).RootElement;
        Assert.Equal(["acme-core"], listed.GetProperty("decisions").EnumerateArray().Select(d => d.GetProperty("name").GetString()));
        var audit = JsonDocument.Parse((await HttpAs.GetAsync(_http, node.BaseUri, "admin/api/v1/approvals/audit", acmeAdmin)).Body).RootElement.GetProperty("audit");
        Assert.Equal([("acme-core", "approved")], audit.EnumerateArray().Select(a => (a.GetProperty("name").GetString(), a.GetProperty("decision").GetString())));
        var everything = JsonDocument.Parse((await HttpAs.GetAsync(_http, node.BaseUri, "admin/api/v1/approvals", root)).Body).RootElement;
        Assert.Equal(["abc", "acme-core"], everything.GetProperty("decisions").EnumerateArray().Select(d => d.GetProperty("name").GetString()!).Order());
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.JsonAsync(_http, node.BaseUri, HttpMethod.Post, "admin/api/v1/approvals/approve", root, """{"name":"abc","req":"*"}""")).Status);

        // Download records: the pattern-limited admin sees only its crates' records.
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.GetAsync(_http, node.BaseUri, "private/crates/acme-core/0.1.0/download", alice)).Status);
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.GetAsync(_http, node.BaseUri, "private/crates/other-lib/0.1.0/download", alice)).Status);
        await WaitUntilAsync(async () => (await HttpAs.GetAsync(_http, node.BaseUri, "private/api/v1/admin/downloads", root)).Body.Contains("other-lib", StringComparison.Ordinal), "the download records to be flushed");
        var records = JsonDocument.Parse((await HttpAs.GetAsync(_http, node.BaseUri, "private/api/v1/admin/downloads", acmeAdmin)).Body).RootElement.GetProperty("downloads");
        Assert.Equal(["acme-core"], records.EnumerateArray().Select(r => r.GetProperty("crate").GetString()));
        var filtered = JsonDocument.Parse((await HttpAs.GetAsync(_http, node.BaseUri, "private/api/v1/admin/downloads?crate=other-lib", acmeAdmin)).Body).RootElement.GetProperty("downloads");
        Assert.Empty(filtered.EnumerateArray());

        // Scopes still apply inside the pattern; and no token is 401, an unknown one 403.
        Assert.Equal(HttpStatusCode.Forbidden, (await HttpAs.GetAsync(_http, node.BaseUri, "admin/api/v1/approvals", alice)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await HttpAs.GetAsync(_http, node.BaseUri, "admin/api/v1/approvals")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await HttpAs.GetAsync(_http, node.BaseUri, "private/api/v1/admin/downloads", "ocr_unknown")).Status);
    }

    [Fact]
    public async Task Answers_to_credentials_are_private_and_the_host_built_config_is_not_for_shared_caches()
    {
        var node = await StartNodeAsync();
        var reader = await ServerCli.CreateTokenAsync(Root, "reader", "read");
        var root = await ServerCli.CreateTokenAsync(Root, "root", "admin");
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.PublishAsync(_http, node.BaseUri, root, "acme-core", "0.1.0")).Status);

        var anonymous = await HttpAs.GetAsync(_http, node.BaseUri, "crates/abc/1.1.0/download");
        Assert.Equal(HttpStatusCode.OK, anonymous.Status);
        Assert.Equal(["immutable", "max-age=31536000", "public"], Directives(anonymous.Header("Cache-Control")));
        foreach (var credentials in new[] { reader, $"Bearer {reader}", "Basic " + Convert.ToBase64String("reader:x"u8.ToArray()) })
        {
            foreach (var path in new[] { "crates/abc/1.1.0/download", "private/crates/acme-core/0.1.0/download" })
            {
                var answer = await HttpAs.GetAsync(_http, node.BaseUri, path, credentials);
                Assert.Equal(HttpStatusCode.OK, answer.Status);
                Assert.Equal(["immutable", "max-age=31536000", "private"], Directives(answer.Header("Cache-Control")));
            }

            foreach (var path in new[] { "index/3/a/abc", "private/index/ac/me/acme-core" })
            {
                Assert.Equal("private", (await HttpAs.GetAsync(_http, node.BaseUri, path, credentials)).Header("Cache-Control"));
            }
        }

        Assert.Null((await HttpAs.GetAsync(_http, node.BaseUri, "index/3/a/abc")).Header("Cache-Control")); // anonymous: unchanged
        foreach (var path in new[] { "index/config.json", "private/index/config.json" })
        {
            var config = await HttpAs.GetAsync(_http, node.BaseUri, path);
            Assert.Equal("private", config.Header("Cache-Control"));
            Assert.Contains("Host", config.Header("Vary") ?? "", StringComparison.Ordinal);
        }

        // With Mirror:PublicUrl the config no longer depends on the request.
        var fixedUrl = await StartNodeAsync(("Mirror__PublicUrl", "https://crates.example.com"));
        var fixedConfig = await HttpAs.GetAsync(_http, fixedUrl.BaseUri, "index/config.json");
        Assert.Equal((null, null), (fixedConfig.Header("Cache-Control"), fixedConfig.Header("Vary")));
    }

    [Fact]
    public async Task The_open_mirror_answers_a_private_name_exactly_as_a_name_upstream_does_not_have()
    {
        var node = await StartNodeAsync(("Registry__Private__ReadRequiresToken", "true"));
        var root = await ServerCli.CreateTokenAsync(Root, "root", "admin");
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.PublishAsync(_http, node.BaseUri, root, "secret-tool", "0.1.0")).Status);
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.PublishAsync(_http, node.BaseUri, root, "abc", "9.0.0")).Status); // shadows a public crate

        foreach (var (privateName, unknown) in new[] { ("secret-tool", "absent-tool"), ("abc", "xyz") })
        {
            foreach (var path in new[] { "index/{0}", "crates/{1}/0.1.0/download", "crates/{1}/1.1.0/download" })
            {
                var secret = await HttpAs.GetAsync(_http, node.BaseUri, string.Format(path, RegistryPaths.IndexPath(privateName), privateName));
                var absent = await HttpAs.GetAsync(_http, node.BaseUri, string.Format(path, RegistryPaths.IndexPath(unknown), unknown));
                Assert.Equal(HttpStatusCode.NotFound, absent.Status);
                Assert.Equal(absent.Status, secret.Status);
                Assert.Equal(
                    absent.Shape.Where(h => h.Key != "Content-Length").OrderBy(h => h.Key, StringComparer.Ordinal),
                    secret.Shape.Where(h => h.Key != "Content-Length").OrderBy(h => h.Key, StringComparer.Ordinal));
                Assert.Equal(absent.Body.Replace(unknown, "NAME", StringComparison.Ordinal), secret.Body.Replace(privateName, "NAME", StringComparison.Ordinal));
                Assert.DoesNotContain("private", secret.Body, StringComparison.OrdinalIgnoreCase);
            }
        }

        Assert.Equal(0, _upstream.IndexRequests("secret-tool"));
        Assert.Equal(0, _upstream.Downloads("abc", "1.1.0"));
    }

    [Fact]
    public async Task HEAD_answers_as_GET_without_a_body_and_never_starts_a_download()
    {
        var node = await StartNodeAsync();
        var root = await ServerCli.CreateTokenAsync(Root, "root", "admin");
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.PublishAsync(_http, node.BaseUri, root, "acme-core", "0.1.0")).Status);
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.GetAsync(_http, node.BaseUri, "crates/abc/1.1.0/download")).Status);
        await node.SettledAsync(); // HEAD answers from storage alone, and a verified file is answered while it commits

        foreach (var path in new[]
        {
            "index/config.json", "index/3/a/abc", "crates/abc/1.1.0/download", "private/index/config.json",
            "private/index/ac/me/acme-core", "private/crates/acme-core/0.1.0/download", "health/live", "health/ready",
            "private/index/no/th/nothing-here",
        })
        {
            var get = await HttpAs.GetAsync(_http, node.BaseUri, path);
            var head = await HttpAs.SendAsync(_http, node.BaseUri, HttpMethod.Head, path);
            Assert.Equal(get.Status, head.Status);
            Assert.Equal("", head.Body);
            foreach (var name in new[] { "Content-Type", "Content-Length", "ETag", "Cache-Control", "Vary" })
            {
                Assert.True(get.Header(name) == head.Header(name), $"{path}: {name} is '{head.Header(name)}' on HEAD, '{get.Header(name)}' on GET");
            }
        }

        // A file the mirror does not hold: HEAD answers from storage alone, uncacheable, and upstream is not asked.
        var uncached = await HttpAs.SendAsync(_http, node.BaseUri, HttpMethod.Head, "crates/abcd/2.0.1/download");
        Assert.Equal((HttpStatusCode.NotFound, "no-store", "false"), (uncached.Status, uncached.Header("Cache-Control"), uncached.Header("X-Mirror-Cached")));
        Assert.Equal(0, _upstream.Downloads("abcd", "2.0.1"));
        Assert.False(File.Exists(Path.Combine(Root, "crates", "ab", "cd", "abcd", "abcd-2.0.1.crate")));

        // In approval mode a HEAD gets GET's 403 but asks for nothing: no pending approval is recorded (a GET records one).
        await node.DisposeAsync();
        var approvals = await StartNodeAsync(("Mirror__Policy__RequireApproval", "true"));
        var pending = Path.Combine(Root, "policy", "pending", "abcd.json");
        Assert.Equal(HttpStatusCode.Forbidden, (await HttpAs.SendAsync(_http, approvals.BaseUri, HttpMethod.Head, "crates/abcd/2.0.1/download")).Status);
        var headIndex = await HttpAs.SendAsync(_http, approvals.BaseUri, HttpMethod.Head, "index/ab/cd/abcd");
        Assert.False(File.Exists(pending), "a HEAD records no pending approval");
        Assert.Equal(HttpStatusCode.Forbidden, (await HttpAs.GetAsync(_http, approvals.BaseUri, "crates/abcd/2.0.1/download")).Status);
        Assert.True(File.Exists(pending), "a GET records the pending approval");
        Assert.Equal((await HttpAs.GetAsync(_http, approvals.BaseUri, "index/ab/cd/abcd")).Status, headIndex.Status);
    }

    [Fact]
    public async Task Claiming_a_public_name_needs_an_admin_or_the_allow_list_and_an_admin_can_release_it()
    {
        var node = await StartNodeAsync(("Registry__Private__AllowedPublicNames__0", "ab"));
        var root = await ServerCli.CreateTokenAsync(Root, "root", "admin");
        var acmeAdmin = await ServerCli.CreateTokenAsync(Root, "acme-boss", "admin", "acme-*");
        var alice = await ServerCli.CreateTokenAsync(Root, "alice", "publish");

        // "abc" and "Hex"-style spellings of it exist upstream: a publish token may not claim them, nor may an admin of other crates.
        foreach (var (token, name) in new[] { (alice, "abc"), (alice, "ABC"), (acmeAdmin, "abc"), (alice, "MixedCase") })
        {
            var refused = await HttpAs.PublishAsync(_http, node.BaseUri, token, name, "9.0.0");
            Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
            Assert.Contains(token == alice ? "public crate upstream" : "may not publish", refused.Body, StringComparison.Ordinal);
        }

        Assert.False(File.Exists(Path.Combine(Root, "private", "meta", "abc.json")), "a refused publish claims nothing");
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.GetAsync(_http, node.BaseUri, "index/3/a/abc")).Status);

        // A name upstream lacks, and an allow-listed public name, are fine with a publish token.
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.PublishAsync(_http, node.BaseUri, alice, "alice-tool", "0.1.0")).Status);
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.PublishAsync(_http, node.BaseUri, alice, "ab", "9.0.0")).Status);

        // An admin may claim it; the mirror then hides the public crate, as if upstream did not have it.
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.PublishAsync(_http, node.BaseUri, root, "abc", "9.0.0")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await HttpAs.GetAsync(_http, node.BaseUri, "index/3/a/abc")).Status);

        // Release: refused while it has versions unless they are to go; then the mirror serves the public crate again.
        Assert.Equal(HttpStatusCode.NotFound, (await HttpAs.SendAsync(_http, node.BaseUri, HttpMethod.Post, "private/api/v1/admin/crates/abc/release?delete_versions=true", acmeAdmin)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await HttpAs.SendAsync(_http, node.BaseUri, HttpMethod.Post, "private/api/v1/admin/crates/abc/release?delete_versions=true", alice)).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await HttpAs.SendAsync(_http, node.BaseUri, HttpMethod.Post, "private/api/v1/admin/crates/abc/release", root)).Status);
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.SendAsync(_http, node.BaseUri, HttpMethod.Post, "private/api/v1/admin/crates/abc/release?delete_versions=true", root)).Status);
        var served = await HttpAs.GetAsync(_http, node.BaseUri, "index/3/a/abc");
        Assert.Equal(HttpStatusCode.OK, served.Status);
        Assert.Equal(Graph.IndexFileFor("abc"), System.Text.Encoding.UTF8.GetBytes(served.Body));
        Assert.Equal(HttpStatusCode.NotFound, (await HttpAs.GetAsync(_http, node.BaseUri, "private/index/3/a/abc")).Status);
        var abcFiles = Path.Combine(Root, "private", "crates", "3", "a", "abc");
        Assert.True(!Directory.Exists(abcFiles) || !Directory.EnumerateFiles(abcFiles, "*", SearchOption.AllDirectories).Any(), "released crate files are deleted");

        // The CLI releases too (no server needed): the allow-listed "ab" claim goes back.
        var env = new Dictionary<string, string> { ["Storage__FileSystem__Root"] = Root };
        var withVersions = await ServerCli.RunAsync(env, ["private", "release", "ab"]);
        Assert.Equal(1, withVersions.ExitCode);
        Assert.Contains("--delete-versions", withVersions.StdErr, StringComparison.Ordinal);
        Assert.Equal(0, (await ServerCli.RunAsync(env, ["private", "release", "ab", "--delete-versions"])).ExitCode);
        Assert.False(File.Exists(Path.Combine(Root, "private", "meta", "ab.json")));
        Assert.Equal(1, (await ServerCli.RunAsync(env, ["private", "release", "ab"])).ExitCode);

        // Upstream unreachable: a new name cannot be checked, so a publish token may not claim it; an admin may.
        await _upstream.StopAsync();
        var unverifiable = await HttpAs.PublishAsync(_http, node.BaseUri, alice, "brand-new", "0.1.0");
        Assert.Equal(HttpStatusCode.Forbidden, unverifiable.Status);
        Assert.Contains("could not check", unverifiable.Body, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Root, "private", "meta", "brand-new.json")));
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.PublishAsync(_http, node.BaseUri, root, "brand-new", "0.1.0")).Status);
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.PublishAsync(_http, node.BaseUri, alice, "alice-tool", "0.2.0")).Status); // an existing private crate needs no check
    }

    [Fact]
    public async Task Day_ranges_at_the_calendar_edge_or_too_wide_answer_400_in_the_api_and_refuse_in_the_cli()
    {
        var node = await StartNodeAsync();
        var root = await ServerCli.CreateTokenAsync(Root, "root", "admin");
        foreach (var api in new[] { "private/api/v1/admin/downloads", "admin/api/v1/approvals/audit" })
        {
            foreach (var query in new[] { "?from=0001-01-01&to=9999-12-31", "?to=9999-12-32", "?from=2025-01-01&to=2026-01-02", "?from=2025-1-1", "?to=10000-01-01", "?from=9999-12-31&to=9999-12-30" })
            {
                var answer = await HttpAs.GetAsync(_http, node.BaseUri, api + query, root);
                Assert.True(answer.Status == HttpStatusCode.BadRequest, $"{api}{query}: {answer.Status} {answer.Body}");
            }

            foreach (var query in new[] { "?to=9999-12-31", "?from=9999-12-25&to=9999-12-31", "?to=0001-01-01", "?from=2025-01-01&to=2026-01-01" })
            {
                var answer = await HttpAs.GetAsync(_http, node.BaseUri, api + query, root);
                Assert.True(answer.Status == HttpStatusCode.OK, $"{api}{query}: {answer.Status} {answer.Body}");
            }
        }

        var env = new Dictionary<string, string> { ["Storage__FileSystem__Root"] = Root };
        foreach (var command in new[] { "downloads list", "approvals audit" })
        {
            var words = command.Split(' ');
            Assert.Equal(2, (await ServerCli.RunAsync(env, [.. words, "--from", "0001-01-01", "--to", "9999-12-31"])).ExitCode);
            Assert.Equal(2, (await ServerCli.RunAsync(env, [.. words, "--to", "9999-12-32"])).ExitCode);
            Assert.Equal(0, (await ServerCli.RunAsync(env, [.. words, "--to", "9999-12-31"])).ExitCode);
            Assert.Equal(0, (await ServerCli.RunAsync(env, [.. words, "--to", "0001-01-01"])).ExitCode);
        }
    }

    [Fact]
    public async Task Recent_errors_on_the_public_statistics_show_a_status_and_a_short_cause_only()
    {
        var node = await StartNodeAsync(("Mirror__UpstreamMaxAttempts", "1"));
        _upstream.AddFault(new FaultRule { PathContains = "abcd", Kind = FaultKind.Status500, Times = int.MaxValue });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await HttpAs.GetAsync(_http, node.BaseUri, "index/ab/cd/abcd")).Status);
        Assert.Equal(HttpStatusCode.OK, (await HttpAs.GetAsync(_http, node.BaseUri, "index/3/a/abc")).Status);

        var stats = JsonDocument.Parse((await HttpAs.GetAsync(_http, node.BaseUri, "api/v1/stats")).Body).RootElement;
        var errors = stats.GetProperty("recentErrors").EnumerateArray().ToList();
        Assert.NotEmpty(errors);
        foreach (var error in errors)
        {
            Assert.True(error.GetProperty("status").GetInt32() >= 500);
            Assert.Contains(error.GetProperty("detail").GetString(), new[] { "upstream failed", "upstream unavailable", "storage unavailable", "internal error", "service unavailable", "upstream timed out", "server error" });
        }

        var text = stats.GetProperty("recentErrors").GetRawText();
        Assert.DoesNotContain("127.0.0.1", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
    }

    private static IEnumerable<string> Directives(string? cacheControl) =>
        (cacheControl ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);

    private async Task<MirrorProcess> StartNodeAsync(params (string Key, string Value)[] settings)
    {
        var node = await MirrorProcess.StartAsync(_upstream.IndexUrl, Root, settings.ToDictionary(s => s.Key, s => s.Value));
        _disposables.Add(node);
        return node;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(250);
        }
    }
}
