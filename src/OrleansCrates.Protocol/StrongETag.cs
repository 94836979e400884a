using System.Security.Cryptography;

namespace OrleansCrates.Protocol;

/// <summary>
/// The one strong ETag of served bytes: quoted hex of the first 16 bytes of their SHA-256. It depends on the bytes
/// alone, so every node gives equal bytes the same tag and a client's cached copy matches on any node.
/// </summary>
public static class StrongETag
{
    public static string Of(ReadOnlySpan<byte> body)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(body, hash);
        return "\"" + Convert.ToHexStringLower(hash[..16]) + "\"";
    }
}
