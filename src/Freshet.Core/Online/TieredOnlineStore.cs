namespace Freshet.Online;

/// <summary>
/// Two online stores as one (docs/caching.md): a fast tier (L2, e.g. Redis) in front of a durable tier (L3, e.g.
/// PostgreSQL), which is authoritative. Reads try L2; the keys it has no row for go to L3 in one call, and the
/// rows found there are copied into L2. Writes go to L3 first, then to L2; newest-wins in each tier keeps them in
/// agreement whatever the order of concurrent writers. State rows (<see cref="PutAsync"/>,
/// <see cref="SwapAsync"/>) are authoritative in L3 too: L2 holds a copy.
/// </summary>
/// <remarks>
/// <para>
/// Filling L2 after a miss must not put back a row older than one a concurrent write stored. Against writers in
/// this process, a fill is undone (the key is removed from L2, so the next read goes to L3 again) when a write of
/// the key's stripe was in flight or finished while the row was fetched. Against other processes sharing L2
/// (<see cref="IOnlineStore.IsShared"/>), fills are compare-and-sets that store a row only if L2 still has none, so a
/// concurrent write that reached L2 first wins. Not covered: a row deleted (a put of null, a view deletion) by
/// another process between this process's read of L3 and its fill comes back in L2.
/// </para>
/// <para>The store owns both tiers and disposes them.</para>
/// </remarks>
public sealed class TieredOnlineStore : IOnlineStore, IOnlineStoreStats
{
    private const int StripeCount = 1024;

    private readonly IOnlineStore _fast;
    private readonly IOnlineStore _durable;
    private readonly long[] _generations = new long[StripeCount];
    private readonly int[] _inFlight = new int[StripeCount];

    // Whole-view deletions, which touch every stripe.
    private long _viewGeneration;
    private int _viewsInFlight;

    private long _fastHits;
    private long _fastMisses;
    private long _durableHits;
    private long _durableMisses;
    private long _fills;

    /// <summary>Layers <paramref name="fast"/> (L2) over <paramref name="durable"/> (L3).</summary>
    public TieredOnlineStore(IOnlineStore fast, IOnlineStore durable)
    {
        ArgumentNullException.ThrowIfNull(fast);
        ArgumentNullException.ThrowIfNull(durable);
        _fast = fast;
        _durable = durable;
    }

    /// <summary>The fast tier (L2).</summary>
    public IOnlineStore Fast => _fast;

    /// <summary>The durable, authoritative tier (L3).</summary>
    public IOnlineStore Durable => _durable;

    /// <inheritdoc />
    public bool IsShared => _fast.IsShared || _durable.IsShared;

    /// <inheritdoc />
    public async ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default)
    {
        await _fast.ReadAsync(keys, rows, cancellationToken);
        var missCount = 0;
        for (var i = 0; i < keys.Count; i++)
        {
            missCount += rows[i] is null ? 1 : 0;
        }

        Interlocked.Add(ref _fastHits, keys.Count - missCount);
        if (missCount == 0)
        {
            return;
        }

        Interlocked.Add(ref _fastMisses, missCount);
        var missing = new int[missCount];
        var missKeys = new OnlineKey[missCount];
        var seen = new long[missCount];
        var viewGeneration = Volatile.Read(ref _viewGeneration);
        for (int i = 0, m = 0; i < keys.Count; i++)
        {
            if (rows[i] is null)
            {
                missing[m] = i;
                missKeys[m] = keys[i];
                seen[m++] = Volatile.Read(ref _generations[Stripe(keys[i].View, keys[i].EntityKey)]);
            }
        }

        var missRows = new byte[]?[missCount];
        await _durable.ReadAsync(missKeys, missRows, cancellationToken);
        var fills = new List<int>();
        for (var m = 0; m < missCount; m++)
        {
            rows[missing[m]] = missRows[m];
            if (missRows[m] is not null)
            {
                fills.Add(m);
            }
        }

        Interlocked.Add(ref _durableHits, fills.Count);
        Interlocked.Add(ref _durableMisses, missCount - fills.Count);
        if (fills.Count > 0)
        {
            await FillAsync(missKeys, missRows, seen, viewGeneration, fills, cancellationToken);
        }
    }

    private async ValueTask FillAsync(OnlineKey[] keys, byte[]?[] rows, long[] seen, long viewGeneration, List<int> fills, CancellationToken cancellationToken)
    {
        if (_fast.IsShared)
        {
            // Only where L2 still has no row: a write that reached L2 meanwhile is newer than what L3 gave us.
            var swaps = new OnlineSwap[fills.Count];
            for (var f = 0; f < fills.Count; f++)
            {
                var m = fills[f];
                swaps[f] = new OnlineSwap(keys[m].View, keys[m].EntityKey, null, rows[m]);
            }

            var applied = new bool[swaps.Length];
            await _fast.SwapAsync(swaps, applied, cancellationToken);
            Interlocked.Add(ref _fills, applied.Count(a => a));
        }
        else
        {
            var puts = new OnlinePut[fills.Count];
            for (var f = 0; f < fills.Count; f++)
            {
                var m = fills[f];
                puts[f] = new OnlinePut(keys[m].View, keys[m].EntityKey, rows[m]);
            }

            await _fast.PutAsync(puts, cancellationToken);
            Interlocked.Add(ref _fills, puts.Length);
        }

        // Undo the fills that raced a write of this process: the write may have reached L2 before the fill.
        List<OnlinePut>? undo = null;
        var viewsRaced = Volatile.Read(ref _viewsInFlight) != 0 || Volatile.Read(ref _viewGeneration) != viewGeneration;
        foreach (var m in fills)
        {
            var stripe = Stripe(keys[m].View, keys[m].EntityKey);
            if (viewsRaced || Volatile.Read(ref _inFlight[stripe]) != 0 || Volatile.Read(ref _generations[stripe]) != seen[m])
            {
                (undo ??= []).Add(new OnlinePut(keys[m].View, keys[m].EntityKey, null));
            }
        }

        if (undo is not null)
        {
            await _fast.PutAsync(undo, cancellationToken);
        }
    }

    /// <inheritdoc />
    /// <remarks>Returns the count of the durable tier.</remarks>
    public async ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
    {
        var stripes = Stripes(writes, []);
        Begin(stripes);
        try
        {
            var replaced = await _durable.WriteAsync(writes, cancellationToken);
            await ToFastAsync(() => _fast.WriteAsync(writes, cancellationToken).AsTask(), writes.Select(w => new OnlinePut(w.View, w.EntityKey, null)), cancellationToken);
            return replaced;
        }
        finally
        {
            End(stripes);
        }
    }

    /// <inheritdoc />
    public async ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
    {
        var stripes = Stripes([], puts);
        Begin(stripes);
        try
        {
            await _durable.PutAsync(puts, cancellationToken);
            await ToFastAsync(() => _fast.PutAsync(puts, cancellationToken).AsTask(), puts.Select(p => p with { Value = null }), cancellationToken);
        }
        finally
        {
            End(stripes);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// One call to each tier, durable first (all or none there if it can combine them), then L2; if L2 fails,
    /// its copies of every key are removed. Returns the count of the durable tier.
    /// </remarks>
    public async ValueTask<int> WriteAndPutAsync(IReadOnlyList<OnlineWrite> writes, IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
    {
        var stripes = Stripes(writes, puts);
        Begin(stripes);
        try
        {
            var replaced = await _durable.WriteAndPutAsync(writes, puts, cancellationToken);
            await ToFastAsync(
                () => _fast.WriteAndPutAsync(writes, puts, cancellationToken).AsTask(),
                writes.Select(w => new OnlinePut(w.View, w.EntityKey, null)).Concat(puts.Select(p => p with { Value = null })),
                cancellationToken);
            return replaced;
        }
        finally
        {
            End(stripes);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The compare-and-set runs on the durable tier; an applied swap is then put into L2, a refused one removed
    /// from L2 (its copy there is likely out of date; the next read fills it from L3). Two processes swapping one
    /// key can reach L2 in the other order than L3: L2 then holds the earlier value until the key's next swap,
    /// which is refused by L3 (it expects the L2 value) and so removes it from L2.
    /// </remarks>
    public async ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default)
    {
        var stripes = new int[swaps.Count];
        for (var i = 0; i < stripes.Length; i++)
        {
            stripes[i] = Stripe(swaps[i].Namespace, swaps[i].Key);
        }

        Begin(stripes);
        try
        {
            await _durable.SwapAsync(swaps, applied, cancellationToken);
            var puts = new OnlinePut[swaps.Count];
            for (var i = 0; i < puts.Length; i++)
            {
                puts[i] = new OnlinePut(swaps[i].Namespace, swaps[i].Key, applied[i] ? swaps[i].Value : null);
            }

            await ToFastAsync(() => _fast.PutAsync(puts, cancellationToken).AsTask(), puts.Select(p => p with { Value = null }), cancellationToken);
        }
        finally
        {
            End(stripes);
        }
    }

    /// <inheritdoc />
    /// <remarks>Returns the count of the durable tier.</remarks>
    public async ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _viewsInFlight);
        try
        {
            var removed = await _durable.DeleteViewAsync(view, cancellationToken);
            await _fast.DeleteViewAsync(view, cancellationToken);
            return removed;
        }
        finally
        {
            Interlocked.Increment(ref _viewGeneration);
            Interlocked.Decrement(ref _viewsInFlight);
        }
    }

    /// <inheritdoc />
    /// <remarks>Scans read the durable tier, which holds every row (L2 may hold only some).</remarks>
    public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default) =>
        _durable.ScanAsync(@namespace, prefix, cancellationToken);

    /// <summary>Tier <c>l2</c> (the fast store) and tier <c>l3</c> (the durable store).</summary>
    public IReadOnlyList<OnlineTierStats> GetTierStats()
    {
        long fastHits = Interlocked.Read(ref _fastHits), fastMisses = Interlocked.Read(ref _fastMisses);
        long durableHits = Interlocked.Read(ref _durableHits), durableMisses = Interlocked.Read(ref _durableMisses);
        return
        [
            new OnlineTierStats("l2", Observability.InstrumentedOnlineStore.NameOf(_fast)) { Lookups = fastHits + fastMisses, Hits = fastHits, Misses = fastMisses, Fills = Interlocked.Read(ref _fills) },
            new OnlineTierStats("l3", Observability.InstrumentedOnlineStore.NameOf(_durable)) { Lookups = durableHits + durableMisses, Hits = durableHits, Misses = durableMisses },
        ];
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _fast.DisposeAsync();
        }
        finally
        {
            await _durable.DisposeAsync();
        }
    }

    /// <summary>
    /// Writes the copy in L2 after the durable write succeeded. If that fails, the keys are removed from L2 (a
    /// missing L2 row is never wrong: reads go to L3) before the failure is reported.
    /// </summary>
    private async Task ToFastAsync(Func<Task> write, IEnumerable<OnlinePut> removals, CancellationToken cancellationToken)
    {
        try
        {
            await write();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            try
            {
                await _fast.PutAsync(removals.ToList(), cancellationToken);
            }
            catch (Exception removal) when (removal is not OperationCanceledException)
            {
                throw new AggregateException("the durable tier was written but the fast tier failed, and its copies of the keys could not be removed: it may serve older rows until they are written again", e, removal);
            }

            throw;
        }
    }

    private void Begin(int[] stripes)
    {
        foreach (var s in stripes)
        {
            Interlocked.Increment(ref _inFlight[s]);
        }
    }

    private void End(int[] stripes)
    {
        foreach (var s in stripes)
        {
            Interlocked.Increment(ref _generations[s]);
            Interlocked.Decrement(ref _inFlight[s]);
        }
    }

    // The stripe of every row a write or put touches: the written rows', then the put ones'.
    private static int[] Stripes(IReadOnlyList<OnlineWrite> writes, IReadOnlyList<OnlinePut> puts)
    {
        var stripes = new int[writes.Count + puts.Count];
        for (var i = 0; i < writes.Count; i++)
        {
            stripes[i] = Stripe(writes[i].View, writes[i].EntityKey);
        }

        for (var i = 0; i < puts.Count; i++)
        {
            stripes[writes.Count + i] = Stripe(puts[i].Namespace, puts[i].Key);
        }

        return stripes;
    }

    private static int Stripe(string view, byte[] key)
    {
        var hash = new HashCode();
        hash.Add(view, StringComparer.Ordinal);
        hash.AddBytes(key);
        return hash.ToHashCode() & (StripeCount - 1);
    }
}
