using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;
using OrleansCrates.Storage;

namespace OrleansCrates.Accounts;

/// <summary>
/// API tokens, kept in shared storage so every node agrees on them (no node-local secret, K#928). A token is
/// <c>ocr_</c> followed by 32 random bytes in base64url (47 printable ASCII characters). Only its SHA-256 is stored,
/// as the key of its record <c>auth/tokens/{sha256hex}.json</c>; the secret is shown once, by
/// <see cref="CreateAsync"/>, and cannot be recovered. A token's public <see cref="TokenInfo.Id"/> is the first 12 hex
/// digits of that hash. Users are created with their first token, create-only, at <c>auth/users/{login}.json</c>.
/// <para>
/// <b>Revocation bound.</b> <see cref="ValidateOrNullAsync"/> keeps each answer in memory for
/// <see cref="CacheDuration"/> (5 s) by the monotonic clock of this instance's <see cref="TimeProvider"/>. A revoke takes effect at once on
/// the node that made it and on every other node within 5 s: no node answers from a storage read older than that.
/// </para>
/// Storage failures are not "unknown token": they surface as <see cref="StorageUnavailableException"/> (or the
/// provider's I/O exception) so the caller answers 503, never 401/403.
/// </summary>
public sealed partial class TokenStore
{
    public const string TokensPrefix = "auth/tokens/";
    public const string UsersPrefix = "auth/users/";
    public const string SecretPrefix = "ocr_";
    public const int IdLength = 12;

    /// <summary>Characters of a token's hash (lowercase hex SHA-256).</summary>
    public const int HashLength = 2 * SHA256.HashSizeInBytes;

    /// <summary>How long a validation answer (valid, unknown or revoked) is reused on one node.</summary>
    public static readonly TimeSpan CacheDuration = TimeSpan.FromSeconds(5);

    /// <summary>Cached answers kept at most; past this the cache starts over (it only ever saves storage reads).</summary>
    internal const int MaxCacheEntries = 10_000;

    private const int MaxUpdateAttempts = 10;

    private readonly IObjectStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, CachedAnswer> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CachedAnswer>.AlternateLookup<ReadOnlySpan<char>> _cachedByHash;
    private readonly ConcurrentDictionary<string, Task<TokenInfo?>> _reads = new(StringComparer.Ordinal);

    // Keyed by the header string's identity (not its content): an entry lives as long as the string, that is, as long
    // as the connection's server keeps handing out that string.
    private readonly ConditionalWeakTable<string, HeaderAnswer> _answersByHeader = new();
    private long _revocations; // revokes this instance finished
    private long _revoking; // revokes this instance has under way

    public TokenStore(IObjectStore store, TimeProvider time, ILogger<TokenStore>? logger = null)
    {
        _store = store;
        _time = time;
        _logger = logger ?? NullLogger<TokenStore>.Instance;
        _cachedByHash = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>
    /// Creates a token for <paramref name="user"/> (creating the user if new) and returns its secret, which is not
    /// stored anywhere and cannot be shown again. Throws <see cref="ArgumentException"/> for a login that is not
    /// <see cref="UserLogin.IsValid"/> or a pattern that is not <see cref="CratePattern.IsValid"/>.
    /// </summary>
    public async Task<(string Token, TokenInfo Info)> CreateAsync(string user, TokenScope scope, IReadOnlyList<string> patterns, CancellationToken cancellationToken)
    {
        if (!UserLogin.IsValid(user))
        {
            throw new ArgumentException($"Invalid user login '{user}': expected [A-Za-z0-9][A-Za-z0-9_-]{{0,38}}.", nameof(user));
        }

        if (!Enum.IsDefined(scope))
        {
            throw new ArgumentOutOfRangeException(nameof(scope), scope, "Unknown token scope.");
        }

        var crates = new List<string>();
        foreach (var pattern in patterns)
        {
            if (!CratePattern.IsValid(pattern))
            {
                throw new ArgumentException($"Invalid crate pattern '{pattern}': expected 1–64 of [A-Za-z0-9_-*].", nameof(patterns));
            }

            if (!crates.Any(p => CratePattern.Canonical(p) == CratePattern.Canonical(pattern)))
            {
                crates.Add(pattern);
            }
        }

        var login = await EnsureUserAsync(user, cancellationToken);
        var now = _time.GetUtcNow();
        var document = new TokenDocument { User = login, Scope = ScopeName(scope), Crates = [.. crates], CreatedAt = now };
        var content = JsonSerializer.SerializeToUtf8Bytes(document, AccountsJson.Default.TokenDocument);
        while (true)
        {
            var secret = SecretPrefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
            var hash = HashOf(secret);
            if (await AnyTokenWithIdAsync(hash[..IdLength], cancellationToken))
            {
                continue; // a 48-bit id collision: ids must name one token, so draw again
            }

            var put = await _store.PutAsync(TokenKey(hash), content, WriteCondition.IfNotExists, cancellationToken);
            if (put.Status == PutStatus.Written)
            {
                Log.TokenCreated(_logger, hash[..IdLength], login, document.Scope);
                return (secret, ToInfo(hash, document));
            }
        }
    }

    /// <summary>
    /// The token a secret stands for; null when the secret is malformed, unknown or revoked. Answers are reused for
    /// up to <see cref="CacheDuration"/> (see the class remarks for the revocation bound).
    /// </summary>
    public ValueTask<TokenInfo?> ValidateOrNullAsync(string secret, CancellationToken cancellationToken) =>
        CredentialParser.SecretFrom(secret) == secret
            ? LookUpAsync(secret, header: null, cancellationToken)
            : ValueTask.FromResult<TokenInfo?>(null); // empty, too long, spaces or non-printable: cannot be one of ours, so no storage read

    /// <summary>
    /// The token an <c>Authorization</c> header names (<see cref="ValidateOrNullAsync"/> for its secret): null for no
    /// header, more than one, or one <see cref="CredentialParser"/> finds no token in (no storage read for those).
    /// </summary>
    public ValueTask<TokenInfo?> ValidateHeaderOrNullAsync(StringValues authorization, CancellationToken cancellationToken)
    {
        if (authorization.Count != 1 || authorization[0] is not { } header)
        {
            return ValueTask.FromResult<TokenInfo?>(null);
        }

        // Kestrel hands a keep-alive connection the same string for a header that repeats the previous request's bytes,
        // so cargo's token on its next request is found by that string's identity, without hashing the secret again.
        if (_answersByHeader.TryGetValue(header, out var known) && IsCurrent(known.Answer, known.Revocations))
        {
            return ValueTask.FromResult(known.Answer.Token);
        }

        var secret = CredentialParser.SecretFrom(header);
        return secret is null ? ValueTask.FromResult<TokenInfo?>(null) : LookUpAsync(secret, header, cancellationToken);
    }

    /// <summary>The cached answer for a secret <see cref="CredentialParser"/> accepted, else one storage read shared by everyone asking.</summary>
    private ValueTask<TokenInfo?> LookUpAsync(string secret, string? header, CancellationToken cancellationToken)
    {
        // Every request with a token asks this: the answer in memory is found without allocating (hash on the stack).
        var revocations = Volatile.Read(ref _revocations); // before the lookup: a revoke finishing after it voids what is kept below
        Span<char> hash = stackalloc char[HashLength];
        HashOfValidSecret(secret, hash);
        if (_cachedByHash.TryGetValue(hash, out var cached) && IsFresh(cached))
        {
            if (header is not null && Volatile.Read(ref _revoking) == 0)
            {
                _answersByHeader.AddOrUpdate(header, new HeaderAnswer(cached, revocations));
            }

            return ValueTask.FromResult(cached.Token);
        }

        return ReadSharedAsync(hash.ToString(), cancellationToken);
    }

    /// <summary>
    /// One storage read per token per node at a time: concurrent requests with the same token share it, and a caller
    /// that gives up does not cancel it for the others.
    /// </summary>
    private async ValueTask<TokenInfo?> ReadSharedAsync(string hash, CancellationToken cancellationToken)
    {
        var mine = new TaskCompletionSource<TokenInfo?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = _reads.GetOrAdd(hash, mine.Task);
        if (shared == mine.Task)
        {
            _ = ReadAndCacheAsync(hash, mine);
        }

        return await shared.WaitAsync(cancellationToken);
    }

    private async Task ReadAndCacheAsync(string hash, TaskCompletionSource<TokenInfo?> result)
    {
        try
        {
            // Age counts from before the read (on the monotonic clock), so an answer is never used past
            // CacheDuration after storage gave it.
            var readStarted = _time.GetTimestamp();
            var revocations = Volatile.Read(ref _revocations);
            var read = await ReadTokenOrNullAsync(TokenKey(hash), CancellationToken.None);
            var token = read is { Info.IsRevoked: false } ? read.Value.Info : null;
            if (_cache.Count >= MaxCacheEntries)
            {
                _cache.Clear();
            }

            // A revoke made on this node while this read was under way may not be in it: then do not keep the answer.
            if (Volatile.Read(ref _revoking) == 0 && revocations == Volatile.Read(ref _revocations))
            {
                _cache[hash] = new CachedAnswer(token, readStarted);
            }

            result.SetResult(token);
        }
        catch (Exception e)
        {
            result.SetException(e); // every waiter gets the same storage failure
        }
        finally
        {
            _reads.TryRemove(KeyValuePair.Create(hash, result.Task));
        }
    }

    /// <summary>Every token, revoked ones included, in no particular order. Never secrets.</summary>
    public async IAsyncEnumerable<TokenInfo> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var properties in _store.ListAsync(TokensPrefix, cancellationToken))
        {
            var read = await ReadTokenOrNullAsync(properties.Key, cancellationToken);
            if (read is not null)
            {
                yield return read.Value.Info;
            }
        }
    }

    /// <summary>
    /// Revokes the token with public id <paramref name="id"/> (12 hex digits, any case). True when the token exists
    /// and is now revoked, including when it already was; false when there is no such token.
    /// </summary>
    public async Task<bool> RevokeAsync(string id, CancellationToken cancellationToken)
    {
        if (!IsValidId(id))
        {
            return false;
        }

        var keys = new List<string>();
        await foreach (var properties in _store.ListAsync(TokensPrefix + id.ToLowerInvariant(), cancellationToken))
        {
            keys.Add(properties.Key);
        }

        var revoked = false;
        foreach (var key in keys)
        {
            revoked |= await RevokeKeyAsync(key, cancellationToken);
        }

        return revoked;
    }

    public async Task<bool> UserExistsAsync(string login, CancellationToken cancellationToken) =>
        UserLogin.IsValid(login) && await _store.GetPropertiesOrNullAsync(UserKey(login), cancellationToken) is not null;

    /// <summary>The user with this login (any case); null when invalid or unknown.</summary>
    public async Task<UserInfo?> GetUserOrNullAsync(string login, CancellationToken cancellationToken)
    {
        if (!UserLogin.IsValid(login))
        {
            return null;
        }

        var stored = await _store.ReadSmallOrNullAsync(UserKey(login), cancellationToken);
        var document = stored is null ? null : StoredJson.ParseOrNull(stored.Value.Content, AccountsJson.Default.UserDocument);
        return document is null ? null : new UserInfo(document.Login, document.CreatedAt);
    }

    /// <summary>Lowercase hex SHA-256 of the secret's UTF-8 bytes: the token's storage key.</summary>
    public static string HashOf(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>
    /// <see cref="HashOf(string)"/> into <paramref name="hash"/> (<see cref="HashLength"/> characters) without allocating,
    /// for a secret <see cref="CredentialParser"/> accepts (at most <see cref="CredentialParser.MaxTokenLength"/>
    /// printable ASCII characters, a byte each).
    /// </summary>
    private static void HashOfValidSecret(string secret, Span<char> hash)
    {
        Span<byte> utf8 = stackalloc byte[CredentialParser.MaxTokenLength];
        var length = Encoding.UTF8.GetBytes(secret, utf8);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], digest);
        Convert.TryToHexStringLower(digest, hash, out _);
    }

    public static bool IsValidId(string? id) => id is { Length: IdLength } && id.All(char.IsAsciiHexDigit);

    private static string TokenKey(string hash) => $"{TokensPrefix}{hash}.json";

    private static string UserKey(string login) => $"{UsersPrefix}{UserLogin.Canonical(login)}.json";

    private async Task<string> EnsureUserAsync(string login, CancellationToken cancellationToken)
    {
        var key = UserKey(login);
        var document = new UserDocument { Login = login, CreatedAt = _time.GetUtcNow() };
        var put = await _store.PutAsync(key, JsonSerializer.SerializeToUtf8Bytes(document, AccountsJson.Default.UserDocument), WriteCondition.IfNotExists, cancellationToken);
        if (put.Status == PutStatus.Written)
        {
            return login;
        }

        // Existing user: keep the first spelling of the login, as crate names keep theirs.
        var existing = await GetUserOrNullAsync(login, cancellationToken);
        return existing?.Login ?? login;
    }

    private async Task<bool> AnyTokenWithIdAsync(string id, CancellationToken cancellationToken)
    {
        await foreach (var _ in _store.ListAsync(TokensPrefix + id, cancellationToken))
        {
            return true;
        }

        return false;
    }

    private async Task<bool> RevokeKeyAsync(string key, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _revoking);
        try
        {
            return await RevokeKeyCoreAsync(key, cancellationToken);
        }
        finally
        {
            Interlocked.Increment(ref _revocations);
            Interlocked.Decrement(ref _revoking);
        }
    }

    private async Task<bool> RevokeKeyCoreAsync(string key, CancellationToken cancellationToken)
    {
        var hash = HashFromKey(key);
        string? revokedUser = null;
        var outcome = await _store.UpdateAsync<bool>(key, stored =>
        {
            revokedUser = null;
            if (stored is null)
            {
                return UpdateDecision<bool>.Keep(false);
            }

            var document = StoredJson.ParseOrNull(stored.Value.Content, AccountsJson.Default.TokenDocument);
            if (document is null)
            {
                Log.CorruptRecord(_logger, key);
                return UpdateDecision<bool>.Keep(false);
            }

            if (document.RevokedAt is not null)
            {
                return UpdateDecision<bool>.Keep(true);
            }

            revokedUser = document.User;
            var revoked = new TokenDocument
            {
                User = document.User,
                Scope = document.Scope,
                Crates = document.Crates,
                CreatedAt = document.CreatedAt,
                RevokedAt = _time.GetUtcNow(),
            };
            return UpdateDecision<bool>.Replace(JsonSerializer.SerializeToUtf8Bytes(revoked, AccountsJson.Default.TokenDocument), true);
        }, cancellationToken, MaxUpdateAttempts);
        if (outcome.Completed)
        {
            if (revokedUser is not null && outcome.ETag is not null)
            {
                Log.TokenRevoked(_logger, hash[..IdLength], revokedUser);
            }

            if (outcome.Result)
            {
                _cache.TryRemove(hash, out _);
            }

            return outcome.Result;
        }

        throw new StorageUnavailableException($"Could not revoke {key}: it kept changing during {MaxUpdateAttempts} attempts.");
    }

    private async Task<(TokenInfo Info, string ETag)?> ReadTokenOrNullAsync(string key, CancellationToken cancellationToken)
    {
        if (!key.EndsWith(".json", StringComparison.Ordinal))
        {
            return null;
        }

        var stored = await _store.ReadSmallOrNullAsync(key, cancellationToken);
        if (stored is null)
        {
            return null;
        }

        var hash = HashFromKey(key);
        var document = StoredJson.ParseOrNull(stored.Value.Content, AccountsJson.Default.TokenDocument);
        if (document is null || hash.Length != 64 || ParseScopeOrNull(document.Scope) is null)
        {
            Log.CorruptRecord(_logger, key); // fail closed: a record we cannot read grants nothing
            return null;
        }

        return (ToInfo(hash, document), stored.Value.ETag);
    }

    private static string HashFromKey(string key) => key[TokensPrefix.Length..^".json".Length];

    private static TokenInfo ToInfo(string hash, TokenDocument document) =>
        new(hash[..IdLength], document.User, ParseScopeOrNull(document.Scope)!.Value, Array.AsReadOnly(document.Crates), document.CreatedAt, document.RevokedAt);

    /// <summary><c>read</c>, <c>publish</c> or <c>admin</c>.</summary>
    public static string ScopeName(TokenScope scope) => scope switch
    {
        TokenScope.Read => "read",
        TokenScope.Publish => "publish",
        TokenScope.Admin => "admin",
        _ => throw new ArgumentOutOfRangeException(nameof(scope), scope, "Unknown token scope."),
    };

    /// <summary><c>read</c>, <c>publish</c> or <c>admin</c> (any case); null otherwise.</summary>
    public static TokenScope? ParseScopeOrNull(string? name) => name?.ToLowerInvariant() switch
    {
        "read" => TokenScope.Read,
        "publish" => TokenScope.Publish,
        "admin" => TokenScope.Admin,
        _ => null,
    };

    /// <summary>
    /// Whether an answer kept for a header string may still be given: younger than <see cref="CacheDuration"/>, and no
    /// revoke of this instance under way or finished since <paramref name="revocations"/> was read before the answer was
    /// found (a revoke removes the revoked token's answer from the hash cache; those kept by header are voided by the count).
    /// </summary>
    private bool IsCurrent(CachedAnswer answer, long revocations) =>
        IsFresh(answer)
        && Volatile.Read(ref _revoking) == 0
        && revocations == Volatile.Read(ref _revocations);

    /// <summary>Whether an answer is younger than <see cref="CacheDuration"/>, counted from before the read that gave it.</summary>
    private bool IsFresh(CachedAnswer answer) => _time.GetElapsedTime(answer.ReadStarted) < CacheDuration;

    private readonly record struct CachedAnswer(TokenInfo? Token, long ReadStarted);

    /// <summary>A cached answer kept for one header string, with the revocation count read before it was found.</summary>
    private sealed record HeaderAnswer(CachedAnswer Answer, long Revocations);
}
