using System.Buffers.Text;
using System.Text;

namespace OrleansCrates.Accounts;

/// <summary>
/// Reads the token out of an <c>Authorization</c> header in the forms clients send:
/// <list type="bullet">
/// <item>the token verbatim, as cargo sends it (<c>Authorization: ocr_...</c>);</item>
/// <item><c>Bearer &lt;token&gt;</c>, as most HTTP tools and CI systems send it;</item>
/// <item>HTTP Basic <c>base64(user:token)</c>: the password is the token and the user part is <b>ignored</b>. Tools
/// that can only do Basic auth often send a fixed or arbitrary user name (<c>token</c>, <c>__token__</c>, an e-mail),
/// and the token alone says whose it is, so nothing is gained by rejecting a mismatch.</item>
/// </list>
/// A token is 1–<see cref="MaxTokenLength"/> printable ASCII characters without spaces; anything else is no
/// credential (null). The parser never logs or echoes what it was given.
/// </summary>
public static class CredentialParser
{
    public const int MaxTokenLength = 512;

    public static string? SecretFrom(string? authorizationHeader)
    {
        if (string.IsNullOrWhiteSpace(authorizationHeader))
        {
            return null;
        }

        var value = authorizationHeader.AsSpan().Trim();
        if (TryScheme(value, "Bearer", out var bearer))
        {
            return Token(bearer);
        }

        if (TryScheme(value, "Basic", out var basic))
        {
            return FromBasic(basic);
        }

        if (value.Equals("Bearer", StringComparison.OrdinalIgnoreCase) || value.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            return null; // a scheme with nothing after it
        }

        return Token(value, authorizationHeader);
    }

    private static bool TryScheme(ReadOnlySpan<char> value, string scheme, out ReadOnlySpan<char> rest)
    {
        if (value.Length > scheme.Length && value.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && value[scheme.Length] == ' ')
        {
            rest = value[(scheme.Length + 1)..].Trim();
            return true;
        }

        rest = default;
        return false;
    }

    private static string? FromBasic(ReadOnlySpan<char> encoded)
    {
        if (encoded.IsEmpty || encoded.Length > 4 * MaxTokenLength)
        {
            return null;
        }

        var bytes = new byte[Base64.GetMaxDecodedFromUtf8Length(encoded.Length)];
        if (!Convert.TryFromBase64Chars(encoded, bytes, out var written))
        {
            return null;
        }

        string decoded;
        try
        {
            decoded = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes, 0, written);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? null : Token(decoded.AsSpan(colon + 1));
    }

    /// <summary>The token in <paramref name="candidate"/>; <paramref name="whole"/> itself when it is the whole header (cargo's form: no copy per request).</summary>
    private static string? Token(ReadOnlySpan<char> candidate, string? whole = null)
    {
        if (candidate.IsEmpty || candidate.Length > MaxTokenLength)
        {
            return null;
        }

        foreach (var c in candidate)
        {
            if (c is <= ' ' or > '~')
            {
                return null; // controls, spaces, DEL and anything outside ASCII
            }
        }

        return whole is not null && candidate.Length == whole.Length ? whole : candidate.ToString();
    }
}
