using OrleansCrates.Core;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>The one day-range parser of the admin API and the CLI (logic only; the HTTP and CLI paths are in HardeningTests).</summary>
public sealed class DayRangeTests
{
    private static readonly DateOnly Today = new(2026, 11, 23);

    [Theory]
    [InlineData(null, null, "2026-11-17", "2026-11-23")]
    [InlineData("", "", "2026-11-17", "2026-11-23")]
    [InlineData(null, "9999-12-31", "9999-12-25", "9999-12-31")]
    [InlineData("9999-12-31", "9999-12-31", "9999-12-31", "9999-12-31")]
    [InlineData(null, "0001-01-01", "0001-01-01", "0001-01-01")]
    [InlineData(null, "0001-01-03", "0001-01-01", "0001-01-03")]
    [InlineData("2024-01-01", "2024-12-31", "2024-01-01", "2024-12-31")]
    public void Accepts_any_day_of_the_calendar_within_the_bound(string? from, string? to, string first, string last)
    {
        Assert.True(DayRange.TryParse(from, to, Today, out var range, out var error), error);
        Assert.Equal((DateOnly.Parse(first, System.Globalization.CultureInfo.InvariantCulture), DateOnly.Parse(last, System.Globalization.CultureInfo.InvariantCulture)), (range.First, range.Last));
        Assert.Equal(range.Days, range.EachDay().Count());
        Assert.Equal(range.Last, range.EachDay().Last());
    }

    [Theory]
    [InlineData("0001-01-01", "9999-12-31", "at most 366 days")]
    [InlineData("2024-01-01", "2025-01-01", "at most 366 days")]
    [InlineData(null, "9999-12-32", "to must be a date")]
    [InlineData("10000-01-01", null, "from must be a date")]
    [InlineData("2025-02-29", null, "from must be a date")]
    [InlineData("2025-1-1", null, "from must be a date")]
    [InlineData(" 2025-01-01", null, "from must be a date")]
    [InlineData("2025-01-01\n", null, "from must be a date")]
    [InlineData("2025-01-02", "2025-01-01", "from must not be after to")]
    public void Refuses_with_a_reason(string? from, string? to, string reason)
    {
        Assert.False(DayRange.TryParse(from, to, Today, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }
}
