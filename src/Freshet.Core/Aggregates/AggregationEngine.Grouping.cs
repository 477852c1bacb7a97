using Freshet.Model;
using Freshet.Online;
using Freshet.Values;

namespace Freshet.Aggregates;

/// <summary>How an apply admits events and groups them by entity, once per batch.</summary>
public sealed partial class AggregationEngine
{
    /// <summary>
    /// Rejects events too far in the future or older than every resolution's retention, and numbers the entities
    /// of the others in order of first appearance (<paramref name="entityOfEvent"/> is -1 for a rejected event).
    /// </summary>
    private List<EventRejection> Admit(CompiledAggregationView view, IReadOnlyList<AggregationEvent> events, long now, long future,
        out int[] entityOfEvent, out List<byte[]> entities)
    {
        var rejected = new List<EventRejection>();
        entityOfEvent = new int[events.Count];
        entities = [];

        // Grouped by entity key bytes: no string is built per event to group it.
        var entityOf = new Dictionary<byte[], int>(ByteArrayComparer.Instance);
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            entityOfEvent[i] = -1;
            if (e.EventMicros > future)
            {
                rejected.Add(new EventRejection(e.Row, "too_far_in_future", $"event time {Micros.ToRfc3339(e.EventMicros)} is more than {Durations.Format(_options.FutureTolerance)} after now ({Micros.ToRfc3339(now)})"));
                continue;
            }

            if (!WithinAnyRetention(view, e.EventMicros, now))
            {
                rejected.Add(new EventRejection(e.Row, "too_late", $"event time {Micros.ToRfc3339(e.EventMicros)} is older than the view's retention (longest window + hop + allowed lateness) before now ({Micros.ToRfc3339(now)})"));
                continue;
            }

            if (!entityOf.TryGetValue(e.EntityKey, out var entity))
            {
                entity = entities.Count;
                entityOf[e.EntityKey] = entity;
                entities.Add(e.EntityKey);
            }

            entityOfEvent[i] = entity;
        }

        return rejected;
    }

    /// <summary>
    /// The admitted events' indexes grouped by entity (a counting sort: one array for the batch, not a list per
    /// entity); entity <c>n</c>'s are at [<paramref name="offsets"/>[n], <paramref name="offsets"/>[n + 1]), in
    /// batch order.
    /// </summary>
    private static int[] GroupByEntity(int[] entityOfEvent, int entities, out int[] offsets)
    {
        offsets = new int[entities + 1];
        foreach (var entity in entityOfEvent)
        {
            if (entity >= 0)
            {
                offsets[entity + 1]++;
            }
        }

        for (var n = 0; n < entities; n++)
        {
            offsets[n + 1] += offsets[n];
        }

        var members = new int[offsets[entities]];
        var next = offsets[..^1];
        for (var i = 0; i < entityOfEvent.Length; i++)
        {
            if (entityOfEvent[i] >= 0)
            {
                members[next[entityOfEvent[i]]++] = i;
            }
        }

        return members;
    }

    /// <summary>
    /// How many events were applied, a (view, row) counted once. Rows ascend within a batch (as
    /// <see cref="ToEvents"/> builds them) and views do not repeat in the common case: the flags are counted
    /// then, else the distinct pairs.
    /// </summary>
    private static int CountApplied(IReadOnlyList<(CompiledAggregationView View, IReadOnlyList<AggregationEvent> Events)> batches, int[] batchSlots, int views, bool[][] applied)
    {
        var unique = views == batches.Count;
        for (var b = 0; b < batches.Count && unique; b++)
        {
            var events = batches[b].Events;
            for (var i = 1; i < events.Count && unique; i++)
            {
                unique = events[i].Row > events[i - 1].Row;
            }
        }

        if (unique)
        {
            var count = 0;
            foreach (var flags in applied)
            {
                foreach (var f in flags)
                {
                    count += f ? 1 : 0;
                }
            }

            return count;
        }

        var pairs = new HashSet<(int ViewSlot, int Row)>();
        for (var b = 0; b < batches.Count; b++)
        {
            for (var i = 0; i < applied[b].Length; i++)
            {
                if (applied[b][i])
                {
                    pairs.Add((batchSlots[b], batches[b].Events[i].Row));
                }
            }
        }

        return pairs.Count;
    }

    /// <summary>The tile row of one entity at one resolution in one batch, and where its events' indexes are in the batch's member array.</summary>
    private readonly record struct TileGroup(int Batch, Resolution Resolution, byte[] StoreKey, int From, int Count);
}
