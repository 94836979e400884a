using System.Text;

namespace OrleansCrates.Accounts.Tests;

public sealed class CredentialParserTests
{
    private const string Token = "ocr_AbCdEf0123456789-_xyz";

    [Theory]
    [InlineData(Token, Token)] // cargo: the token verbatim
    [InlineData("  " + Token + "  ", Token)]
    [InlineData("Bearer " + Token, Token)]
    [InlineData("bearer " + Token, Token)]
    [InlineData("BEARER   " + Token, Token)]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("   ", null)]
    [InlineData("Bearer", null)]
    [InlineData("Bearer ", null)]
    [InlineData("Bearer a b", null)]
    [InlineData("Token " + Token, null)] // an unknown scheme is not a token
    [InlineData("ocr_x\u0001", null)]
    [InlineData("ocr_ü", null)]
    [InlineData("Basic", null)]
    [InlineData("Basic ", null)]
    [InlineData("Basic !!!notbase64", null)]
    public void Reads_raw_and_bearer_tokens(string? header, string? expected) => Assert.Equal(expected, CredentialParser.SecretFrom(header));

    [Theory]
    [InlineData("alice:" + Token, Token)]
    [InlineData("anyone-at-all:" + Token, Token)] // the user part is ignored: the token says whose it is
    [InlineData(":" + Token, Token)]
    [InlineData("alice:" + Token + ":with-colon", Token + ":with-colon")] // only the first ':' separates
    [InlineData("alice:", null)]
    [InlineData("alice", null)]
    [InlineData("alice:has space", null)]
    public void Reads_the_password_of_basic_auth(string userColonPassword, string? expected)
    {
        var header = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(userColonPassword));
        Assert.Equal(expected, CredentialParser.SecretFrom(header));
        Assert.Equal(expected, CredentialParser.SecretFrom("basic  " + Convert.ToBase64String(Encoding.UTF8.GetBytes(userColonPassword))));
    }

    [Fact]
    public void Refuses_overlong_tokens()
    {
        Assert.NotNull(CredentialParser.SecretFrom(new string('a', CredentialParser.MaxTokenLength)));
        Assert.Null(CredentialParser.SecretFrom(new string('a', CredentialParser.MaxTokenLength + 1)));
        Assert.Null(CredentialParser.SecretFrom("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("u:" + new string('a', 600)))));
    }
}
