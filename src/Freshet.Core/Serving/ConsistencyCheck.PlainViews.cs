using Freshet.Model;
using Freshet.Online;
using Freshet.Values;

namespace Freshet.Serving;

/// <summary>
/// The check of a plain feature view: rows written through the online write path and read with the clock at each
/// time online; Feast's point-in-time rule (or <see cref="ConsistencyOptions.Offline"/>) offline.
/// </summary>
public static partial class ConsistencyCheck
{
    /// <summary>A usable row of a plain view's events: its place in the file, its entity, event and created times (null created: <see cref="long.MinValue"/>), its values.</summary>
    private sealed record PlainRow(int Row, byte[] Key, FeatureValue[] KeyValues, long Event, long Created, FeatureValue[] Values);

    private static async Task<ConsistencyReport> RunPlainAsync(Replay replay, FeatureView view,
        Func<IReadOnlyList<long>, IReadOnlyList<DateTimeOffset>> timesOf, CancellationToken cancellationToken)
    {
        var (store, clock, events, options) = (replay.Store, replay.Clock, replay.Events, replay.Options);
        var index = store.Registry.Index;
        var keys = index.JoinKeys(view.Entities).ToArray();
        var source = index.Source(view.Source);
        var timeField = RepoIndex.TimestampField(view, source);
        var createdField = RepoIndex.CreatedTimestampField(view, source);
        RequireColumns(events, view.Name, keys.Select(k => k.Name).Append(timeField).Concat(view.Schema.Select(f => f.Name)));

        var rows = PlainRows(events, view, keys, timeField, createdField);
        var bad = events.RowCount - rows.Count;

        // Event-time order, equal times in file order: a batch written before the read at T holds every row at or before T.
        var ordered = rows.OrderBy(r => r.Event).ThenBy(r => r.Row).ToArray();
        // --at-every spans every row with a time, usable or not: a row only the offline side reads still gets a time after it.
        var timestamp = FeatureType.Of(ScalarKind.Timestamp);
        var spanned = events.Column(timeField)!.Select(v => ValueCoercion.TryCoerce(v, timestamp, out var t, out _) && !t.IsNull ? t.TimestampMicros : (long?)null)
            .OfType<long>().Order().ToList();
        var at = Times(timesOf(spanned));
        clock.Now = Micros.ToDateTimeOffset(at[0]);
        var entities = new List<Entity>();
        var entityOf = new Dictionary<byte[], int>(ByteArrayComparer.Instance);
        foreach (var row in ordered)
        {
            if (!entityOf.ContainsKey(row.Key))
            {
                entityOf[row.Key] = entities.Count;
                entities.Add(new Entity(row.Key, row.KeyValues, Label(keys, row.KeyValues)));
            }
        }

        var features = Comparison.Of(view);
        var ttl = Micros.Of(view.Ttl);
        var offline = await OfflineAsync(replay, view.Name, features, keys, entities, at, () => PlainOffline(ordered, entities, entityOf, at, ttl, features.Length), cancellationToken);

        var comparison = new Comparison(features, options);
        var batchSize = Math.Clamp(options.BatchSize, 1, store.Options.MaxWriteRows);
        var next = 0;
        for (var t = 0; t < at.Length; t++)
        {
            // Inclusive: a row at exactly T is in the store when T is read (Feast's event_timestamp <= T).
            var end = next;
            while (end < ordered.Length && ordered[end].Event <= at[t])
            {
                end++;
            }

            for (var from = next; from < end; from += batchSize)
            {
                var batch = new int[Math.Min(batchSize, end - from)];
                for (var i = 0; i < batch.Length; i++)
                {
                    batch[i] = ordered[from + i].Row;
                }

                clock.Now = Micros.ToDateTimeOffset(Math.Max(Micros.From(clock.Now), ordered[from + batch.Length - 1].Event));
                await store.WriteToOnlineStoreAsync(view.Name, events.Select(batch), cancellationToken);
            }

            next = end;
            clock.Now = Micros.ToDateTimeOffset(at[t]);
            await CompareAtAsync(replay, view.Name, keys, features, entities, offline, at, t, comparison, cancellationToken);
        }

        return comparison.Report(view.Name, events.RowCount, bad, 0, entities.Count, at.Length);
    }

    /// <summary>
    /// The rows the online write path accepts: join keys present and of their types, an event time, a created time
    /// that is a time or null, and feature values of their declared types. Neither side sees the others.
    /// </summary>
    private static List<PlainRow> PlainRows(ColumnTable events, FeatureView view, JoinKey[] keys, string timeField, string? createdField)
    {
        var timestamp = FeatureType.Of(ScalarKind.Timestamp);
        var keyColumns = keys.Select(k => events.Column(k.Name)!).ToArray();
        var featureColumns = view.Schema.Select(f => events.Column(f.Name)!).ToArray();
        var times = events.Column(timeField)!;
        var created = createdField is null ? null : events.Column(createdField);
        var rows = new List<PlainRow>(events.RowCount);
        for (var r = 0; r < events.RowCount; r++)
        {
            var keyValues = new FeatureValue[keys.Length];
            var time = FeatureValue.Null;
            var usable = !times[r].IsNull && ValueCoercion.TryCoerce(times[r], timestamp, out time, out _);
            for (var k = 0; usable && k < keys.Length; k++)
            {
                usable = !keyColumns[k][r].IsNull && ValueCoercion.TryCoerce(keyColumns[k][r], keys[k].Type, out keyValues[k], out _);
            }

            var createdMicros = long.MinValue;
            if (usable && created is not null && !created[r].IsNull)
            {
                usable = ValueCoercion.TryCoerce(created[r], timestamp, out var c, out _);
                createdMicros = usable ? c.TimestampMicros : createdMicros;
            }

            var values = new FeatureValue[featureColumns.Length];
            for (var f = 0; usable && f < values.Length; f++)
            {
                usable = ValueCoercion.TryCoerce(featureColumns[f][r], view.Schema[f].Type, out values[f], out _);
            }

            if (usable)
            {
                rows.Add(new PlainRow(r, EntityKeyCodec.Encode(keyValues), keyValues, time.TimestampMicros, createdMicros, values));
            }
        }

        return rows;
    }

    /// <summary>
    /// Feast's rule in memory, written from the rule and not from the online store: for each entity and time
    /// <c>T</c>, the row with the greatest (event, created) among those with event time <c>&lt;= T</c> (a null
    /// created time is the smallest; full ties go to the later row of the file); nulls when there is none or, with
    /// a ttl, when it is older than <c>T − ttl</c>.
    /// </summary>
    private static FeatureValue[][][] PlainOffline(PlainRow[] ordered, List<Entity> entities, Dictionary<byte[], int> entityOf, long[] at, long ttl, int features)
    {
        var byEntity = new List<PlainRow>[entities.Count];
        for (var e = 0; e < entities.Count; e++)
        {
            byEntity[e] = [];
        }

        foreach (var row in ordered)
        {
            byEntity[entityOf[row.Key]].Add(row);
        }

        var result = new FeatureValue[entities.Count][][];
        for (var e = 0; e < entities.Count; e++)
        {
            var own = byEntity[e];
            var next = 0;
            PlainRow? latest = null;
            result[e] = new FeatureValue[at.Length][];
            for (var t = 0; t < at.Length; t++)
            {
                while (next < own.Count && own[next].Event <= at[t])
                {
                    var row = own[next++];
                    if (latest is null || row.Event > latest.Event || (row.Event == latest.Event && row.Created >= latest.Created))
                    {
                        latest = row;
                    }
                }

                var expired = latest is not null && ttl > 0 && latest.Event < at[t] - ttl;
                result[e][t] = latest is null || expired ? new FeatureValue[features] : [.. latest.Values];
            }
        }

        return result;
    }
}
