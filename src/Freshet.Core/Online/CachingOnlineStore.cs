using System.Buffers;

namespace Freshet.Online;

/// <summary>
/// The L1 tier (docs/caching.md): an in-process cache in front of any <see cref="IOnlineStore"/>. Reads are
/// served from memory when the entry is younger than <see cref="CachingOnlineStoreOptions.MaxStaleness"/>; the
/// keys it cannot answer (absent, or too old) go to the inner store in one call, and what comes back (a row,
/// or "no row") is remembered. Writes go through to the inner store and then drop the entries they touched, so a
/// write from this process is seen by its next read; the keys are also published on the invalidation channel
/// for other processes' caches. Entries are bounded by count and by bytes and evicted by CLOCK (second chance).
/// </summary>
/// <remarks>
/// All members may be called concurrently. A read that fetched a row before a concurrent write (or
/// invalidation) of the same key does not put that older row into the cache: every write bumps the generation of
/// the key's stripe, and a fetched row is inserted only if the generation it saw before the fetch is unchanged.
/// The cache owns the inner store and the channel and disposes both. Rows are shared, not copied: callers must
/// not change the arrays a read returns.
/// </remarks>
public sealed partial class CachingOnlineStore : IOnlineStore, IOnlineStoreStats
{
    private readonly IOnlineStore _inner;
    private readonly CachingOnlineStoreOptions _options;
    private readonly IInvalidationChannel? _channel;
    private readonly long _maxStalenessTicks;

    private long _hits;
    private long _misses;
    private long _staleRefetches;
    private long _innerFound;
    private long _innerAbsent;

    /// <summary>Wraps <paramref name="inner"/>; subscribes to the options' invalidation channel, if any, before returning.</summary>
    public CachingOnlineStore(IOnlineStore inner, CachingOnlineStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _options = options ?? new CachingOnlineStoreOptions();
        _options.Validate();
        _maxStalenessTicks = (long)Math.Min(_options.MaxStaleness.TotalSeconds * _options.Time.TimestampFrequency, long.MaxValue / 2);
        _channel = _options.Invalidation;
        _channel?.Subscribe(OnInvalidation);
    }

    /// <summary>The store behind the cache.</summary>
    public IOnlineStore Inner => _inner;

    /// <inheritdoc />
    public bool IsShared => _inner.IsShared;

    /// <inheritdoc />
    public async ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default)
    {
        var count = keys.Count;
        var now = _options.Time.GetTimestamp();
        var missing = ArrayPool<int>.Shared.Rent(Math.Max(count, 1));
        var seen = ArrayPool<long>.Shared.Rent(Math.Max(count, 1));
        var cacheKeys = ArrayPool<CacheKey>.Shared.Rent(Math.Max(count, 1));
        try
        {
            // The epoch is read before any stripe generation: an invalidation of a whole view bumps it first.
            var epoch = Volatile.Read(ref _epoch);
            int hits = 0, stale = 0, missCount = 0;
            for (var i = 0; i < count; i++)
            {
                var key = new CacheKey(keys[i].View, keys[i].EntityKey);
                if (_entries.TryGetValue(key, out var entry))
                {
                    if (now - entry.FetchedAt <= _maxStalenessTicks)
                    {
                        rows[i] = entry.Row;
                        if (entry.Referenced == 0)
                        {
                            entry.Referenced = 1;
                        }

                        hits++;
                        continue;
                    }

                    stale++;
                }

                cacheKeys[missCount] = key;
                seen[missCount] = Volatile.Read(ref _generations[key.Stripe]);
                missing[missCount++] = i;
            }

            Interlocked.Add(ref _hits, hits);
            if (missCount == 0)
            {
                return;
            }

            Interlocked.Add(ref _misses, missCount);
            if (stale > 0)
            {
                Interlocked.Add(ref _staleRefetches, stale);
            }

            await FetchAsync(keys, rows, missing, missCount, cancellationToken);

            var found = 0;
            for (var m = 0; m < missCount; m++)
            {
                var row = rows[missing[m]];
                found += row is null ? 0 : 1;
                Insert(cacheKeys[m], row, now, seen[m], epoch);
            }

            Interlocked.Add(ref _innerFound, found);
            Interlocked.Add(ref _innerAbsent, missCount - found);
            EvictIfOver();
        }
        finally
        {
            Array.Clear(cacheKeys, 0, Math.Min(count, cacheKeys.Length));
            ArrayPool<CacheKey>.Shared.Return(cacheKeys);
            ArrayPool<long>.Shared.Return(seen);
            ArrayPool<int>.Shared.Return(missing);
        }
    }

    private async ValueTask FetchAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, int[] missing, int missCount, CancellationToken cancellationToken)
    {
        if (missCount == keys.Count)
        {
            // Nothing was cached: the caller's own arrays go to the inner store as they are.
            await _inner.ReadAsync(keys, rows, cancellationToken);
            return;
        }

        var missKeys = new OnlineKey[missCount];
        for (var m = 0; m < missCount; m++)
        {
            missKeys[m] = keys[missing[m]];
        }

        var missRows = new byte[]?[missCount];
        await _inner.ReadAsync(missKeys, missRows, cancellationToken);
        for (var m = 0; m < missCount; m++)
        {
            rows[missing[m]] = missRows[m];
        }
    }

    /// <inheritdoc />
    public async ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
    {
        var keys = KeysOf(writes, []);
        int replaced;
        try
        {
            replaced = await _inner.WriteAsync(writes, cancellationToken);
        }
        finally
        {
            // Also after a failure: part of the write may have been applied.
            InvalidateKeys(keys);
        }

        // Published only for a write that returned: a failed write is retried by its caller, which publishes then.
        await PublishAsync(new Invalidation(keys, []), cancellationToken);
        return replaced;
    }

    /// <inheritdoc />
    public async ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
    {
        var keys = KeysOf([], puts);
        try
        {
            await _inner.PutAsync(puts, cancellationToken);
        }
        finally
        {
            InvalidateKeys(keys);
        }

        await PublishAsync(new Invalidation(keys, []), cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>One call to the inner store; the entries of every written and put key are dropped, as by the two calls.</remarks>
    public async ValueTask<int> WriteAndPutAsync(IReadOnlyList<OnlineWrite> writes, IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
    {
        var keys = KeysOf(writes, puts);
        int replaced;
        try
        {
            replaced = await _inner.WriteAndPutAsync(writes, puts, cancellationToken);
        }
        finally
        {
            InvalidateKeys(keys);
        }

        await PublishAsync(new Invalidation(keys, []), cancellationToken);
        return replaced;
    }

    /// <inheritdoc />
    public async ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default)
    {
        var keys = new OnlineKey[swaps.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = new OnlineKey(swaps[i].Namespace, swaps[i].Key);
        }

        try
        {
            await _inner.SwapAsync(swaps, applied, cancellationToken);
        }
        finally
        {
            // Refused swaps are dropped too: the cached value they expected is likely out of date.
            InvalidateKeys(keys);
        }

        var changed = new List<OnlineKey>(keys.Length);
        for (var i = 0; i < keys.Length; i++)
        {
            if (applied[i])
            {
                changed.Add(keys[i]);
            }
        }

        if (changed.Count > 0)
        {
            await PublishAsync(new Invalidation(changed, []), cancellationToken);
        }
    }

    /// <inheritdoc />
    public async ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default)
    {
        long removed;
        try
        {
            removed = await _inner.DeleteViewAsync(view, cancellationToken);
        }
        finally
        {
            InvalidateWhere(view);
        }

        await PublishAsync(new Invalidation([], [view]), cancellationToken);
        return removed;
    }

    /// <inheritdoc />
    /// <remarks>Scans are not cached: they go to the inner store.</remarks>
    public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default) =>
        _inner.ScanAsync(@namespace, prefix, cancellationToken);

    /// <summary>The cache's counters (tier <c>l1</c>) followed by the inner store's tiers.</summary>
    public IReadOnlyList<OnlineTierStats> GetTierStats()
    {
        var hits = Interlocked.Read(ref _hits);
        var misses = Interlocked.Read(ref _misses);
        var tiers = new List<OnlineTierStats>
        {
            new("l1", "cache")
            {
                Lookups = hits + misses,
                Hits = hits,
                Misses = misses,
                StaleRefetches = Interlocked.Read(ref _staleRefetches),
                Evictions = Interlocked.Read(ref _evictions),
                Invalidations = Interlocked.Read(ref _invalidations),
                Entries = Interlocked.Read(ref _count),
                Bytes = Interlocked.Read(ref _bytes),
            },
        };
        if (_inner is IOnlineStoreStats inner)
        {
            tiers.AddRange(inner.GetTierStats());
        }
        else
        {
            var found = Interlocked.Read(ref _innerFound);
            var absent = Interlocked.Read(ref _innerAbsent);
            tiers.Add(new OnlineTierStats("l2", Observability.InstrumentedOnlineStore.NameOf(_inner)) { Lookups = found + absent, Hits = found, Misses = absent });
        }

        return tiers;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_channel is not null)
        {
            await _channel.DisposeAsync();
        }

        await _inner.DisposeAsync();
    }

    // The key of every row a write or put touches: the written rows', then the put ones'.
    private static OnlineKey[] KeysOf(IReadOnlyList<OnlineWrite> writes, IReadOnlyList<OnlinePut> puts)
    {
        var keys = new OnlineKey[writes.Count + puts.Count];
        for (var i = 0; i < writes.Count; i++)
        {
            keys[i] = new OnlineKey(writes[i].View, writes[i].EntityKey);
        }

        for (var i = 0; i < puts.Count; i++)
        {
            keys[writes.Count + i] = new OnlineKey(puts[i].Namespace, puts[i].Key);
        }

        return keys;
    }

    private ValueTask PublishAsync(Invalidation invalidation, CancellationToken cancellationToken) =>
        _channel is null ? ValueTask.CompletedTask : _channel.PublishAsync(invalidation, cancellationToken);

    private void OnInvalidation(Invalidation invalidation)
    {
        if (invalidation.All)
        {
            InvalidateWhere(null);
            return;
        }

        foreach (var view in invalidation.Views)
        {
            InvalidateWhere(view);
        }

        InvalidateKeys(invalidation.Keys);
    }
}
