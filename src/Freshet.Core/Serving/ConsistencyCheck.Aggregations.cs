using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Online;
using Freshet.Values;

namespace Freshet.Serving;

/// <summary>The check of an aggregation view: the streaming engine online, <see cref="OfflineAggregation"/> (or <see cref="ConsistencyOptions.Offline"/>) offline.</summary>
public static partial class ConsistencyCheck
{
    private static async Task<ConsistencyReport> RunAggregationAsync(Replay replay, AggregationView view,
        Func<IReadOnlyList<long>, IReadOnlyList<DateTimeOffset>> timesOf, CancellationToken cancellationToken)
    {
        var (store, clock, events, options) = (replay.Store, replay.Clock, replay.Events, replay.Options);
        var compiled = store.Registry.Aggregation(view);
        RequireColumns(events, view.Name, compiled.Keys.Select(k => k.Name).Append(compiled.TimestampField).Concat(compiled.Columns.Select(c => c.Name)));
        var (converted, bad) = AggregationEngine.ToEvents(compiled, events, rejectBadRows: true, field: "events");

        // Event-time order; equal times keep file order, which both sides then see alike.
        var ordered = converted.OrderBy(e => e.EventMicros).ThenBy(e => e.Row).ToArray();
        var at = Times(timesOf([.. ordered.Select(e => e.EventMicros)]));
        clock.Now = Micros.ToDateTimeOffset(at[0]);
        var entities = Entities(ordered, compiled, events);
        var features = Comparison.Of(compiled);
        var offline = await OfflineAsync(replay, view.Name, features, compiled.Keys, entities, at, () => Offline(compiled, ordered, entities, at), cancellationToken);

        var comparison = new Comparison(features, options);
        long rejected = 0;
        var next = 0;
        for (var t = 0; t < at.Length; t++)
        {
            var end = next;
            while (end < ordered.Length && ordered[end].EventMicros < at[t])
            {
                end++;
            }

            rejected += await ApplyAsync(store, compiled, clock, ordered, next, end, options.BatchSize, cancellationToken);
            next = end;
            clock.Now = Micros.ToDateTimeOffset(at[t]);
            await CompareAtAsync(replay, view.Name, compiled.Keys, features, entities, offline, at, t, comparison, cancellationToken);
        }

        return comparison.Report(view.Name, events.RowCount, bad.Count, rejected, entities.Count, at.Length);
    }

    /// <summary>Applies events [from, end) in batches of at most <paramref name="batchSize"/>, each with the clock at its newest event; returns the rejected count.</summary>
    private static async Task<long> ApplyAsync(FeatureStore store, CompiledAggregationView view, ReplayClock clock, AggregationEvent[] ordered, int from, int end,
        int batchSize, CancellationToken cancellationToken)
    {
        long rejected = 0;
        var shortest = view.Resolutions.Min(r => r.RetentionMicros);
        while (from < end)
        {
            // A batch spans less than the shortest retention, so its first event is not too late at its last one's time.
            var stop = from + 1;
            while (stop < end && stop - from < Math.Max(1, batchSize) && ordered[stop].EventMicros - ordered[from].EventMicros < shortest)
            {
                stop++;
            }

            var newest = Micros.ToDateTimeOffset(ordered[stop - 1].EventMicros);
            if (newest > clock.Now)
            {
                clock.Now = newest;
            }

            var result = await store.Engine.ApplyAsync(view, new ArraySegment<AggregationEvent>(ordered, from, stop - from), cancellationToken: cancellationToken);
            rejected += result.Rejected.Count;
            from = stop;
        }

        return rejected;
    }

    /// <summary>The offline values in memory: per entity, per time, per slot, by the training-data code (one pass per entity over its events and the times).</summary>
    private static FeatureValue[][][] Offline(CompiledAggregationView view, AggregationEvent[] ordered, List<Entity> entities, long[] at)
    {
        var slots = Enumerable.Range(0, view.Aggregations.Length).ToArray();
        var aggregation = new OfflineAggregation(view, slots);
        var result = new FeatureValue[entities.Count][][];
        var byEntity = new List<int>[entities.Count];
        var index = new Dictionary<byte[], int>(ByteArrayComparer.Instance);
        for (var e = 0; e < entities.Count; e++)
        {
            byEntity[e] = [];
            index[entities[e].Key] = e;
        }

        for (var i = 0; i < ordered.Length; i++)
        {
            byEntity[index[ordered[i].EntityKey]].Add(i);
        }

        for (var e = 0; e < entities.Count; e++)
        {
            aggregation.StartEntity();
            result[e] = new FeatureValue[at.Length][];
            var next = 0;
            var own = byEntity[e];
            for (var t = 0; t < at.Length; t++)
            {
                // The bound is strict: events at T are added after the query at T.
                while (next < own.Count && ordered[own[next]].EventMicros < at[t])
                {
                    aggregation.Add(ordered[own[next++]]);
                }

                var row = new FeatureValue[slots.Length];
                aggregation.Evaluate(at[t], row, slots);
                result[e][t] = row;
            }
        }

        return result;
    }

    /// <summary>The distinct entities of the events, in order of first event, with their join-key values in the declared types.</summary>
    private static List<Entity> Entities(AggregationEvent[] ordered, CompiledAggregationView view, ColumnTable events)
    {
        var seen = new HashSet<byte[]>(ByteArrayComparer.Instance);
        var entities = new List<Entity>();
        var columns = view.Keys.Select(k => events.Column(k.Name)!).ToArray();
        foreach (var e in ordered)
        {
            if (seen.Add(e.EntityKey))
            {
                // The engine accepted the event, so its keys coerce; the raw value is kept should one not.
                var values = columns.Select((c, k) => ValueCoercion.TryCoerce(c[e.Row], view.Keys[k].Type, out var v, out _) ? v : c[e.Row]).ToArray();
                entities.Add(new Entity(e.EntityKey, values, Label(view.Keys, values)));
            }
        }

        return entities;
    }
}
