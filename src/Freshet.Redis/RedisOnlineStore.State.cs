using System.Runtime.CompilerServices;
using Freshet.Online;
using StackExchange.Redis;

namespace Freshet.Redis;

/// <summary>State rows, scans and deletes: the parts of the store that find keys by prefix.</summary>
public sealed partial class RedisOnlineStore
{
    private static readonly RedisValue SetFlag = "1";
    private static readonly RedisValue DeleteFlag = "0";
    private static readonly RedisValue[] SwapFlags = ["00", "01", "10", "11"];

    // Put batches are sent under this lock so that concurrent batches reach every node in the same order: two
    // batches writing the same keys on several slots then leave all of them from the same (the later) batch.
    private readonly Lock _putOrder = new();

    /// <inheritdoc />
    /// <remarks>
    /// One script call: all or none on a single node or Garnet. On a cluster, one script per hash slot, each atomic
    /// on its own, and the batch as a whole is not (<see cref="AtomicPuts"/>).
    /// </remarks>
    public async ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        var n = puts.Count;
        if (n == 0)
        {
            return;
        }

        // Checked whole before anything is sent, so a bad put stores nothing of its batch.
        var keys = new RedisKey[n];
        for (var i = 0; i < n; i++)
        {
            var put = puts[i];
            if (put.Namespace is null || put.Key is null)
            {
                throw new ArgumentException($"put {i} has no namespace or no key", nameof(puts));
            }

            keys[i] = _keys.Key(put.Namespace, put.Key);
        }

        var groups = SlotGroups(keys);
        var calls = new Task<RedisResult>[groups.Count];
        var args = new RedisValue[groups.Count][];
        var groupKeys = new RedisKey[groups.Count][];
        for (var g = 0; g < groups.Count; g++)
        {
            var group = groups[g];
            groupKeys[g] = new RedisKey[group.Count];
            args[g] = new RedisValue[group.Count * 2];
            for (var j = 0; j < group.Count; j++)
            {
                var value = puts[group[j]].Value;
                groupKeys[g][j] = keys[group[j]];
                args[g][2 * j] = value is null ? DeleteFlag : SetFlag;
                args[g][(2 * j) + 1] = value ?? RedisValue.EmptyString;
            }
        }

        lock (_putOrder)
        {
            for (var g = 0; g < groups.Count; g++)
            {
                calls[g] = _db.ScriptEvaluateAsync(RedisScripts.Put, groupKeys[g], args[g]);
            }
        }

        try
        {
            await Task.WhenAll(calls).ConfigureAwait(false);
        }
        catch (Exception e) when (IsOutage(e))
        {
            throw Unavailable(e);
        }
    }

    /// <inheritdoc />
    public async ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        var n = swaps.Count;
        if (applied.Length < n)
        {
            throw new ArgumentException($"room for {applied.Length} answers, {n} swaps asked for", nameof(applied));
        }

        if (n == 0)
        {
            return;
        }

        var keys = new RedisKey[n];
        var seen = new HashSet<RedisKey>();
        for (var i = 0; i < n; i++)
        {
            var swap = swaps[i];
            if (swap.Namespace is null || swap.Key is null)
            {
                throw new ArgumentException($"swap {i} has no namespace or no key", nameof(swaps));
            }

            keys[i] = _keys.Key(swap.Namespace, swap.Key);
            if (!seen.Add(keys[i]))
            {
                throw new ArgumentException($"swap {i} repeats a key of the same call (namespace '{swap.Namespace}')", nameof(swaps));
            }
        }

        var chunks = new List<(List<int> Group, int Start, int Count, Task<RedisResult> Call)>();
        foreach (var group in SlotGroups(keys))
        {
            for (var start = 0; start < group.Count; start += _options.RowsPerScript)
            {
                var count = Math.Min(_options.RowsPerScript, group.Count - start);
                var chunkKeys = new RedisKey[count];
                var chunkArgs = new RedisValue[count * 3];
                for (var j = 0; j < count; j++)
                {
                    var index = group[start + j];
                    var swap = swaps[index];
                    chunkKeys[j] = keys[index];
                    chunkArgs[3 * j] = SwapFlags[(swap.Expected is null ? 0 : 2) + (swap.Value is null ? 0 : 1)];
                    chunkArgs[(3 * j) + 1] = swap.Expected ?? RedisValue.EmptyString;
                    chunkArgs[(3 * j) + 2] = swap.Value ?? RedisValue.EmptyString;
                }

                chunks.Add((group, start, count, _db.ScriptEvaluateAsync(RedisScripts.Swap, chunkKeys, chunkArgs)));
            }
        }

        try
        {
            foreach (var (group, start, count, call) in chunks)
            {
                var answers = (RedisResult[]?)await call.ConfigureAwait(false) ?? [];
                for (var j = 0; j < count; j++)
                {
                    applied[group[start + j]] = j < answers.Length && (long)answers[j] == 1;
                }
            }
        }
        catch (Exception e) when (IsOutage(e))
        {
            throw Unavailable(e);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Finds the view's keys with <c>SCAN</c> and a <c>MATCH</c> pattern on every master, deleting each page as it
    /// comes: it walks the whole keyspace, so it is an administrative operation, not one for a request path. Rows
    /// written while it runs may survive it. The count is what <c>DEL</c> removed.
    /// </remarks>
    public async ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(view);
        var prefix = _keys.ViewPrefix(view);
        var removed = 0L;
        var page = new List<RedisKey>(_options.ScanPageSize);
        foreach (var server in Masters())
        {
            await foreach (var key in server.KeysAsync(pattern: RedisKeys.MatchPattern(prefix), pageSize: _options.ScanPageSize).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                page.Add(key);
                if (page.Count >= _options.ScanPageSize)
                {
                    removed += await DeleteKeysAsync(page).ConfigureAwait(false);
                    page.Clear();
                }
            }

            removed += await DeleteKeysAsync(page).ConfigureAwait(false);
            page.Clear();
        }

        return removed;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Collects the matching keys with <c>SCAN</c> on every master (the whole keyspace is walked, so keep scans for
    /// small namespaces and administrative reads), sorts them by byte order, then reads their values a page at a
    /// time; a key deleted in between is skipped.
    /// </remarks>
    public async IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(@namespace);
        ArgumentNullException.ThrowIfNull(prefix);
        var head = _keys.ViewPrefix(@namespace);
        var start = new byte[head.Length + prefix.Length];
        head.CopyTo(start, 0);
        prefix.CopyTo(start, head.Length);

        var found = new List<byte[]>();
        try
        {
            foreach (var server in Masters())
            {
                await foreach (var key in server.KeysAsync(pattern: RedisKeys.MatchPattern(start), pageSize: _options.ScanPageSize).WithCancellation(cancellationToken).ConfigureAwait(false))
                {
                    var bytes = (byte[])key!;
                    if (bytes.AsSpan().StartsWith(start))
                    {
                        found.Add(bytes);
                    }
                }
            }
        }
        catch (Exception e) when (IsOutage(e))
        {
            throw Unavailable(e);
        }

        // Unsigned byte order, shorter first; SCAN may return a key more than once.
        found.Sort(static (a, b) => a.AsSpan().SequenceCompareTo(b));
        var distinct = new List<byte[]>(found.Count);
        foreach (var key in found)
        {
            if (distinct.Count == 0 || !distinct[^1].AsSpan().SequenceEqual(key))
            {
                distinct.Add(key);
            }
        }

        for (var offset = 0; offset < distinct.Count; offset += _options.ScanPageSize)
        {
            var count = Math.Min(_options.ScanPageSize, distinct.Count - offset);
            var keys = new RedisKey[count];
            for (var i = 0; i < count; i++)
            {
                keys[i] = distinct[offset + i];
            }

            var values = new byte[]?[count];
            try
            {
                await GetAsync(keys, values).ConfigureAwait(false);
            }
            catch (Exception e) when (IsOutage(e))
            {
                throw Unavailable(e);
            }

            for (var i = 0; i < count; i++)
            {
                if (values[i] is { } value)
                {
                    yield return new KeyValuePair<byte[], byte[]>(distinct[offset + i][head.Length..], value);
                }
            }
        }
    }

    private async Task<long> DeleteKeysAsync(List<RedisKey> keys)
    {
        if (keys.Count == 0)
        {
            return 0;
        }

        // One DEL per key, pipelined: keys of a page lie in many slots on a cluster.
        var calls = new Task<bool>[keys.Count];
        for (var i = 0; i < keys.Count; i++)
        {
            calls[i] = _db.KeyDeleteAsync(keys[i]);
        }

        var removed = 0L;
        foreach (var deleted in await Task.WhenAll(calls).ConfigureAwait(false))
        {
            removed += deleted ? 1 : 0;
        }

        return removed;
    }

    private IEnumerable<IServer> Masters() => _connection.GetServers().Where(s => !s.IsReplica);
}
