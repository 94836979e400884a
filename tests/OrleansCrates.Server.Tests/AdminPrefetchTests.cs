using System.Text;
using OrleansCrates.Accounts;
using OrleansCrates.Server.Services;

namespace OrleansCrates.Server.Tests;

/// <summary>The admin prefetch's request rules and its summary (<see cref="AdminPrefetch"/>), without HTTP and without asking upstream.</summary>
public sealed class AdminPrefetchTests
{
    private static readonly System.Security.Claims.ClaimsPrincipal Admin = ServerHarness.Token("root", TokenScope.Admin);

    [Theory]
    [InlineData("not json")]
    [InlineData("{}")]
    [InlineData("""{"packages":[{"name":"serde"}]}""")]
    [InlineData("""{"packages":[null]}""")]
    public async Task A_body_that_is_not_a_package_list_is_a_bad_request(string body)
    {
        await using var server = new ServerHarness();

        var result = await server.Get<AdminPrefetch>().RunAsync(Admin, Body(body), default);

        Assert.Equal(AdminStatus.BadRequest, result.Status);
        Assert.StartsWith("expected {\"packages\": [{\"name\": CRATE", result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    public async Task A_concurrency_out_of_range_is_a_bad_request(int concurrency)
    {
        await using var server = new ServerHarness();

        var result = await server.Get<AdminPrefetch>().RunAsync(Admin, Body($$"""{"packages":[],"concurrency":{{concurrency}}}"""), default);

        Assert.Equal((AdminStatus.BadRequest, "at most 20000 packages, and concurrency 1 to 64"), (result.Status, result.Detail));
    }

    [Fact]
    public async Task Packages_outside_the_tokens_patterns_are_not_fetched_and_are_reported_with_the_others_failures()
    {
        await using var server = new ServerHarness();
        var limited = ServerHarness.Token("ops", TokenScope.Admin, "my-*");

        // "my-!" is within reach but no crate name: it fails before anything is asked; "serde" is out of reach.
        var result = await server.Get<AdminPrefetch>().RunAsync(
            limited, Body("""{"packages":[{"name":"serde","version":"1.0.0"},{"name":"my-!","version":"1.0.0"}],"concurrency":2}"""), default);

        Assert.Equal(AdminStatus.Ok, result.Status);
        var summary = result.Value!;
        Assert.Equal((0, 0, 0, 0), (summary.Fetched, summary.AlreadyPresent, summary.IndexesReady, summary.IndexesFailed));
        Assert.Equal(
            [("my-!", "not a valid crate name and version"), ("serde", "not within this token's crates")],
            summary.Failed.Select(f => (f.Package.Name, f.Error)));
    }

    private static MemoryStream Body(string json) => new(Encoding.UTF8.GetBytes(json));
}
