using CsCheck;

namespace OrleansCrates.Testing.Properties;

/// <summary>CsCheck generators shared by the property tests (linked into each test project that uses them).</summary>
internal static class Generators
{
    /// <summary>One of <paramref name="values"/>.</summary>
    public static Gen<T> OneOf<T>(params T[] values) => Gen.Int[0, values.Length - 1].Select(i => values[i]);

    /// <summary>A character from a set written with ranges, e.g. <c>a-z0-9_-</c> (a '-' last is itself).</summary>
    public static Gen<char> Chars(string spec)
    {
        var set = new List<char>();
        for (var i = 0; i < spec.Length; i++)
        {
            if (i + 2 < spec.Length && spec[i + 1] == '-')
            {
                for (var c = spec[i]; c <= spec[i + 2]; c++)
                {
                    set.Add(c);
                }

                i += 2;
            }
            else
            {
                set.Add(spec[i]);
            }
        }

        return OneOf([.. set]);
    }
}
