using System.Web;
using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Time.Testing;
using OrleansCrates.Storage.AzureBlob;
using OrleansCrates.Testing;

namespace OrleansCrates.Storage.AzureBlob.Tests;

/// <summary>
/// Read URLs for <c>Mirror:Downloads:Redirect</c> without a network: the user-delegation key cache (one key for every
/// URL it covers, a new one when a URL would outlive it, one fetch for concurrent callers, failures not remembered)
/// and the SAS each URL carries (read only, one blob, expiring when asked, HTTPS only on HTTPS storage). The service
/// SAS is exercised against a real Azurite by the end-to-end redirect test.
/// </summary>
public sealed class ReadUrlTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task One_key_signs_every_url_it_covers_and_a_url_that_would_outlive_it_gets_a_new_key()
    {
        var clock = new FakeTimeProvider(Start);
        var requested = new List<(DateTimeOffset StartsOn, DateTimeOffset ExpiresOn)>();
        var cache = new UserDelegationKeyCache((startsOn, expiresOn, _) =>
        {
            requested.Add((startsOn, expiresOn));
            return Task.FromResult(Key(startsOn, expiresOn, $"oid-{requested.Count}"));
        }, clock);

        var first = await cache.GetAsync(Start + TimeSpan.FromMinutes(5), CancellationToken.None);
        clock.Advance(TimeSpan.FromMinutes(30));
        var second = await cache.GetAsync(clock.GetUtcNow() + TimeSpan.FromMinutes(5), CancellationToken.None);
        Assert.Same(first, second);
        Assert.Equal(1, cache.Fetches);
        Assert.Equal((Start - UserDelegationKeyCache.ClockSkew, Start + UserDelegationKeyCache.KeyLifetime), requested[0]);

        clock.Advance(TimeSpan.FromMinutes(28)); // 58 minutes in: a 5-minute URL would outlive the key
        var third = await cache.GetAsync(clock.GetUtcNow() + TimeSpan.FromMinutes(5), CancellationToken.None);
        Assert.NotSame(first, third);
        Assert.Equal("oid-2", third.SignedObjectId);
        Assert.True(third.SignedExpiresOn >= clock.GetUtcNow() + TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task Concurrent_callers_share_one_fetch_and_a_failed_fetch_is_not_remembered()
    {
        var clock = new FakeTimeProvider(Start);
        var pending = new TaskCompletionSource<UserDelegationKey>(TaskCreationOptions.RunContinuationsAsynchronously);
        var fail = true;
        var cache = new UserDelegationKeyCache((startsOn, expiresOn, _) =>
            fail ? pending.Task : Task.FromResult(Key(startsOn, expiresOn, "oid-ok")), clock);

        var a = cache.GetAsync(Start + TimeSpan.FromMinutes(5), CancellationToken.None);
        var b = cache.GetAsync(Start + TimeSpan.FromMinutes(5), CancellationToken.None);
        Assert.Equal(1, cache.Fetches);
        pending.SetException(new RequestFailedException(403, "AuthorizationPermissionMismatch"));
        await Assert.ThrowsAsync<RequestFailedException>(() => a);
        await Assert.ThrowsAsync<RequestFailedException>(() => b);

        fail = false;
        var key = await cache.GetAsync(Start + TimeSpan.FromMinutes(5), CancellationToken.None);
        Assert.Equal("oid-ok", key.SignedObjectId);
        Assert.Equal(2, cache.Fetches);
    }

    [Fact]
    public async Task A_user_delegation_url_reads_one_blob_only_until_it_expires_and_only_over_https()
    {
        var clock = new FakeTimeProvider(Start);
        var container = new BlobContainerClient(new Uri("https://account.blob.core.windows.net/crates-store"), new NoCredential());
        var cache = new UserDelegationKeyCache((startsOn, expiresOn, _) => Task.FromResult(Key(startsOn, expiresOn, "the-identity")), clock);
        var urls = new AzureBlobReadUrls(container, clock, keys: cache);
        Assert.False(urls.UsesSharedKey);

        var url = await urls.ReadUrlOrNullAsync("crates/se/rd/serde-1.0.0+build.crate", TimeSpan.FromMinutes(5), CancellationToken.None);
        var again = await urls.ReadUrlOrNullAsync("crates/3/a/abc-1.1.0.crate", TimeSpan.FromMinutes(5), CancellationToken.None);

        Assert.NotNull(url);
        Assert.Equal("account.blob.core.windows.net", url.Host);
        Assert.Equal("/crates-store/crates/se/rd/serde-1.0.0%2Bbuild.crate", url.AbsolutePath);
        var query = HttpUtility.ParseQueryString(url.Query);
        Assert.Equal("r", query["sp"]);
        Assert.Equal("b", query["sr"]);
        Assert.Equal("https", query["spr"]);
        Assert.Equal("the-identity", query["skoid"]);
        Assert.Equal(Start + TimeSpan.FromMinutes(5), DateTimeOffset.Parse(query["se"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Start - UserDelegationKeyCache.ClockSkew, DateTimeOffset.Parse(query["st"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.False(string.IsNullOrEmpty(query["sig"]));
        Assert.NotNull(again);
        Assert.NotEqual(query["sig"], HttpUtility.ParseQueryString(again.Query)["sig"]); // each URL is signed for its own blob
        Assert.Equal(1, cache.Fetches);
    }

    [Fact]
    public async Task Without_a_delegation_key_no_url_is_issued_and_the_mirror_serves_the_bytes_itself()
    {
        var clock = new FakeTimeProvider(Start);
        var container = new BlobContainerClient(new Uri("https://account.blob.core.windows.net/crates-store"), new NoCredential());
        var cache = new UserDelegationKeyCache((_, _, _) => Task.FromException<UserDelegationKey>(new RequestFailedException(403, "This request is not authorized")), clock);
        var urls = new AzureBlobReadUrls(container, clock, keys: cache);

        Assert.Null(await urls.ReadUrlOrNullAsync("crates/3/a/abc-1.1.0.crate", TimeSpan.FromMinutes(5), CancellationToken.None));
    }

    [Fact]
    public async Task With_a_shared_key_the_url_is_a_service_sas_and_no_delegation_key_is_fetched()
    {
        var clock = new FakeTimeProvider(Start);
        var connection = $"DefaultEndpointsProtocol=http;AccountName={AzuriteProcess.AccountName};AccountKey={AzuriteProcess.AccountKey};BlobEndpoint=http://127.0.0.1:10000/{AzuriteProcess.AccountName};";
        var container = new BlobContainerClient(connection, "crates-store");
        var cache = new UserDelegationKeyCache((_, _, _) => throw new InvalidOperationException("no delegation key with a shared key"), clock);
        var urls = new AzureBlobReadUrls(container, clock, keys: cache);
        Assert.True(urls.UsesSharedKey);

        var url = await urls.ReadUrlOrNullAsync("crates/3/a/abc-1.1.0.crate", TimeSpan.FromMinutes(10), CancellationToken.None);

        var query = HttpUtility.ParseQueryString(url!.Query);
        Assert.Equal("r", query["sp"]);
        Assert.Equal("b", query["sr"]);
        Assert.Null(query["skoid"]);
        Assert.Equal("https,http", query["spr"]); // Azurite speaks plain http
        Assert.Equal(Start + TimeSpan.FromMinutes(10), DateTimeOffset.Parse(query["se"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, cache.Fetches);
    }

    private static UserDelegationKey Key(DateTimeOffset startsOn, DateTimeOffset expiresOn, string objectId) =>
        BlobsModelFactory.UserDelegationKey(objectId, "tenant", startsOn, expiresOn, "b", "2025-01-05", Convert.ToBase64String(new byte[32]));

    private sealed class NoCredential : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) => throw new InvalidOperationException("no network in unit tests");

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) => throw new InvalidOperationException("no network in unit tests");
    }
}
