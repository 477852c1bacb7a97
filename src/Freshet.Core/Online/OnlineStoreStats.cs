namespace Freshet.Online;

/// <summary>
/// The read counters of one tier of a layered online store (docs/caching.md): <c>l1</c> the in-process cache,
/// <c>l2</c> the fast shared store, <c>l3</c> the durable store. Counters grow from the moment the store was
/// opened. The cache-only fields are null for the tiers that are stores.
/// </summary>
public sealed record OnlineTierStats(string Tier, string Store)
{
    /// <summary>Keys looked up in this tier.</summary>
    public long Lookups { get; init; }

    /// <summary>Keys this tier answered (for the cache, a remembered "no row" counts as a hit).</summary>
    public long Hits { get; init; }

    /// <summary>Keys this tier could not answer, passed to the next tier (for the last tier: keys with no row anywhere).</summary>
    public long Misses { get; init; }

    /// <summary><see cref="Hits"/> over <see cref="Lookups"/>; 0 before the first lookup.</summary>
    public double HitRatio => Lookups == 0 ? 0 : (double)Hits / Lookups;

    /// <summary>Rows copied into this tier after a miss (L2 filled from L3).</summary>
    public long Fills { get; init; }

    /// <summary>Cache entries older than the maximum staleness, fetched again (counted in <see cref="Misses"/> too).</summary>
    public long? StaleRefetches { get; init; }

    /// <summary>Cache entries removed to stay within the entry and byte bounds.</summary>
    public long? Evictions { get; init; }

    /// <summary>Cache entries dropped because a write (here or, through the invalidation channel, elsewhere) changed them.</summary>
    public long? Invalidations { get; init; }

    /// <summary>Entries the cache holds now.</summary>
    public long? Entries { get; init; }

    /// <summary>Bytes the cache's entries account for now (keys, rows and a fixed overhead per entry).</summary>
    public long? Bytes { get; init; }
}

/// <summary>An online store made of tiers that counts its reads per tier: <see cref="CachingOnlineStore"/>, <see cref="TieredOnlineStore"/>.</summary>
public interface IOnlineStoreStats
{
    /// <summary>A snapshot of every tier's counters, nearest tier first.</summary>
    IReadOnlyList<OnlineTierStats> GetTierStats();
}
