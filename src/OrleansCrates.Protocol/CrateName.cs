using System.Diagnostics.CodeAnalysis;

namespace OrleansCrates.Protocol;

/// <summary>
/// A syntactically valid crate name: 1–64 characters, an ASCII letter first, then ASCII letters, digits, '-' and '_'.
/// <see cref="Value"/> keeps the spelling it was given; <see cref="Lower"/> is what index paths and storage keys use;
/// <see cref="Canonical"/> (lower case, '-' as '_') is what uniqueness is decided on.
/// </summary>
public readonly record struct CrateName
{
    public const int MaxLength = 64;

    /// <summary>The longest <see cref="IndexPath"/>: two folders of two characters, then the name.</summary>
    private const int MaxIndexPathLength = 6 + MaxLength;

    private CrateName(string value)
    {
        Value = value;
        Lower = value.ToLowerInvariant();
    }

    public string Value { get; }

    public string Lower { get; }

    public string Canonical
    {
        get
        {
            Span<char> canonical = stackalloc char[MaxLength];
            return canonical[..WriteCanonical(canonical)].ToString();
        }
    }

    /// <summary><see cref="Canonical"/> (the one place its rule is spelled out) written into <paramref name="destination"/> (at least <see cref="MaxLength"/> characters); returns its length.</summary>
    public int WriteCanonical(Span<char> destination)
    {
        Lower.AsSpan().Replace(destination, '-', '_');
        return Lower.Length;
    }

    /// <summary>Whether <paramref name="path"/> is this crate's <see cref="IndexPath"/>, in any case (nothing allocated).</summary>
    public bool IsIndexPath(ReadOnlySpan<char> path)
    {
        Span<char> expected = stackalloc char[MaxIndexPathLength];
        return path.Equals(expected[..WriteIndexPath(expected)], StringComparison.OrdinalIgnoreCase);
    }

    public static bool TryParse(string? value, [NotNullWhen(true)] out CrateName? name)
    {
        name = IsValid(value) ? new CrateName(value!) : null;
        return name is not null;
    }

    public static CrateName Parse(string value) =>
        TryParse(value, out var name) ? name.Value : throw new FormatException($"'{value}' is not a valid crate name.");

    public static bool IsValid([NotNullWhen(true)] string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxLength || !char.IsAsciiLetter(value[0]))
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The sparse index path of this crate, e.g. <c>ca/rg/cargo</c>, <c>3/a/abc</c>, <c>1/a</c>.</summary>
    public string IndexPath
    {
        get
        {
            Span<char> path = stackalloc char[MaxIndexPathLength];
            return path[..WriteIndexPath(path)].ToString();
        }
    }

    /// <summary>Writes <see cref="IndexPath"/> (the one place its layout is spelled out) into <paramref name="destination"/>; returns its length.</summary>
    private int WriteIndexPath(Span<char> destination)
    {
        var lower = Lower.AsSpan();
        int written;
        _ = lower.Length switch
        {
            1 => destination.TryWrite($"1/{lower}", out written),
            2 => destination.TryWrite($"2/{lower}", out written),
            3 => destination.TryWrite($"3/{lower[0]}/{lower}", out written),
            _ => destination.TryWrite($"{lower[..2]}/{lower[2..4]}/{lower}", out written),
        };
        return written;
    }

    /// <summary>The <c>{prefix}</c> of a <c>dl</c> template: the index folder, in the name's own case.</summary>
    public string DownloadPrefix => Value.Length switch
    {
        1 => "1",
        2 => "2",
        3 => $"3/{Value[0]}",
        _ => $"{Value[..2]}/{Value[2..4]}",
    };

    public bool Equals(CrateName other) => string.Equals(Lower, other.Lower, StringComparison.Ordinal);

    public override int GetHashCode() => Lower.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => Value;
}
