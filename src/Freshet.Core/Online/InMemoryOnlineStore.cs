using System.Collections.Concurrent;

namespace Freshet.Online;

/// <summary>An online store in process memory, for tests and embedding; nothing survives the process.</summary>
public sealed class InMemoryOnlineStore : IOnlineStore
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<byte[], byte[]>> _views = new(StringComparer.Ordinal);

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
