namespace Freshet.RocksDb;

/// <summary>How <see cref="RocksDbOnlineStore.Open"/> tunes the database. The defaults suit one serving machine.</summary>
public sealed record RocksDbOnlineStoreOptions
{
    /// <summary>The default size of the block cache: 64 MiB.</summary>
    public const long DefaultBlockCacheBytes = 64L * 1024 * 1024;

    /// <summary>The default bloom filter size: 10 bits per key, about 1% false positives.</summary>
    public const int DefaultBloomFilterBitsPerKey = 10;

    /// <summary>The default number of key locks that serialize writers of the same key.</summary>
    public const int DefaultLockStripes = 1024;

    /// <summary>Bytes of uncompressed blocks kept in memory for reads.</summary>
    public long BlockCacheBytes { get; init; } = DefaultBlockCacheBytes;

    /// <summary>
    /// Bits per key of the bloom filter in each table file, so a lookup of a key that is not stored (an
    /// unknown entity, or the read before writing a new row) seldom touches a data block; 0 for none.
    /// </summary>
    public int BloomFilterBitsPerKey { get; init; } = DefaultBloomFilterBitsPerKey;

    /// <summary>
    /// How many locks guard the read-compare-write of newest-wins; rounded up to a power of two. Writers of
    /// different keys contend only when their keys hash to the same stripe.
    /// </summary>
    public int LockStripes { get; init; } = DefaultLockStripes;

    /// <summary>Turns RocksDB's statistics on (tests count write-ahead-log syncs with them); off by default, as they cost a little per call.</summary>
    internal bool Statistics { get; init; }
}
