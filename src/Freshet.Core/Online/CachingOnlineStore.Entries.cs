using System.Collections.Concurrent;

namespace Freshet.Online;

public sealed partial class CachingOnlineStore
{
    /// <summary>
    /// What an entry costs beyond its key and row bytes, for <see cref="CachingOnlineStoreOptions.MaxBytes"/>: the
    /// entry object, the dictionary node and the CLOCK queue slot (an estimate for 64-bit .NET).
    /// </summary>
    public const int EntryOverheadBytes = 112;

    // A power of two: a key's stripe is its hash masked. Stripes serialize inserts against invalidations of the
    // same keys; readers that hit take no lock.
    private const int StripeCount = 1024;

    private readonly ConcurrentDictionary<CacheKey, Entry> _entries = new(CacheKeyComparer.Instance);
    private readonly long[] _generations = new long[StripeCount];
    private readonly Lock[] _stripes = CreateStripes();
    private readonly ConcurrentQueue<Entry> _clock = new();
    private readonly Lock _evictLock = new();

    // Bumped by invalidations of whole views (and of everything), which cannot bump every stripe atomically.
    private long _epoch;
    private long _count;
    private long _bytes;
    private long _queued;
    private long _evictions;
    private long _invalidations;

    private static Lock[] CreateStripes()
    {
        var stripes = new Lock[StripeCount];
        for (var i = 0; i < stripes.Length; i++)
        {
            stripes[i] = new Lock();
        }

        return stripes;
    }

    private void Insert(CacheKey key, byte[]? row, long fetchedAt, long generation, long epoch)
    {
        // The key is copied: the caller may reuse its buffer after the read.
        var entry = new Entry(new CacheKey(key.View, key.EntityKey.ToArray(), key.Hash), row, fetchedAt);
        lock (_stripes[key.Stripe])
        {
            if (_generations[key.Stripe] != generation || Volatile.Read(ref _epoch) != epoch)
            {
                // A write or an invalidation ran while the row was fetched: it may be older than the store's.
                return;
            }

            while (true)
            {
                if (_entries.TryGetValue(entry.Key, out var old))
                {
                    if (_entries.TryUpdate(entry.Key, entry, old))
                    {
                        Removed(old);
                        break;
                    }
                }
                else if (_entries.TryAdd(entry.Key, entry))
                {
                    break;
                }
            }

            Interlocked.Increment(ref _count);
            Interlocked.Add(ref _bytes, entry.Bytes);
        }

        Interlocked.Increment(ref _queued);
        _clock.Enqueue(entry);
    }

    private void Removed(Entry entry)
    {
        entry.Removed = true;
        Interlocked.Decrement(ref _count);
        Interlocked.Add(ref _bytes, -entry.Bytes);
    }

    /// <summary>
    /// CLOCK: entries sit in a queue in insertion order; the hand takes the oldest, gives a referenced one a
    /// second chance (clears the bit, puts it back) and evicts an unreferenced one. Entries already removed (by a
    /// write or a refetch) are dropped from the queue as the hand meets them; the queue is swept for them too when
    /// it holds more than twice the entry bound, so it cannot grow without limit while the cache is under its bounds.
    /// </summary>
    private void EvictIfOver()
    {
        if (!OverBounds() && Interlocked.Read(ref _queued) <= QueueBound())
        {
            return;
        }

        lock (_evictLock)
        {
            // At most two turns of the clock: every referenced entry has lost its bit after the first.
            var budget = 2 * Interlocked.Read(ref _queued) + 16;
            while (budget-- > 0 && (OverBounds() || Interlocked.Read(ref _queued) > QueueBound()) && _clock.TryDequeue(out var entry))
            {
                if (entry.Removed)
                {
                    Interlocked.Decrement(ref _queued);
                    continue;
                }

                if (entry.Referenced != 0 || !OverBounds())
                {
                    entry.Referenced = 0;
                    _clock.Enqueue(entry);
                    continue;
                }

                Interlocked.Decrement(ref _queued);
                lock (_stripes[entry.Key.Stripe])
                {
                    if (_entries.TryRemove(new KeyValuePair<CacheKey, Entry>(entry.Key, entry)))
                    {
                        Removed(entry);
                        Interlocked.Increment(ref _evictions);
                    }
                }
            }
        }
    }

    private bool OverBounds() => Interlocked.Read(ref _count) > _options.MaxEntries || Interlocked.Read(ref _bytes) > _options.MaxBytes;

    private long QueueBound() => (2L * _options.MaxEntries) + 64;

    private void InvalidateKeys(IReadOnlyList<OnlineKey> keys)
    {
        for (var i = 0; i < keys.Count; i++)
        {
            var key = new CacheKey(keys[i].View, keys[i].EntityKey);
            lock (_stripes[key.Stripe])
            {
                _generations[key.Stripe]++;
                if (_entries.TryRemove(key, out var entry))
                {
                    Removed(entry);
                    Interlocked.Increment(ref _invalidations);
                }
            }
        }
    }

    /// <summary>Drops every entry of <paramref name="view"/> (every entry when null).</summary>
    private void InvalidateWhere(string? view)
    {
        Interlocked.Increment(ref _epoch);

        // A barrier: an insert that checked the old epoch holds its stripe's lock until its entry is in the map,
        // so once every stripe has been taken, the scan below sees all such entries.
        foreach (var stripe in _stripes)
        {
            stripe.Enter();
            stripe.Exit();
        }

        foreach (var pair in _entries)
        {
            if (view is null || string.Equals(pair.Key.View, view, StringComparison.Ordinal))
            {
                if (_entries.TryRemove(pair))
                {
                    Removed(pair.Value);
                    Interlocked.Increment(ref _invalidations);
                }
            }
        }
    }

    private sealed class Entry(CacheKey key, byte[]? row, long fetchedAt)
    {
        public readonly CacheKey Key = key;
        public readonly byte[]? Row = row;
        public readonly long FetchedAt = fetchedAt;
        public readonly int Bytes = key.EntityKey.Length + (row?.Length ?? 0) + EntryOverheadBytes;

        // The CLOCK bit, set by readers that hit (a plain write: a lost update only costs a second chance).
        public int Referenced;

        // Set once by whoever removed the entry from the map (the removal that succeeded), so it is counted once.
        public volatile bool Removed;
    }

    private readonly struct CacheKey
    {
        public CacheKey(string view, byte[] entityKey)
        {
            View = view;
            EntityKey = entityKey;
            var hash = new HashCode();
            hash.Add(view, StringComparer.Ordinal);
            hash.AddBytes(entityKey);
            Hash = hash.ToHashCode();
        }

        public CacheKey(string view, byte[] entityKey, int hash)
        {
            View = view;
            EntityKey = entityKey;
            Hash = hash;
        }

        public string View { get; }

        public byte[] EntityKey { get; }

        public int Hash { get; }

        public int Stripe => Hash & (StripeCount - 1);
    }

    private sealed class CacheKeyComparer : IEqualityComparer<CacheKey>
    {
        public static readonly CacheKeyComparer Instance = new();

        public bool Equals(CacheKey x, CacheKey y) =>
            x.Hash == y.Hash && string.Equals(x.View, y.View, StringComparison.Ordinal) && x.EntityKey.AsSpan().SequenceEqual(y.EntityKey);

        public int GetHashCode(CacheKey obj) => obj.Hash;
    }
}
