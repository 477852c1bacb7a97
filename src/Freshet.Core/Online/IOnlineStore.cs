namespace Freshet.Online;

/// <summary>The address of one online row: a view and an encoded entity key (<see cref="EntityKeyCodec"/>).</summary>
public readonly record struct OnlineKey(string View, byte[] EntityKey);

/// <summary>One row to write: its address and its encoded form (<see cref="RowCodec"/>).</summary>
public readonly record struct OnlineWrite(string View, byte[] EntityKey, byte[] Row);

/// <summary>
/// One state row to put as it is (no newest-wins rule): aggregation tiles, source offsets, dead letters.
/// <see cref="Value"/> null deletes the row. <see cref="Namespace"/> plays the part a view name plays for rows.
/// </summary>
public readonly record struct OnlinePut(string Namespace, byte[] Key, byte[]? Value);

/// <summary>
/// One compare-and-set of a state row: <see cref="Value"/> is stored only if the stored value is still byte for
/// byte <see cref="Expected"/> (null: only if there is no row). <see cref="Value"/> null deletes the row.
/// </summary>
public readonly record struct OnlineSwap(string Namespace, byte[] Key, byte[]? Expected, byte[]? Value);

/// <summary>
/// Where online rows live. Semantics (DESIGN §3): per key, the row with the greatest (event, created)
/// timestamps wins; an older row never replaces a newer one, whatever the arrival order. A write that
/// returns is durable (for stores that persist). A read of many keys across many views is one round trip.
/// </summary>
public interface IOnlineStore : IAsyncDisposable
{
    /// <summary>
    /// True when other processes may write this store at the same time (Redis, PostgreSQL): stream processors
    /// then update state rows with <see cref="SwapAsync"/> instead of relying on one owner's atomic batch.
    /// Embedded stores have one owner and say false.
    /// </summary>
    bool IsShared => false;

    /// <summary>Writes rows; returns how many replaced what was stored (the others were older).</summary>
    ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default);

    /// <summary>Reads <paramref name="keys"/> into <paramref name="rows"/> (null where there is no row).</summary>
    ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default);

    /// <summary>Removes every row of a view; returns how many were removed.</summary>
    ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default);

    /// <summary>
    /// Puts state rows as they are, all of them or none (one atomic, durable batch): a stream processor writes
    /// its tile updates and the source offsets they consumed in one call (DESIGN §3, exactly-once effect).
    /// State rows are read with <see cref="ReadAsync"/> (the namespace in place of the view) and removed with
    /// <see cref="DeleteViewAsync"/> (the namespace).
    /// </summary>
    ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} does not store state rows");

    /// <summary>
    /// Writes <paramref name="writes"/> as <see cref="WriteAsync"/> does (newest wins; returns how many replaced
    /// what was stored), then puts <paramref name="puts"/> as <see cref="PutAsync"/> does, in that order (a put
    /// of a key a write also touches leaves the put's value). A push that feeds plain views and aggregation
    /// views makes one call. Stores that can commit both in one atomic, durable batch do (RocksDB: one synced
    /// write batch, so a crash keeps both parts or neither); the default makes the two calls in turn, so a
    /// failure of the second leaves the first applied.
    /// </summary>
    async ValueTask<int> WriteAndPutAsync(IReadOnlyList<OnlineWrite> writes, IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writes);
        ArgumentNullException.ThrowIfNull(puts);
        var applied = writes.Count == 0 ? 0 : await WriteAsync(writes, cancellationToken);
        if (puts.Count > 0)
        {
            await PutAsync(puts, cancellationToken);
        }

        return applied;
    }

    /// <summary>
    /// Compare-and-set of state rows, each one on its own (not all or none): <c>applied[i]</c> says whether
    /// <c>swaps[i]</c> found its expected value and was stored. Each swap is atomic with respect to every other
    /// write of the same key, from this process or another one sharing the store. Stream processors that share
    /// a store (several processes of one consumer group on Redis or PostgreSQL) update tile rows with it, so that
    /// a replayed or stale update is refused instead of applied twice (docs/scale-out.md). A key appears at
    /// most once per call.
    /// </summary>
    ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} does not compare-and-set state rows");

    /// <summary>The rows of a namespace (or view) whose key starts with <paramref name="prefix"/>, in key byte order.</summary>
    IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} does not scan rows");
}

/// <summary>
/// An embedded online store that another process has open (a running <c>freshet serve</c>): an embedded store
/// has one owner at a time.
/// </summary>
public sealed class OnlineStoreBusyException(string message, Exception? inner = null) : IOException(message, inner);
