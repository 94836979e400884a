using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;
using OrleansCrates.Mirror.Policy;
using OrleansCrates.Protocol;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Mirror.Tests;

/// <summary>Allow and deny lists, and how the served index is filtered: whole lines only, upstream's bytes verbatim.</summary>
public sealed class PolicyTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "oc-policy-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Theory]
    [InlineData("serde", "serde", "1.0.0", true)]
    [InlineData("serde", "Serde", "1.0.0", true)]
    [InlineData("serde", "serde_json", "1.0.0", false)]
    [InlineData("serde*", "serde_json", "1.0.0", true)]
    [InlineData("dash_*", "Dash-Name", "0.3.0", true)]
    [InlineData("dash-*", "dash_name", "0.3.0", true)]
    [InlineData("*-sys", "openssl_sys", "0.9.0", true)]
    [InlineData("*", "anything", "9.9.9", true)]
    [InlineData("openssl@<0.10.55", "openssl", "0.10.54", true)]
    [InlineData("openssl@<0.10.55", "openssl", "0.10.55", false)]
    [InlineData("acme-*@^2", "acme_core", "2.4.0", true)]
    [InlineData("acme-*@^2", "acme_core", "3.0.0", false)]
    [InlineData("tokio @ >=1, <2", "tokio", "1.40.0", true)]
    public void Entries_match_canonical_names_and_cargo_requirements(string entry, string crate, string version, bool expected)
    {
        Assert.True(PolicyEntry.TryParse(entry, out var parsed, out var error), error);
        Assert.True(SemanticVersion.TryParse(version, out var v));
        Assert.Equal(expected, parsed.Matches(CrateName.Parse(crate), v));
    }

    [Fact]
    public void Deny_wins_over_allow_and_a_non_empty_allow_list_admits_only_what_it_names()
    {
        var policy = CratePolicy.Create(new PolicyOptions { Allow = ["ab*", "a"], Deny = ["abcd", "abc@>=1.1"] });
        Assert.Equal(PolicyVerdict.Visible, policy.Evaluate(Name("abc"), Version("1.0.0")));
        Assert.Equal(PolicyVerdict.Denied, policy.Evaluate(Name("abc"), Version("1.1.0")));
        Assert.Equal(PolicyVerdict.Denied, policy.Evaluate(Name("abcd"), Version("2.0.0"))); // allowed by ab*, denied by name
        Assert.Equal(PolicyVerdict.NotAllowed, policy.Evaluate(Name("opt-helper"), Version("1.0.0")));
        Assert.Equal(PolicyVerdict.Visible, policy.Evaluate(Name("a"), Version("1.0.0")));

        // Whole crates that can never be served are known without asking upstream.
        Assert.Equal(PolicyVerdict.Denied, policy.EvaluateName(Name("abcd")));
        Assert.Equal(PolicyVerdict.NotAllowed, policy.EvaluateName(Name("opt-helper")));
        Assert.Equal(PolicyVerdict.Visible, policy.EvaluateName(Name("abc"))); // only some versions are denied
        Assert.False(CratePolicy.Open.IsActive);
    }

    [Fact]
    public void Invalid_entries_are_reported_with_their_configuration_key()
    {
        var problems = CratePolicy.Problems(new PolicyOptions { Allow = ["serde", "bad name"], Deny = ["ok", "x@>>1", ""] });
        Assert.Equal(3, problems.Count);
        Assert.StartsWith("Mirror:Policy:Allow:1 ", problems[0], StringComparison.Ordinal);
        Assert.StartsWith("Mirror:Policy:Deny:1 ", problems[1], StringComparison.Ordinal);
        Assert.StartsWith("Mirror:Policy:Deny:2 ", problems[2], StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => CratePolicy.Create(new PolicyOptions { Deny = ["x@>>1"] }));
    }

    [Fact]
    public async Task An_open_policy_serves_upstreams_array_and_etag_untouched()
    {
        using var policy = CreatePolicy(new PolicyOptions());
        var entry = Entry("""{"name":"abc","vers":"1.0.0","deps":[],"cksum":"CK","features":{}}""" + "\n");
        var served = await policy.FilterAsync(Name("abc"), entry, Nobody, Ct());
        Assert.Same(entry.Stored!.Body, served.Body);
        Assert.Equal(entry.ETag, served.ETag);
    }

    [Fact]
    public async Task Filtering_removes_whole_lines_and_keeps_every_other_byte_verbatim()
    {
        using var policy = CreatePolicy(new PolicyOptions { Deny = ["abc@>=1.1"] });
        // Odd but legal shapes: CRLF, extra spaces inside the JSON, a blank line, no newline after the last line.
        string[] segments =
        [
            Line("abc", "1.0.0") + "\r\n",
            Line("abc", "1.1.0").Replace(",", " ,", StringComparison.Ordinal) + "\n",
            "\n",
            "{ \"name\" : \"abc\", \"vers\":\"1.0.1\",\"deps\":[],\"cksum\":\"" + Sum('c') + "\",\"features\":{},\"yanked\":true}\n",
            Line("abc", "1.2.0"),
        ];
        var entry = Entry(string.Concat(segments));

        var served = await policy.FilterAsync(Name("abc"), entry, Nobody, Ct());

        var expected = Encoding.UTF8.GetBytes(segments[0] + segments[2] + segments[3]);
        Assert.Equal(expected, served.Body);
        Assert.True(served.AnyVisible);
        Assert.Equal(StrongETag(expected), served.ETag);
        Assert.NotEqual(entry.ETag, served.ETag);
    }

    [Fact]
    public async Task Lines_whose_version_cannot_be_read_are_not_served_under_a_policy()
    {
        using var policy = CreatePolicy(new PolicyOptions { Deny = ["other"] });
        var entry = Entry(Line("abc", "1.0.0") + "\nnot json\n" + Line("abc", "banana") + "\n");
        var served = await policy.FilterAsync(Name("abc"), entry, Nobody, Ct());
        Assert.Equal(Encoding.UTF8.GetBytes(Line("abc", "1.0.0") + "\n"), served.Body);
    }

    [Fact]
    public async Task A_crate_with_every_version_hidden_has_nothing_visible()
    {
        using var policy = CreatePolicy(new PolicyOptions { Allow = ["abc@^2"] });
        var served = await policy.FilterAsync(Name("abc"), Entry(Line("abc", "1.0.0") + "\n" + Line("abc", "1.1.0") + "\n"), Nobody, Ct());
        Assert.False(served.AnyVisible);
        Assert.Empty(served.Body);
    }

    [Fact]
    public async Task Approval_mode_hides_undecided_versions_records_them_once_and_shows_approvals_at_once()
    {
        var store = new CountingObjectStore(new FileSystemObjectStore(_root));
        var approvals = new ApprovalStore(store, TimeProvider.System);
        using var policy = CreatePolicy(new PolicyOptions { RequireApproval = true }, approvals);
        var entry = Entry(Line("abc", "1.0.0") + "\n" + Line("abc", "1.1.0") + "\n" + Line("abc", "2.0.0-beta.1") + "\n");
        var asked = 0;
        Task<string> Alice(CancellationToken _)
        {
            Interlocked.Increment(ref asked);
            return Task.FromResult("alice");
        }

        var first = await policy.FilterAsync(Name("abc"), entry, Alice, Ct());
        Assert.False(first.AnyVisible);
        Assert.Equal(["1.0.0", "1.1.0", "2.0.0-beta.1"], first.Undecided);
        var pending = Assert.Single(await approvals.ListPendingAsync(ApprovalSet.Empty, Ct()));
        Assert.Equal(("abc", "alice"), (pending.Name, pending.RequestedBy));
        Assert.Equal(["1.0.0", "1.1.0", "2.0.0-beta.1"], pending.Waiting);

        // The hot path: the same answer from memory, one storage ETag check, no reads, nothing recorded again.
        var (reads, lookups) = (store.Reads, store.PropertyLookups);
        var again = await policy.FilterAsync(Name("abc"), entry, Alice, Ct());
        Assert.Same(first, again);
        Assert.Equal((reads, lookups + 1), (store.Reads, store.PropertyLookups));
        Assert.Equal(1, asked);

        // Another "node" approves: this one serves it from its next request, with a new strong ETag.
        await new ApprovalStore(new FileSystemObjectStore(_root), TimeProvider.System).DecideAsync(Name("abc"), VersionReq.Parse("^1.0"), ApprovalDecision.Approved, "root", Ct());
        var approved = await policy.FilterAsync(Name("abc"), entry, Alice, Ct());
        Assert.Equal(Encoding.UTF8.GetBytes(Line("abc", "1.0.0") + "\n" + Line("abc", "1.1.0") + "\n"), approved.Body);
        Assert.Equal(StrongETag(approved.Body), approved.ETag);
        Assert.Equal(["2.0.0-beta.1"], approved.Undecided); // a pre-release is not matched by ^1.0

        await new ApprovalStore(new FileSystemObjectStore(_root), TimeProvider.System).DecideAsync(Name("abc"), VersionReq.Parse("=1.1.0"), ApprovalDecision.Rejected, "root", Ct());
        var rejected = await policy.FilterAsync(Name("abc"), entry, Alice, Ct());
        Assert.Equal(Encoding.UTF8.GetBytes(Line("abc", "1.0.0") + "\n"), rejected.Body);
        Assert.NotEqual(approved.ETag, rejected.ETag);
    }

    [Fact]
    public async Task Downloads_get_the_verdict_of_their_version()
    {
        var approvals = new ApprovalStore(new FileSystemObjectStore(_root), TimeProvider.System);
        using var policy = CreatePolicy(new PolicyOptions { Deny = ["evil"], Allow = ["abc", "evil", "ab*@<1"], RequireApproval = true }, approvals);
        Assert.Equal(PolicyVerdict.Denied, await policy.CheckVersionAsync(Name("evil"), "1.0.0", Nobody, Ct()));
        Assert.Equal(PolicyVerdict.NotAllowed, await policy.CheckVersionAsync(Name("abd"), "1.0.0", Nobody, Ct()));
        Assert.Equal(PolicyVerdict.NotApproved, await policy.CheckVersionAsync(Name("abd"), "0.5.0", Nobody, Ct()));
        Assert.Equal(["0.5.0"], Assert.Single(await approvals.ListPendingAsync(ApprovalSet.Empty, Ct())).Waiting);

        await approvals.DecideAsync(Name("abc"), VersionReq.Parse("*"), ApprovalDecision.Approved, "root", Ct());
        await approvals.DecideAsync(Name("abc"), VersionReq.Parse("=1.0.1"), ApprovalDecision.Rejected, "root", Ct());
        Assert.Equal(PolicyVerdict.Visible, await policy.CheckVersionAsync(Name("abc"), "1.0.0+build.1", Nobody, Ct()));
        Assert.Equal(PolicyVerdict.Rejected, await policy.CheckVersionAsync(Name("ABC"), "1.0.1", Nobody, Ct()));
        Assert.Contains("not approved yet", MirrorPolicy.Explain(PolicyVerdict.NotApproved, Name("abd"), "0.5.0"), StringComparison.Ordinal);
        Assert.Contains("denied by this mirror's policy", MirrorPolicy.Explain(PolicyVerdict.Denied, Name("evil"), "1.0.0"), StringComparison.Ordinal);
        Assert.Contains("rejected", MirrorPolicy.Explain(PolicyVerdict.Rejected, Name("abc"), "1.0.1"), StringComparison.Ordinal);
    }

    private MirrorPolicy CreatePolicy(PolicyOptions options, ApprovalStore? approvals = null) =>
        new(Options.Create(new MirrorOptions { Policy = options }),
            approvals ?? new ApprovalStore(new FileSystemObjectStore(_root), TimeProvider.System),
            NullLogger<MirrorPolicy>.Instance);

    private static readonly Func<CancellationToken, Task<string>> Nobody = _ => Task.FromResult("client-test");

    private static IndexEntry Entry(string body) =>
        IndexEntry.Found(new StoredIndex(Encoding.UTF8.GetBytes(body), "\"up\"", null, Now), Now.AddMinutes(1));

    private static string Line(string name, string version) =>
        $$"""{"name":"{{name}}","vers":"{{version}}","deps":[],"cksum":"{{Sum(version[0])}}","features":{},"yanked":false}""";

    private static string Sum(char c) => new(char.IsAsciiHexDigitLower(c) || char.IsAsciiDigit(c) ? c : 'a', 64);

    private static string StrongETag(byte[] body) => "\"" + Convert.ToHexStringLower(SHA256.HashData(body).AsSpan(0, 16)) + "\"";

    private static CrateName Name(string name) => CrateName.Parse(name);

    private static SemanticVersion Version(string version) => SemanticVersion.TryParse(version, out var v) ? v : throw new FormatException(version);

    private static CancellationToken Ct() => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;
}
