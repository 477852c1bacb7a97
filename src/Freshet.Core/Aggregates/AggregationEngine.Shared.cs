using System.Buffers.Binary;
using Freshet.Online;

namespace Freshet.Aggregates;

/// <summary>
/// Where the rows of a stream batch came from: row <c>r</c> (<see cref="AggregationEvent.Row"/>) is offset
/// <c>Offsets[r]</c> of partition <c>Partitions[r]</c>.
/// </summary>
public sealed record StreamPositions(IReadOnlyList<string> Partitions, IReadOnlyList<long> Offsets);

/// <summary>The apply of stream processors that share a store with others (docs/scale-out.md).</summary>
public sealed partial class AggregationEngine
{
    /// <summary>
    /// Stores every tile row of the batch with compare-and-set: each row takes only the events above its record of
    /// applied offsets, and a refused swap (another processor wrote the row since it was read) is read again and
    /// applied again, which the record makes idempotent. The other rows (dead letters, idempotency keys) are put
    /// after the tiles; freshness is a monotonic maximum. Source offsets are the caller's, after this returns.
    /// </summary>
    private async ValueTask<AggregationApplyResult> ApplySharedAsync(IReadOnlyList<(CompiledAggregationView View, IReadOnlyList<AggregationEvent> Events)> batches,
        StreamPositions? positions, List<TileGroup> groups, int[][] members, OnlineKey[] keys, IReadOnlyList<OnlinePut> extra, long now,
        int[] batchSlots, int views, List<EventRejection> allRejected, CancellationToken cancellationToken)
    {
        var applied = new bool[batches.Count][];
        var scratch = new bool[batches.Count][];
        for (var b = 0; b < batches.Count; b++)
        {
            applied[b] = new bool[batches[b].Events.Count];
            scratch[b] = new bool[batches[b].Events.Count];
        }

        var collected = 0;
        var pending = Enumerable.Range(0, groups.Count).ToList();
        var pendingKeys = keys;
        var stored = new byte[]?[keys.Length];
        await store.ReadAsync(pendingKeys, stored, cancellationToken);
        using var updater = new TileRowUpdater();
        var take = new List<int>();
        while (pending.Count > 0)
        {
            var swaps = new OnlineSwap[pending.Count];
            var took = new List<int>[pending.Count];
            var dropped = new int[pending.Count];
            for (var p = 0; p < pending.Count; p++)
            {
                var group = groups[pending[p]];
                var (view, events) = batches[group.Batch];
                var body = AppliedOffsets.Split(stored[p], out var record);

                // Only the events above the row's record of their partition: the others are in the row already.
                take.Clear();
                foreach (var index in members[group.Batch].AsSpan(group.From, group.Count))
                {
                    if (positions is null)
                    {
                        take.Add(index);
                        continue;
                    }

                    var row = events[index].Row;
                    var partition = positions.Partitions[row];
                    var offset = positions.Offsets[row];
                    if (!record.TryGetValue(partition, out var done) || offset > done)
                    {
                        take.Add(index);
                    }
                }

                var flags = scratch[group.Batch];
                foreach (var index in take)
                {
                    flags[index] = false;
                }

                took[p] = [];
                if (take.Count == 0 && stored[p] is not null)
                {
                    // Every event of the row is in it already (a replay): nothing to store.
                    continue;
                }

                var updated = updater.Update(view, group.Resolution, body, events, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(take), now, flags, out dropped[p]);
                foreach (var index in take)
                {
                    if (flags[index])
                    {
                        took[p].Add(index);
                    }

                    if (positions is not null)
                    {
                        var row = events[index].Row;
                        var partition = positions.Partitions[row];
                        record[partition] = Math.Max(record.GetValueOrDefault(partition, long.MinValue), positions.Offsets[row]);
                    }
                }

                swaps[p] = new OnlineSwap(view.View.Name, group.StoreKey, stored[p], AppliedOffsets.Join(updated, record));
            }

            // Rows with nothing to apply have no swap (a default entry) and count as stored.
            var asked = new List<OnlineSwap>(swaps.Length);
            foreach (var swap in swaps)
            {
                if (swap.Key is not null)
                {
                    asked.Add(swap);
                }
            }

            var answers = new bool[asked.Count];
            await store.SwapAsync(asked, answers, cancellationToken);
            var ok = new bool[swaps.Length];
            for (int p = 0, a = 0; p < swaps.Length; p++)
            {
                ok[p] = swaps[p].Key is null || answers[a++];
            }

            var refused = new List<int>();
            for (var p = 0; p < pending.Count; p++)
            {
                if (!ok[p])
                {
                    refused.Add(pending[p]);
                    continue;
                }

                collected += dropped[p];
                var group = groups[pending[p]];
                foreach (var index in took[p])
                {
                    applied[group.Batch][index] = true;
                }
            }

            // Refused rows are read again: someone else wrote them, and their record now says what they hold.
            pending = refused;
            if (pending.Count > 0)
            {
                pendingKeys = [.. pending.Select(g => keys[g])];
                stored = new byte[]?[pending.Count];
                await store.ReadAsync(pendingKeys, stored, cancellationToken);
            }
        }

        // After the rows: a crash in between leaves rows without their dead letters or idempotency keys, so a
        // retry records or applies them again rather than a key standing for events never applied.
        if (extra.Count > 0)
        {
            await store.PutAsync(extra, cancellationToken);
        }

        for (var b = 0; b < batches.Count; b++)
        {
            var (view, events) = batches[b];
            var newest = long.MinValue;
            for (var i = 0; i < events.Count; i++)
            {
                if (applied[b][i] && events[i].EventMicros > newest)
                {
                    newest = events[i].EventMicros;
                }
            }

            if (newest != long.MinValue)
            {
                await RaiseFreshnessAsync(view.View.Name, newest, now, cancellationToken);
            }
        }

        return new AggregationApplyResult(CountApplied(batches, batchSlots, views, applied), allRejected, collected);
    }

    /// <summary>Raises a view's freshness row to <paramref name="newest"/> unless another writer stored a newer one (a monotonic maximum).</summary>
    private async ValueTask RaiseFreshnessAsync(string view, long newest, long now, CancellationToken cancellationToken)
    {
        var key = new[] { new OnlineKey(FreshnessNamespace, System.Text.Encoding.UTF8.GetBytes(view)) };
        var row = new byte[]?[1];
        var ok = new bool[1];
        while (true)
        {
            await store.ReadAsync(key, row, cancellationToken);
            if (row[0] is { Length: 16 } current && BinaryPrimitives.ReadInt64LittleEndian(current) >= newest)
            {
                _newest[view] = BinaryPrimitives.ReadInt64LittleEndian(current);
                return;
            }

            await store.SwapAsync([new OnlineSwap(FreshnessNamespace, key[0].EntityKey, row[0], Freshness.Encode(newest, now))], ok, cancellationToken);
            if (ok[0])
            {
                _newest[view] = newest;
                return;
            }
        }
    }

    /// <summary>
    /// Raises stored positions to <paramref name="next"/> (namespace, key and next offset per partition), never
    /// lowering one another writer stored higher: on a shared store, offsets are where a new owner of a partition
    /// starts, and they only move forward. Call it only once the rows of every event before those offsets are stored.
    /// </summary>
    public async ValueTask AdvanceOffsetsAsync(IReadOnlyList<(string Namespace, byte[] Key, long Next)> next, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(next);
        var pending = next.ToList();
        while (pending.Count > 0)
        {
            var keys = pending.Select(p => new OnlineKey(p.Namespace, p.Key)).ToArray();
            var rows = new byte[]?[keys.Length];
            await store.ReadAsync(keys, rows, cancellationToken);
            var swaps = new List<OnlineSwap>();
            var asked = new List<(string Namespace, byte[] Key, long Next)>();
            for (var i = 0; i < pending.Count; i++)
            {
                if (rows[i] is { Length: 8 } current && BinaryPrimitives.ReadInt64LittleEndian(current) >= pending[i].Next)
                {
                    continue;
                }

                var value = new byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(value, pending[i].Next);
                swaps.Add(new OnlineSwap(pending[i].Namespace, pending[i].Key, rows[i], value));
                asked.Add(pending[i]);
            }

            if (swaps.Count == 0)
            {
                return;
            }

            var ok = new bool[swaps.Count];
            await store.SwapAsync(swaps, ok, cancellationToken);
            pending = [.. asked.Where((_, i) => !ok[i])];
        }
    }
}
