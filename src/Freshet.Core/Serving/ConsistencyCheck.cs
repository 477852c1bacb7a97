using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Values;

namespace Freshet.Serving;

/// <summary>
/// The online/offline consistency check of an aggregation view (DESIGN §3): the same events go through the
/// online path (a fresh in-memory store, the streaming engine with a clock under the check's control, and the
/// serving read of <see cref="FeatureStore.GetOnlineFeaturesAsync"/>) and through the offline path
/// (<see cref="OfflineAggregation"/>, what training data is computed with), and every feature of every entity is
/// compared at each requested time.
/// </summary>
/// <remarks>
/// The replay is a live stream: events are applied in event-time order, in batches, with the clock at the newest
/// event of the batch, so no event is too late or in the future; before the read at <c>T</c> every event with a
/// time before <c>T</c> has been applied and the clock is set to <c>T</c>. An event at exactly <c>T</c> is
/// applied after the read at <c>T</c>, as a transaction is scored before it is ingested.
/// </remarks>
public static class ConsistencyCheck
{
    // Within FeatureStoreOptions.MaxEntityRows (10 000): one online read per this many entities.
    private const int ReadChunk = 5000;

    /// <summary>
    /// Replays <paramref name="events"/> (columns named as the view's source: join keys, event time, value
    /// columns) through both paths of aggregation view <paramref name="viewName"/> of <paramref name="state"/> and
    /// compares them at <paramref name="times"/>. An unknown view, a view that is not an aggregation view, or no
    /// times is a <see cref="RequestException"/>.
    /// </summary>
    public static Task<ConsistencyReport> RunAsync(RegistryState state, RepoConfig config, string repoDirectory, string viewName,
        ColumnTable events, IReadOnlyList<DateTimeOffset> times, ConsistencyOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(times);
        if (times.Count == 0)
        {
            throw new RequestException("at", "missing_times", "give at least one time to compare at");
        }

        return RunAsync(state, config, repoDirectory, viewName, events, _ => times, options, cancellationToken);
    }

    /// <summary>
    /// As <see cref="RunAsync(RegistryState, RepoConfig, string, string, ColumnTable, IReadOnlyList{DateTimeOffset}, ConsistencyOptions?, CancellationToken)"/>,
    /// at every <paramref name="every"/> from the first event to the last, and once more just after the last event
    /// (so every event is counted at least once). More than <see cref="MaxTimes"/> times is a <see cref="RequestException"/>.
    /// </summary>
    public static Task<ConsistencyReport> RunEveryAsync(RegistryState state, RepoConfig config, string repoDirectory, string viewName,
        ColumnTable events, TimeSpan every, ConsistencyOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (every <= TimeSpan.Zero)
        {
            throw new RequestException("at_every", "bad_option", "the interval between times must be longer than 0");
        }

        return RunAsync(state, config, repoDirectory, viewName, events, ordered =>
        {
            if (ordered.Length == 0)
            {
                throw new RequestException("events", "no_events", $"the events hold no usable event of view '{viewName}', so there is no first and last event to step between");
            }

            long first = ordered[0].EventMicros, last = ordered[^1].EventMicros, step = Micros.Of(every);
            if ((last - first) / step + 2 > MaxTimes)
            {
                throw new RequestException("at_every", "too_many_times", $"every {Durations.Format(every)} from the first to the last event is more than {MaxTimes} times; give a longer interval");
            }

            var times = new List<DateTimeOffset>();
            for (var t = first; t <= last; t += step)
            {
                times.Add(Micros.ToDateTimeOffset(t));
            }

            times.Add(Micros.ToDateTimeOffset(last + 1));
            return times;
        }, options, cancellationToken);
    }

    /// <summary>The most times one check reads at (each reads every entity).</summary>
    public const int MaxTimes = 100_000;

    private static async Task<ConsistencyReport> RunAsync(RegistryState state, RepoConfig config, string repoDirectory, string viewName,
        ColumnTable events, Func<AggregationEvent[], IReadOnlyList<DateTimeOffset>> timesOf, ConsistencyOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(events);
        options ??= new ConsistencyOptions();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(state, 0, cancellationToken);
        var clock = new ReplayClock(DateTimeOffset.UnixEpoch);
        await using var store = await FeatureStore.OpenAsync(registry, new InMemoryOnlineStore(), config, repoDirectory, new FeatureStoreOptions { Clock = clock }, cancellationToken);
        var view = store.Registry.Index.View(viewName)?.View switch
        {
            AggregationView a => a,
            null => throw new RequestException("view", "unknown_view", $"view '{viewName}' is not in the applied registry (version {state.Version}); run `freshet apply` or check the name"),
            _ => throw new RequestException("view", "not_an_aggregation_view", $"view '{viewName}' is not an aggregation view; the consistency check compares aggregation views"),
        };
        var compiled = store.Registry.Aggregation(view);

        // A column missing from the whole file is a wrong file, not rows to skip.
        var present = string.Join(", ", events.Names);
        foreach (var name in compiled.Keys.Select(k => k.Name).Append(compiled.TimestampField).Concat(compiled.Columns.Select(c => c.Name)))
        {
            if (events.Column(name) is null)
            {
                throw new RequestException($"events.{name}", "missing_column", $"the events have no column '{name}', which view '{view.Name}' reads; their columns are: {present}");
            }
        }

        var (converted, bad) = AggregationEngine.ToEvents(compiled, events, rejectBadRows: true, field: "events");

        // Event-time order; equal times keep file order, which both sides then see alike.
        var ordered = converted.OrderBy(e => e.EventMicros).ThenBy(e => e.Row).ToArray();
        var at = timesOf(ordered).Select(Micros.From).Distinct().Order().ToArray();
        clock.Now = Micros.ToDateTimeOffset(at[0]);
        var entities = Entities(ordered, compiled, events);
        var slots = compiled.Aggregations;
        var offline = Offline(compiled, ordered, entities, at);

        var comparison = new Comparison(compiled, options);
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
            for (var from = 0; from < entities.Count; from += ReadChunk)
            {
                var count = Math.Min(ReadChunk, entities.Count - from);
                var response = await store.GetOnlineFeaturesAsync(new OnlineRequest
                {
                    Features = [view.Name],
                    Entities = Request(compiled, entities, from, count),
                }, cancellationToken);
                for (var s = 0; s < slots.Length; s++)
                {
                    var column = IndexOf(response.FeatureNames, slots[s].Name);
                    for (var i = 0; i < count; i++)
                    {
                        var online = column < 0 ? FeatureValue.Null : response.Columns[column].Values[i];
                        comparison.Compare(s, entities[from + i].Label, at[t], online, offline[from + i][t][s]);
                    }
                }
            }
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

    /// <summary>The offline values: per entity, per time, per slot, by the training-data code (one pass per entity over its events and the times).</summary>
    private static FeatureValue[][][] Offline(CompiledAggregationView view, AggregationEvent[] ordered, List<Entity> entities, long[] at)
    {
        var slots = Enumerable.Range(0, view.Aggregations.Length).ToArray();
        var aggregation = new OfflineAggregation(view, slots);
        var result = new FeatureValue[entities.Count][][];
        var byEntity = new List<int>[entities.Count];
        for (var e = 0; e < entities.Count; e++)
        {
            byEntity[e] = [];
        }

        var index = new Dictionary<byte[], int>(ByteArrayComparer.Instance);
        for (var e = 0; e < entities.Count; e++)
        {
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

    private sealed record Entity(byte[] Key, FeatureValue[] Values, string Label);

    /// <summary>The distinct entities of the events, in order of first event, with their join-key values as the events carry them.</summary>
    private static List<Entity> Entities(AggregationEvent[] ordered, CompiledAggregationView view, ColumnTable events)
    {
        var seen = new HashSet<byte[]>(ByteArrayComparer.Instance);
        var entities = new List<Entity>();
        var columns = view.Keys.Select(k => events.Column(k.Name)!).ToArray();
        foreach (var e in ordered)
        {
            if (seen.Add(e.EntityKey))
            {
                var values = columns.Select(c => c[e.Row]).ToArray();
                var label = string.Join(",", view.Keys.Select((k, i) => $"{k.Name}={values[i]}"));
                entities.Add(new Entity(e.EntityKey, values, label));
            }
        }

        return entities;
    }

    private static Dictionary<string, FeatureValue[]> Request(CompiledAggregationView view, List<Entity> entities, int from, int count)
    {
        var request = new Dictionary<string, FeatureValue[]>(StringComparer.Ordinal);
        for (var k = 0; k < view.Keys.Length; k++)
        {
            var column = new FeatureValue[count];
            for (var i = 0; i < count; i++)
            {
                column[i] = entities[from + i].Values[k];
            }

            request[view.Keys[k].Name] = column;
        }

        return request;
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (var i = 0; i < names.Count; i++)
        {
            if (names[i] == name)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A clock the replay moves: never read by anything but the engine and the serving read of this check.</summary>
    private sealed class ReplayClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
