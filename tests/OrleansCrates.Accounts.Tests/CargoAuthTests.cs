using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OrleansCrates.Accounts.Auth;
using OrleansCrates.Storage;

namespace OrleansCrates.Accounts.Tests;

/// <summary>
/// The authentication handler and the authorization decisions on real tokens in a real filesystem store, through
/// ASP.NET Core's own authentication and authorization services (no web server: the HTTP paths are in the
/// end-to-end suites).
/// </summary>
public sealed class CargoAuthTests : IAsyncDisposable
{
    private const string LoginUrl = "https://registry.example/private/me";
    private readonly TempStore _temp = new();
    private readonly ReadCountingStore _store;
    private readonly ServiceProvider _services;
    private readonly TokenStore _tokens;
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    public CargoAuthTests()
    {
        _store = new ReadCountingStore(_temp.Store);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IObjectStore>(_store);
        services.AddCargoAuth(_ => LoginUrl);
        _services = services.BuildServiceProvider();
        _tokens = _services.GetRequiredService<TokenStore>();
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public async Task No_header_is_anonymous_without_a_storage_read()
    {
        var result = await AuthenticateAsync(Context());

        Assert.True(result.None);
        Assert.Equal(0, _store.Reads);
    }

    [Theory]
    [InlineData("raw")]
    [InlineData("bearer")]
    [InlineData("BEARER")]
    [InlineData("basic")]
    [InlineData("basic-any-user")]
    public async Task Each_credential_form_names_its_token(string form)
    {
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Publish, ["acme-*"], _ct);
        var header = form switch
        {
            "raw" => secret,
            "bearer" => "Bearer " + secret,
            "BEARER" => "BEARER  " + secret,
            "basic" => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:" + secret)),
            _ => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("__token__:" + secret)),
        };

        var result = await AuthenticateAsync(Context(header));

        Assert.True(result.Succeeded, result.Failure?.Message);
        var token = TokenIdentity.TokenOf(result.Principal);
        Assert.Equal((info.Id, info.User, info.Scope), (token!.Id, token.User, token.Scope));
        Assert.Equal("alice", result.Principal!.Identity!.Name);
        Assert.Equal("publish", result.Principal.FindFirstValue(CargoAuth.ScopeClaim));
        Assert.Equal(["acme-*"], result.Principal.FindAll(CargoAuth.CratesClaim).Select(c => c.Value));
    }

    [Fact]
    public async Task A_revoked_token_fails_at_once_on_the_node_that_revoked_it()
    {
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Admin, [], _ct);
        Assert.True((await AuthenticateAsync(Context(secret))).Succeeded);

        Assert.True(await _tokens.RevokeAsync(info.Id, _ct));
        var result = await AuthenticateAsync(Context("Bearer " + secret));

        Assert.False(result.Succeeded);
        Assert.Equal(CargoTokenHandler.InvalidToken, result.Failure!.Message);
    }

    public static TheoryData<string> Malformed => new()
    {
        "Bearer",
        "Bearer ",
        "Basic",
        "Basic !!!notbase64!!!",
        "Basic Og==",                 // ":" - an empty token
        "Basic YWxpY2U=",             // "alice" - no colon
        "Basic YWxpY2U6",             // "alice:" - an empty token
        "Basic " + Convert.ToBase64String([0x61, 0x3a, 0xff, 0xfe]), // not UTF-8
        "ocr_not a token",
        "ocr_\u00ff\u00fe",
        "Digest username=\"x\"",
        new string('x', 100_000),
        "Basic " + new string('A', 100_000),
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task Malformed_credentials_fail_without_reading_storage(string header)
    {
        var result = await AuthenticateAsync(Context(header));

        Assert.False(result.Succeeded);
        Assert.False(result.None);
        Assert.Equal(0, _store.Reads);
    }

    [Fact]
    public async Task Two_authorization_headers_are_no_credential()
    {
        var (read, _) = await _tokens.CreateAsync("alice", TokenScope.Read, [], _ct);
        var (admin, _) = await _tokens.CreateAsync("root", TokenScope.Admin, [], _ct);
        var context = Context();
        context.Request.Headers.Authorization = new([read, admin]);

        var result = await AuthenticateAsync(context);

        Assert.False(result.Succeeded);
        Assert.Equal(0, _store.Reads);
    }

    [Fact]
    public async Task An_unknown_well_formed_token_fails_after_one_lookup()
    {
        var result = await AuthenticateAsync(Context("ocr_" + new string('a', 43)));

        Assert.False(result.Succeeded);
        Assert.Equal(1, _store.Reads);
    }

    [Theory]
    // token scope, patterns, crate, needed, decision: the pattern decides before the scope, for every scope
    [InlineData(TokenScope.Admin, "acme-*", "serde", TokenScope.Read, AccessDecision.OutOfReach)]
    [InlineData(TokenScope.Admin, "acme-*", "serde", TokenScope.Admin, AccessDecision.OutOfReach)]
    [InlineData(TokenScope.Read, "acme-*", "serde", TokenScope.Publish, AccessDecision.OutOfReach)]
    [InlineData(TokenScope.Read, "acme-*", "acme-core", TokenScope.Publish, AccessDecision.InsufficientScope)]
    [InlineData(TokenScope.Publish, "acme-*", "ACME_core", TokenScope.Publish, AccessDecision.Allowed)]
    [InlineData(TokenScope.Publish, "", "anything", TokenScope.Admin, AccessDecision.InsufficientScope)]
    [InlineData(TokenScope.Admin, "acme-*", "acme-x", TokenScope.Admin, AccessDecision.Allowed)]
    public async Task The_access_policy_decides_crate_calls_pattern_first(TokenScope scope, string patterns, string crate, TokenScope needed, AccessDecision expected)
    {
        var (secret, _) = await _tokens.CreateAsync("alice", scope, patterns.Split(',', StringSplitOptions.RemoveEmptyEntries), _ct);
        var user = (await AuthenticateAsync(Context(secret))).Principal!;

        var decision = _services.GetRequiredService<AccessPolicy>().Decide(TokenIdentity.TokenOf(user)!, needed, crate);

        Assert.Equal(expected, decision);
    }

    [Fact]
    public async Task An_anonymous_caller_is_never_allowed()
    {
        var authorization = _services.GetRequiredService<IAuthorizationService>();

        var result = await authorization.AuthorizeAsync(new ClaimsPrincipal(new ClaimsIdentity()), CargoAuth.TokenPolicy);

        Assert.False(result.Succeeded);
    }

    [Fact]
    public async Task No_credentials_on_a_registry_read_get_cargos_401_challenge()
    {
        var context = Context();
        await RunGateAsync(context);

        Assert.Equal(StatusCodes.Status401Unauthorized, context.Response.StatusCode);
        Assert.Equal($"Cargo login_url=\"{LoginUrl}\"", context.Response.Headers.WWWAuthenticate.ToString());
        Assert.Equal("this registry requires a token: see the login URL", Detail(context));
    }

    [Fact]
    public async Task A_rejected_token_on_a_registry_read_is_401_so_cargo_says_token_rejected()
    {
        var context = Context("ocr_unknown");
        await RunGateAsync(context);

        Assert.Equal(StatusCodes.Status401Unauthorized, context.Response.StatusCode);
        Assert.StartsWith("Cargo login_url=", context.Response.Headers.WWWAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rejected_token_on_the_web_api_is_403()
    {
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Admin, [], _ct);
        await _tokens.RevokeAsync(info.Id, _ct);
        var context = Context(secret);
        await RunPolicyAsync(context, CargoAuth.AdminPolicy);

        Assert.Equal(StatusCodes.Status403Forbidden, context.Response.StatusCode);
        Assert.Equal(CargoTokenHandler.InvalidToken, Detail(context));
        Assert.False(context.Response.Headers.ContainsKey("WWW-Authenticate"));
    }

    [Fact]
    public async Task No_credentials_on_the_web_api_get_the_challenge_naming_the_scope()
    {
        var context = Context();
        await RunPolicyAsync(context, CargoAuth.AdminPolicy);

        Assert.Equal(StatusCodes.Status401Unauthorized, context.Response.StatusCode);
        Assert.Equal("this action requires a token with scope admin", Detail(context));
    }

    [Fact]
    public async Task Too_small_a_scope_is_403_naming_both_scopes()
    {
        var (secret, _) = await _tokens.CreateAsync("alice", TokenScope.Publish, [], _ct);
        var context = Context(secret);
        var passed = await RunPolicyAsync(context, CargoAuth.AdminPolicy);

        Assert.False(passed);
        Assert.Equal(StatusCodes.Status403Forbidden, context.Response.StatusCode);
        Assert.Equal("this action requires a token with scope admin (this token's scope is publish)", Detail(context));
    }

    [Fact]
    public async Task An_allowed_caller_reaches_the_endpoint_as_its_principal()
    {
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Admin, ["acme-*"], _ct);
        var context = Context(secret);

        Assert.True(await RunPolicyAsync(context, CargoAuth.AdminPolicy));
        Assert.Equal(info.Id, TokenIdentity.TokenOf(context.User)!.Id);
    }

    public static TheoryData<string> RefusedRegistryReads => new()
    {
        "none",
        "ocr_" + new string('a', 43),   // well formed, unknown
        "revoked",
        "Bearer",                       // malformed
        "ocr_not a token",
        "two headers",
    };

    [Theory]
    [MemberData(nameof(RefusedRegistryReads))]
    public async Task The_read_gate_answers_every_refused_read_with_cargos_401_challenge(string credential)
    {
        var (read, info) = await _tokens.CreateAsync("alice", TokenScope.Read, [], _ct);
        var (other, _) = await _tokens.CreateAsync("bob", TokenScope.Read, [], _ct);
        if (credential == "revoked")
        {
            await _tokens.RevokeAsync(info.Id, _ct);
        }

        DefaultHttpContext Request()
        {
            var context = Context(credential switch { "none" or "two headers" => null, "revoked" => read, _ => credential });
            if (credential == "two headers")
            {
                context.Request.Headers.Authorization = new([read, other]);
            }

            return context;
        }

        var byGate = Request();
        var gatePassed = await RunGateAsync(byGate);

        Assert.False(gatePassed);
        Assert.Equal(
            (StatusCodes.Status401Unauthorized, $"Cargo login_url=\"{LoginUrl}\"", "application/json; charset=utf-8"),
            (byGate.Response.StatusCode, byGate.Response.Headers.WWWAuthenticate.ToString(), byGate.Response.ContentType));
        Assert.Equal("{\"errors\":[{\"detail\":\"" + RegistryReadGate.TokenRequired + "\"}]}", Body(byGate));
    }

    [Fact]
    public async Task The_read_gate_lets_a_valid_token_through_as_one_shared_principal()
    {
        var (secret, info) = await _tokens.CreateAsync("alice", TokenScope.Read, ["acme-*"], _ct);
        var first = Context(secret);
        var second = Context("Bearer " + secret);
        var readsBefore = _store.Reads;

        Assert.True(await RunGateAsync(first));
        Assert.True(await RunGateAsync(second));
        Assert.Equal(StatusCodes.Status200OK, first.Response.StatusCode);
        Assert.Equal((info.Id, "alice"), (TokenIdentity.TokenOf(first.User)!.Id, first.User.Identity!.Name));
        Assert.Same(first.User, second.User); // built once per cached answer, not once per request
        Assert.Equal(1, _store.Reads - readsBefore); // one storage read for both requests: the token cache answered the second
    }

    [Fact]
    public async Task The_authentication_handler_reuses_the_principal_of_a_cached_answer()
    {
        var (secret, _) = await _tokens.CreateAsync("alice", TokenScope.Publish, [], _ct);
        var (otherSecret, _) = await _tokens.CreateAsync("bob", TokenScope.Publish, [], _ct);

        var first = await AuthenticateAsync(Context(secret));
        var again = await AuthenticateAsync(Context(secret));
        var other = await AuthenticateAsync(Context(otherSecret));

        Assert.Same(first.Principal, again.Principal);
        Assert.NotSame(first.Principal, other.Principal);
        Assert.Equal("bob", other.Principal!.Identity!.Name);
    }

    [Fact]
    public async Task The_read_gate_lets_a_storage_failure_through_as_one_not_as_a_401()
    {
        var gate = new RegistryReadGate(_ => Task.CompletedTask, new TokenStore(new TokenStoreTests.UnreachableStore(), TimeProvider.System));

        await Assert.ThrowsAsync<StorageUnavailableException>(() => gate.InvokeAsync(Context("ocr_" + new string('b', 43))));
    }

    private DefaultHttpContext Context(string? authorization = null)
    {
        var context = new DefaultHttpContext { RequestServices = _services.CreateScope().ServiceProvider };
        context.Request.Scheme = "https";
        context.Request.Host = new HostString("registry.example");
        context.Response.Body = new MemoryStream();
        if (authorization is not null)
        {
            context.Request.Headers.Authorization = authorization;
        }

        return context;
    }

    private static Task<AuthenticateResult> AuthenticateAsync(HttpContext context) => context.AuthenticateAsync(CargoAuth.Scheme);

    /// <summary>What the authorization middleware does for an endpoint with <paramref name="policyName"/>: true when the endpoint would run.</summary>
    private async Task<bool> RunPolicyAsync(HttpContext context, string policyName)
    {
        var policy = (await _services.GetRequiredService<IAuthorizationPolicyProvider>().GetPolicyAsync(policyName))!;
        var evaluator = context.RequestServices.GetRequiredService<IPolicyEvaluator>();
        var authenticated = await evaluator.AuthenticateAsync(policy, context);
        var authorized = await evaluator.AuthorizeAsync(policy, authenticated, context, resource: context);
        var reached = false;
        await _services.GetRequiredService<IAuthorizationMiddlewareResultHandler>().HandleAsync(_ =>
        {
            reached = true;
            return Task.CompletedTask;
        }, context, policy, authorized);
        return reached;
    }

    /// <summary>What the read gate does for an endpoint of an auth-required registry: true when the endpoint would run.</summary>
    private async Task<bool> RunGateAsync(HttpContext context)
    {
        var reached = false;
        var gate = new RegistryReadGate(_ =>
        {
            reached = true;
            return Task.CompletedTask;
        }, _tokens);
        await gate.InvokeAsync(context);
        return reached;
    }

    private static string Body(HttpContext context)
    {
        context.Response.Body.Position = 0;
        return new StreamReader(context.Response.Body).ReadToEnd();
    }

    private static string Detail(HttpContext context)
    {
        context.Response.Body.Position = 0;
        using var json = JsonDocument.Parse(context.Response.Body);
        return json.RootElement.GetProperty("errors")[0].GetProperty("detail").GetString()!;
    }

    /// <summary>Counts reads of the real store, so a test can say a malformed credential cost no storage read.</summary>
    private sealed class ReadCountingStore(IObjectStore inner) : IObjectStore
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            return inner.OpenReadOrNullAsync(key, cancellationToken);
        }

        public Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            return inner.GetPropertiesOrNullAsync(key, cancellationToken);
        }

        public Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken) =>
            inner.BeginUploadAsync(key, condition, cancellationToken);

        public Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken) => inner.DeleteAsync(key, ifMatch, cancellationToken);

        public IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

        public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);
    }
}
