namespace OrleansCrates.Storage;

/// <summary>
/// The rules every storage key follows, whatever the provider: 1–1024 characters of <c>[A-Za-z0-9._+-]</c> in
/// '/'-separated segments, none empty, none "." or "..", none starting with '.'. Anything else is refused before any
/// provider sees it, so no key can escape a filesystem root or address another container.
/// </summary>
public static class ObjectKey
{
    public const int MaxLength = 1024;

    public static bool IsValid(string? key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > MaxLength)
        {
            return false;
        }

        var segmentStart = true;
        foreach (var c in key)
        {
            if (c == '/')
            {
                if (segmentStart)
                {
                    return false; // empty segment, or leading '/'
                }

                segmentStart = true;
                continue;
            }

            if (segmentStart && c == '.')
            {
                return false; // ".", "..", and hidden names (used for the store's own temp files)
            }

            segmentStart = false;
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '+'))
            {
                return false;
            }
        }

        return !segmentStart;
    }

    public static void Validate(string key)
    {
        if (!IsValid(key))
        {
            throw new ArgumentException($"Invalid storage key '{key}'.", nameof(key));
        }
    }

    /// <summary>Validates a list prefix: empty, or a valid key optionally ending in '/'.</summary>
    public static void ValidatePrefix(string prefix)
    {
        if (prefix.Length == 0)
        {
            return;
        }

        if (!IsValid(prefix.EndsWith('/') ? prefix[..^1] : prefix))
        {
            throw new ArgumentException($"Invalid storage prefix '{prefix}'.", nameof(prefix));
        }
    }
}
