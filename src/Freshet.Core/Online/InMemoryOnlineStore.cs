using System.Collections.Concurrent;

namespace Freshet.Online;

/// <summary>An online store in process memory, for tests and embedding; nothing survives the process.</summary>
/// <param name="shared">
/// Whether the store reports <see cref="IsShared"/>: tests set it to run several stream processors on one store
/// with the protocol of shared stores (docs/scale-out.md), as they would on Redis or PostgreSQL.
/// </param>
public sealed class InMemoryOnlineStore(bool shared = false) : IOnlineStore
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<byte[], byte[]>> _views = new(StringComparer.Ordinal);
    private readonly Lock _putLock = new();

    /// <inheritdoc />
    public bool IsShared { get; } = shared;

    /// <inheritdoc />
    public ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
    {
        var applied = 0;
        foreach (var w in writes)
        {
            var rows = _views.GetOrAdd(w.View, _ => new ConcurrentDictionary<byte[], byte[]>(ByteArrayComparer.Instance));
            while (true)
            {
                if (rows.TryGetValue(w.EntityKey, out var stored))
                {
                    if (!RowCodec.Supersedes(w.Row, stored))
                    {
                        break;
                    }

                    if (rows.TryUpdate(w.EntityKey, w.Row, stored))
                    {
                        applied++;
                        break;
                    }
                }
                else if (rows.TryAdd(w.EntityKey, w.Row))
                {
                    applied++;
                    break;
                }
            }
        }

        return ValueTask.FromResult(applied);
    }

    /// <inheritdoc />
    public ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < keys.Count; i++)
        {
            rows[i] = _views.TryGetValue(keys[i].View, out var view) && view.TryGetValue(keys[i].EntityKey, out var row) ? row : null;
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_views.TryRemove(view, out var rows) ? (long)rows.Count : 0L);

    /// <inheritdoc />
    /// <remarks>
    /// Every put is checked before any is applied, and puts take one lock, so of two concurrent calls one
    /// lands wholly after the other. A reader racing a put may see part of it (nothing here outlives the
    /// process, so no crash can leave a part behind).
    /// </remarks>
    public ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        for (var i = 0; i < puts.Count; i++)
        {
            if (puts[i].Namespace is null || puts[i].Key is null)
            {
                throw new ArgumentException($"put {i} has no namespace or no key", nameof(puts));
            }
        }

        lock (_putLock)
        {
            foreach (var put in puts)
            {
                var rows = _views.GetOrAdd(put.Namespace, _ => new ConcurrentDictionary<byte[], byte[]>(ByteArrayComparer.Instance));

                // Stored as copies: a caller reusing its buffers must not change what is stored.
                if (put.Value is { } value)
                {
                    rows[put.Key.ToArray()] = value.ToArray();
                }
                else
                {
                    rows.TryRemove(put.Key, out _);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>Swaps take the lock of <see cref="PutAsync"/>, so a swap never lands inside another call's puts.</remarks>
    public ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(swaps);
        ArgumentNullException.ThrowIfNull(applied);
        cancellationToken.ThrowIfCancellationRequested();
        if (applied.Length < swaps.Count)
        {
            throw new ArgumentException($"applied holds {applied.Length} flags for {swaps.Count} swaps", nameof(applied));
        }

        for (var i = 0; i < swaps.Count; i++)
        {
            if (swaps[i].Namespace is null || swaps[i].Key is null)
            {
                throw new ArgumentException($"swap {i} has no namespace or no key", nameof(swaps));
            }
        }

        lock (_putLock)
        {
            for (var i = 0; i < swaps.Count; i++)
            {
                var swap = swaps[i];
                var rows = _views.GetOrAdd(swap.Namespace, _ => new ConcurrentDictionary<byte[], byte[]>(ByteArrayComparer.Instance));
                var found = rows.TryGetValue(swap.Key, out var current);
                applied[i] = swap.Expected is null ? !found : found && current!.AsSpan().SequenceEqual(swap.Expected);
                if (!applied[i])
                {
                    continue;
                }

                if (swap.Value is { } value)
                {
                    rows[swap.Key.ToArray()] = value.ToArray();
                }
                else
                {
                    rows.TryRemove(swap.Key, out _);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>The matching rows are copied and sorted when the enumeration starts; later puts are not seen.</remarks>
    public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(@namespace);
        ArgumentNullException.ThrowIfNull(prefix);
        return Scan(@namespace, prefix, cancellationToken).ToAsyncEnumerable();
    }

    private IEnumerable<KeyValuePair<byte[], byte[]>> Scan(string @namespace, byte[] prefix, CancellationToken cancellationToken)
    {
        if (!_views.TryGetValue(@namespace, out var rows))
        {
            yield break;
        }

        var found = new List<KeyValuePair<byte[], byte[]>>();
        foreach (var row in rows)
        {
            if (row.Key.AsSpan().StartsWith(prefix))
            {
                found.Add(row);
            }
        }

        found.Sort(static (x, y) => x.Key.AsSpan().SequenceCompareTo(y.Key));
        foreach (var row in found)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return row;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Content equality for byte arrays used as keys.</summary>
public sealed class ByteArrayComparer : IEqualityComparer<byte[]>
{
    /// <summary>The one instance.</summary>
    public static readonly ByteArrayComparer Instance = new();

    /// <inheritdoc />
    public bool Equals(byte[]? x, byte[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);

    /// <inheritdoc />
    public int GetHashCode(byte[] obj)
    {
        var hash = new HashCode();
        hash.AddBytes(obj);
        return hash.ToHashCode();
    }
}
