using System.Text;
using Microsoft.Extensions.Primitives;
using OrleansCrates.Storage;

namespace OrleansCrates.Accounts.Tests;

public sealed class TokenStoreTests : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly TokenStore _tokens;
    // A hang fails the test instead of blocking the run.
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    public TokenStoreTests() => _tokens = new TokenStore(_temp.Store, _clock);

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Create_gives_a_printable_secret_that_validates_to_its_token()
    {
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Read, ["acme-*"], _ct);

        Assert.StartsWith("ocr_", secret, StringComparison.Ordinal);
        Assert.Equal(47, secret.Length); // "ocr_" + 32 bytes of base64url
        Assert.All(secret, c => Assert.InRange(c, '!', '~'));
        Assert.Equal(TokenStore.HashOf(secret)[..12], info.Id);
        Assert.Equal(new TokenInfo(info.Id, "alice", TokenScope.Read, info.CratePatterns, _clock.GetUtcNow(), null), info);
        Assert.Equal(["acme-*"], info.CratePatterns);

        var validated = await _tokens.ValidateOrNullAsync(secret, _ct);
        Assert.NotNull(validated);
        Assert.Equal(info.Id, validated.Id);
        Assert.Equal(info.CratePatterns, validated.CratePatterns);
        Assert.True(await _tokens.UserExistsAsync("alice", _ct));
    }

    [Fact]
    public async Task Only_the_hash_of_a_secret_is_stored()
    {
        var (secret, _) = await _tokens.CreateAsync("alice", TokenScope.Publish, [], _ct);
        var hash = TokenStore.HashOf(secret);

        Assert.Equal([$"auth/tokens/{hash}.json"], await _temp.KeysAsync("auth/tokens/", _ct));
        Assert.Equal(["auth/users/alice.json"], await _temp.KeysAsync("auth/users/", _ct));
        var randomPart = secret["ocr_".Length..];
        foreach (var file in Directory.EnumerateFiles(_temp.Root, "*", SearchOption.AllDirectories))
        {
            var text = Encoding.UTF8.GetString(await File.ReadAllBytesAsync(file, _ct));
            Assert.DoesNotContain(randomPart, text, StringComparison.Ordinal);
            Assert.DoesNotContain(randomPart, file, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Every_token_is_distinct()
    {
        var created = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => _tokens.CreateAsync("alice", TokenScope.Read, [], _ct)));
        Assert.Equal(20, created.Select(c => c.Token).Distinct().Count());
        Assert.Equal(20, created.Select(c => c.Info.Id).Distinct().Count());
        Assert.Equal(20, (await _tokens.ListAsync(_ct).ToListAsync(_ct)).Count);
    }

    [Fact]
    public async Task A_user_is_created_once_and_keeps_the_first_spelling()
    {
        var (_, first) = await _tokens.CreateAsync("Alice", TokenScope.Read, [], _ct);
        var userFile = await _temp.Store.GetPropertiesOrNullAsync("auth/users/alice.json", _ct);
        _clock.Advance(TimeSpan.FromMinutes(1));
        var (_, second) = await _tokens.CreateAsync("alice", TokenScope.Publish, [], _ct);

        Assert.Equal("Alice", first.User);
        Assert.Equal("Alice", second.User);
        Assert.Equal(userFile, await _temp.Store.GetPropertiesOrNullAsync("auth/users/alice.json", _ct));
        Assert.True(await _tokens.UserExistsAsync("ALICE", _ct));
        Assert.False(await _tokens.UserExistsAsync("bob", _ct));
        Assert.False(await _tokens.UserExistsAsync("../alice", _ct));
        var user = await _tokens.GetUserOrNullAsync("alice", _ct);
        Assert.Equal(new UserInfo("Alice", new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero)), user);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-alice")]
    [InlineData("_alice")]
    [InlineData("al ice")]
    [InlineData("al/ice")]
    [InlineData("../etc")]
    [InlineData("alice.smith")]
    [InlineData("ålice")]
    [InlineData("a234567890123456789012345678901234567890")] // 40 characters
    public async Task Invalid_logins_are_refused_and_nothing_is_written(string login)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _tokens.CreateAsync(login, TokenScope.Read, [], _ct));
        Assert.Empty(await _temp.KeysAsync("auth/", _ct));
    }

    [Theory]
    [InlineData("")]
    [InlineData("acme/*")]
    [InlineData("acme.*")]
    [InlineData("acme *")]
    public async Task Invalid_patterns_are_refused_and_nothing_is_written(string pattern)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _tokens.CreateAsync("alice", TokenScope.Read, [pattern], _ct));
        Assert.Empty(await _temp.KeysAsync("auth/", _ct));
    }

    [Fact]
    public async Task Patterns_that_mean_the_same_are_kept_once()
    {
        var (_, info) = await _tokens.CreateAsync("alice", TokenScope.Read, ["acme-*", "ACME_*", "tools"], _ct);
        Assert.Equal(["acme-*", "tools"], info.CratePatterns);
    }

    [Theory]
    [InlineData("")]
    [InlineData("ocr_unknown")]
    [InlineData("has space")]
    [InlineData("Bearer ocr_x")]
    [InlineData("tab\tinside")]
    [InlineData("ünïcode")]
    public async Task Unknown_or_malformed_secrets_are_null(string secret)
    {
        await _tokens.CreateAsync("alice", TokenScope.Admin, [], _ct);
        Assert.Null(await _tokens.ValidateOrNullAsync(secret, _ct));
        Assert.Null(await _tokens.ValidateOrNullAsync(new string('a', 10_000), _ct));
    }

    [Fact]
    public async Task List_shows_every_token_and_never_a_secret()
    {
        var (a, infoA) = await _tokens.CreateAsync("alice", TokenScope.Read, ["acme-*"], _ct);
        var (b, infoB) = await _tokens.CreateAsync("bob", TokenScope.Admin, [], _ct);

        var listed = (await _tokens.ListAsync(_ct).ToListAsync(_ct)).OrderBy(t => t.User).ToList();
        Assert.Equal([infoA.Id, infoB.Id], listed.Select(t => t.Id));
        Assert.Equal([TokenScope.Read, TokenScope.Admin], listed.Select(t => t.Scope));
        var text = string.Join('\n', listed.Select(t => t.ToString()));
        Assert.DoesNotContain(a, text, StringComparison.Ordinal);
        Assert.DoesNotContain(b, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoke_refuses_the_token_at_once_on_the_same_node_and_may_be_repeated()
    {
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Publish, [], _ct);
        Assert.NotNull(await _tokens.ValidateOrNullAsync(secret, _ct)); // cached as valid

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await _tokens.RevokeAsync(info.Id, _ct));
        Assert.Null(await _tokens.ValidateOrNullAsync(secret, _ct));

        var listed = Assert.Single(await _tokens.ListAsync(_ct).ToListAsync(_ct));
        Assert.Equal(_clock.GetUtcNow(), listed.RevokedAt);

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await _tokens.RevokeAsync(info.Id.ToUpperInvariant(), _ct));
        Assert.Equal(listed.RevokedAt, Assert.Single(await _tokens.ListAsync(_ct).ToListAsync(_ct)).RevokedAt);
    }

    [Theory]
    [InlineData("000000000000")]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("../../../etc")]
    [InlineData("zzzzzzzzzzzz")]
    public async Task Revoking_an_unknown_or_malformed_id_is_false(string id)
    {
        await _tokens.CreateAsync("alice", TokenScope.Publish, [], _ct);
        Assert.False(await _tokens.RevokeAsync(id, _ct));
    }

    [Fact]
    public async Task Two_nodes_sharing_storage_agree_on_tokens()
    {
        var other = new TokenStore(_temp.Store, _clock);
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Read, ["acme-*"], _ct);

        var seen = await other.ValidateOrNullAsync(secret, _ct);
        Assert.NotNull(seen);
        Assert.Equal(info.Id, seen.Id);
        Assert.Equal(info.User, seen.User);
        Assert.Equal(info.CratePatterns, seen.CratePatterns);
        Assert.True(await other.UserExistsAsync("alice", _ct));
    }

    [Fact]
    public async Task A_revoke_on_one_node_reaches_the_other_within_the_documented_bound()
    {
        Assert.Equal(TimeSpan.FromSeconds(5), TokenStore.CacheDuration);
        var other = new TokenStore(_temp.Store, _clock);
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Read, [], _ct);
        Assert.NotNull(await other.ValidateOrNullAsync(secret, _ct)); // the other node now has it cached

        Assert.True(await _tokens.RevokeAsync(info.Id, _ct));
        _clock.Advance(TokenStore.CacheDuration - TimeSpan.FromMilliseconds(1));
        Assert.NotNull(await other.ValidateOrNullAsync(secret, _ct)); // still inside the bound: the cached answer
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(await other.ValidateOrNullAsync(secret, _ct)); // at the bound: refused
    }

    [Fact]
    public async Task Two_nodes_revoking_at_once_both_succeed_and_write_once()
    {
        var other = new TokenStore(_temp.Store, _clock);
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Read, [], _ct);

        var results = await Task.WhenAll(_tokens.RevokeAsync(info.Id, _ct), other.RevokeAsync(info.Id, _ct));
        Assert.Equal([true, true], results);
        Assert.Null(await other.ValidateOrNullAsync(secret, _ct));
        Assert.NotNull(Assert.Single(await _tokens.ListAsync(_ct).ToListAsync(_ct)).RevokedAt);
    }

    [Fact]
    public async Task Concurrent_validations_of_one_token_share_one_storage_read()
    {
        var (secret, _) = await _tokens.CreateAsync("alice", TokenScope.Read, [], _ct);
        var observed = new ObservedStore(_temp.Store);
        var node = new TokenStore(observed, _clock);

        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => node.ValidateOrNullAsync(secret, _ct).AsTask()));
        Assert.All(results, Assert.NotNull);
        Assert.Equal(1, observed.Reads);

        await node.ValidateOrNullAsync(secret, _ct);
        Assert.Equal(1, observed.Reads); // cached
        _clock.Advance(TokenStore.CacheDuration);
        await node.ValidateOrNullAsync(secret, _ct);
        Assert.Equal(2, observed.Reads); // expired: read again
    }

    [Fact]
    public async Task A_header_string_answered_from_memory_is_read_again_at_the_bound()
    {
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Read, [], _ct);
        var observed = new ObservedStore(_temp.Store);
        var node = new TokenStore(observed, _clock);
        var header = new StringValues(new string(secret)); // one string instance, as a keep-alive connection's repeated header

        Assert.Equal(info.Id, (await node.ValidateHeaderOrNullAsync(header, _ct))?.Id);
        Assert.Equal(info.Id, (await node.ValidateHeaderOrNullAsync(header, _ct))?.Id);
        Assert.Equal(info.Id, (await node.ValidateHeaderOrNullAsync(header, _ct))?.Id);
        Assert.Equal(1, observed.Reads);
        _clock.Advance(TokenStore.CacheDuration);
        Assert.Equal(info.Id, (await node.ValidateHeaderOrNullAsync(header, _ct))?.Id);
        Assert.Equal(2, observed.Reads); // the answer kept for the string is as old as the read it came from
    }

    [Fact]
    public async Task A_revoke_on_this_node_refuses_a_header_string_answered_from_memory_at_once()
    {
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Read, [], _ct);
        var header = new StringValues(new string(secret));
        Assert.NotNull(await _tokens.ValidateHeaderOrNullAsync(header, _ct));
        Assert.NotNull(await _tokens.ValidateHeaderOrNullAsync(header, _ct)); // kept for this string now

        Assert.True(await _tokens.RevokeAsync(info.Id, _ct));

        Assert.Null(await _tokens.ValidateHeaderOrNullAsync(header, _ct));
        Assert.Null(await _tokens.ValidateHeaderOrNullAsync(new StringValues(new string(secret)), _ct));
    }

    [Fact]
    public async Task Header_strings_are_answered_each_for_its_own_token()
    {
        var (alice, aliceInfo) = await _tokens.CreateAsync("alice", TokenScope.Read, [], _ct);
        var (bob, bobInfo) = await _tokens.CreateAsync("bob", TokenScope.Publish, [], _ct);
        var headers = new[] { new StringValues(alice), new StringValues(bob), new StringValues("Bearer " + alice), new StringValues("ocr_unknown") };

        for (var round = 0; round < 3; round++)
        {
            var answers = new List<string?>();
            foreach (var header in headers)
            {
                answers.Add((await _tokens.ValidateHeaderOrNullAsync(header, _ct))?.Id);
            }

            Assert.Equal([aliceInfo.Id, bobInfo.Id, aliceInfo.Id, null], answers);
        }
    }

    [Fact]
    public async Task A_storage_failure_is_not_an_unknown_token()
    {
        var (secret, _) = await _tokens.CreateAsync("alice", TokenScope.Read, [], _ct);
        var node = new TokenStore(new UnreachableStore(), _clock);
        await Assert.ThrowsAsync<StorageUnavailableException>(() => node.ValidateOrNullAsync(secret, _ct).AsTask());
    }

    [Fact]
    public async Task A_record_that_cannot_be_read_grants_nothing()
    {
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Admin, [], _ct);
        var key = $"auth/tokens/{TokenStore.HashOf(secret)}.json";
        await _temp.Store.PutAsync(key, "{\"user\":\"alice\",\"scope\":\"root\",\"crates\":[],\"created_at\":\"2025-03-01T12:00:00Z\"}"u8.ToArray(), WriteCondition.None, _ct);
        Assert.Null(await new TokenStore(_temp.Store, _clock).ValidateOrNullAsync(secret, _ct));

        await _temp.Store.PutAsync(key, "not json"u8.ToArray(), WriteCondition.None, _ct);
        Assert.Null(await new TokenStore(_temp.Store, _clock).ValidateOrNullAsync(secret, _ct));
        Assert.Empty(await _tokens.ListAsync(_ct).ToListAsync(_ct));
        Assert.False(await _tokens.RevokeAsync(info.Id, _ct));
    }

    internal sealed class UnreachableStore : IObjectStore
    {
        private static StorageUnavailableException Down => new("storage is unreachable (test)");

        public Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken) => throw Down;

        public Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken) => throw Down;

        public Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken) => throw Down;

        public Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken) => throw Down;

        public IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, CancellationToken cancellationToken) => throw Down;

        public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken) => Task.FromResult(new StorageHealth(false, "test", "down"));
    }
}
