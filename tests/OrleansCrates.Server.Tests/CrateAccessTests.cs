using OrleansCrates.Accounts;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Server.Auth;

namespace OrleansCrates.Server.Tests;

/// <summary>Who <see cref="CrateAccess"/> takes the caller of a request to be, where nothing authenticated it before (open reads).</summary>
public sealed class CrateAccessTests
{
    [Fact]
    public async Task A_valid_token_sent_to_an_open_registry_is_the_caller_and_its_download_is_recorded()
    {
        await using var server = new ServerHarness();
        var (secret, info) = await server.Get<TokenStore>().CreateAsync("alice", TokenScope.Read, ["*"], default);
        var context = server.Request();
        context.Request.Headers.Authorization = secret;

        var caller = await server.Get<CrateAccess>().CallerAsync(context);
        await server.Get<CrateAccess>().RecordDownloadAsync(context, DownloadRecord.Mirror, "serde", "1.0.0");

        Assert.Equal((info.Id, "alice"), (TokenIdentity.TokenOf(caller)?.Id, TokenIdentity.TokenOf(caller)?.User));
        Assert.Same(caller, context.User); // kept for the rest of the request
        Assert.Same(TokenIdentity.PrincipalOf(TokenIdentity.TokenOf(caller)!), caller); // the token's one shared principal
        Assert.Equal(1, server.Get<DownloadLog>().PendingCount);
    }

    [Theory]
    [InlineData("cio_not-a-token")]
    [InlineData("Bearer")]
    public async Task An_unknown_or_malformed_token_is_an_anonymous_caller_whose_downloads_are_not_recorded(string header)
    {
        await using var server = new ServerHarness();
        var context = server.Request();
        context.Request.Headers.Authorization = header;

        var caller = await server.Get<CrateAccess>().CallerAsync(context);
        await server.Get<CrateAccess>().RecordDownloadAsync(context, DownloadRecord.Mirror, "serde", "1.0.0");

        Assert.Equal((false, null), (caller.Identity?.IsAuthenticated ?? false, TokenIdentity.TokenOf(context.User)));
        Assert.Equal(0, server.Get<DownloadLog>().PendingCount);
    }

    [Fact]
    public async Task A_revoked_token_is_an_anonymous_caller()
    {
        await using var server = new ServerHarness();
        var tokens = server.Get<TokenStore>();
        var (secret, info) = await tokens.CreateAsync("alice", TokenScope.Read, ["*"], default);
        await tokens.RevokeAsync(info.Id, default);
        var context = server.Request();
        context.Request.Headers.Authorization = secret;

        var caller = await server.Get<CrateAccess>().CallerAsync(context);

        Assert.Null(TokenIdentity.TokenOf(caller));
    }
}
