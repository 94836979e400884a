using System.Globalization;

namespace OrleansCrates.Core;

/// <summary>
/// An inclusive range of UTC days, as the admin API (<c>?from=&amp;to=</c>) and the CLI (<c>--from</c>/<c>--to</c>)
/// take it: both go through <see cref="TryParse"/>, so both refuse the same inputs with the same reasons. Days are
/// <c>YYYY-MM-DD</c>; without <c>to</c> the range ends today, without <c>from</c> it is the 7 days up to <c>to</c>
/// (clipped at the start of the calendar). At most <see cref="MaxDays"/> days, so no request walks the calendar.
/// Arithmetic is on day numbers, so the calendar's edges (0001-01-01, 9999-12-31) are ordinary days, never a 500.
/// </summary>
public readonly record struct DayRange(DateOnly First, DateOnly Last)
{
    /// <summary>The widest range one request may ask for: a year, leap day included.</summary>
    public const int MaxDays = 366;

    public const int DefaultDays = 7;

    public int Days => Last.DayNumber - First.DayNumber + 1;

    /// <summary>Every day of the range, first to last, without ever stepping past <see cref="DateOnly.MaxValue"/>.</summary>
    public IEnumerable<DateOnly> EachDay()
    {
        for (var day = First.DayNumber; day <= Last.DayNumber; day++)
        {
            yield return DateOnly.FromDayNumber(day);
        }
    }

    /// <summary>Parses <paramref name="from"/> and <paramref name="to"/> (null or empty: the default); false with a reason that names the option as <paramref name="fromName"/>/<paramref name="toName"/>.</summary>
    public static bool TryParse(string? from, string? to, DateOnly today, out DayRange range, out string error, string fromName = "from", string toName = "to")
    {
        range = default;
        DateOnly? first = null, last = null;
        if (!string.IsNullOrEmpty(from) && (first = ParseDay(from)) is null)
        {
            error = $"{fromName} must be a date YYYY-MM-DD";
            return false;
        }

        if (!string.IsNullOrEmpty(to) && (last = ParseDay(to)) is null)
        {
            error = $"{toName} must be a date YYYY-MM-DD";
            return false;
        }

        var end = last ?? today;
        var start = first ?? DateOnly.FromDayNumber(Math.Max(DateOnly.MinValue.DayNumber, end.DayNumber - (DefaultDays - 1)));
        if (start > end)
        {
            error = $"{fromName} must not be after {toName}";
            return false;
        }

        if (end.DayNumber - start.DayNumber >= MaxDays)
        {
            error = $"at most {MaxDays} days at a time";
            return false;
        }

        range = new DayRange(start, end);
        error = "";
        return true;
    }

    private static DateOnly? ParseDay(string text) =>
        text.Length == 10 && DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day) ? day : null;
}
