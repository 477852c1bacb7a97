namespace Freshet.Online;

/// <summary>The bounds of a <see cref="CachingOnlineStore"/> (docs/caching.md).</summary>
public sealed record CachingOnlineStoreOptions
{
    /// <summary>The most entries the cache holds (rows and remembered "no row"s); default 100,000.</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>The most bytes its entries account for (key, row and <see cref="CachingOnlineStore.EntryOverheadBytes"/> each); default 64 MiB.</summary>
    public long MaxBytes { get; init; } = 64L << 20;

    /// <summary>
    /// How old an entry may be and still be served; older ones are fetched again. It bounds how long a write
    /// made elsewhere can go unseen when its invalidation message is lost. Default 2 s; zero caches nothing.
    /// </summary>
    public TimeSpan MaxStaleness { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Where writes made elsewhere are announced (Redis pub/sub); null: only this process's writes invalidate.</summary>
    public IInvalidationChannel? Invalidation { get; init; }

    /// <summary>The clock entries' ages are measured with (tests pass a manual one).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Checks the bounds; the message names the option.</summary>
    public void Validate()
    {
        if (MaxEntries < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxEntries), MaxEntries, "max_entries must be at least 1");
        }

        if (MaxBytes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBytes), MaxBytes, "max_bytes must be at least 1");
        }

        if (MaxStaleness < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxStaleness), MaxStaleness, "max_staleness must not be negative");
        }
    }
}
