namespace OrleansCrates.Accounts;

/// <summary>
/// User logins: <c>[A-Za-z0-9][A-Za-z0-9_-]{0,38}</c> (GitHub's length). Logins are case-insensitive: <c>Alice</c>
/// and <c>alice</c> are one user, stored under the lowercase form and shown with the first spelling.
/// </summary>
public static class UserLogin
{
    public const int MaxLength = 39;

    public static bool IsValid(string? login)
    {
        if (string.IsNullOrEmpty(login) || login.Length > MaxLength || !char.IsAsciiLetterOrDigit(login[0]))
        {
            return false;
        }

        foreach (var c in login)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The form users are compared and stored by (lowercase). Only for valid logins.</summary>
    public static string Canonical(string login) => login.ToLowerInvariant();
}
