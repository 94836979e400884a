namespace OrleansCrates.Bench.Infrastructure;

/// <summary>An expected failure of a bench step, with a message meant for the report.</summary>
internal sealed class BenchException : Exception
{
    public BenchException(string message)
        : base(message)
    {
    }

    public BenchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
