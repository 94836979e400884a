namespace OrleansCrates.Operations.Telemetry;

/// <summary>A memory layer's budget, the bytes it holds and its lookups (the hit ratio is hits over lookups).</summary>
public readonly record struct HotSetStatistics(long BudgetBytes, long Bytes, long Hits, long Misses)
{
    /// <summary>Hits over lookups; 0 before the first lookup.</summary>
    public double HitRatio => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);
}
