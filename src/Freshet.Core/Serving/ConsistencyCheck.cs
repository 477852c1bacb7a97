using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Values;

namespace Freshet.Serving;

/// <summary>
/// The online/offline consistency check of a view (DESIGN §3): the same events go through the online path (a fresh
/// in-memory store, written through the online write path with a clock under the check's control, read with the
/// serving read of <see cref="FeatureStore.GetOnlineFeaturesAsync"/>) and through the offline path (what training
/// data is computed with: <see cref="ConsistencyOptions.Offline"/>, by default in memory), and every feature of every
/// entity is compared at each requested time.
/// </summary>
/// <remarks>
/// <para>
/// <b>Aggregation views</b> replay a live stream: events are applied by the streaming engine in event-time order,
/// in batches, with the clock at the newest event of the batch, so no event is too late or in the future; before
/// the read at <c>T</c> every event with a time before <c>T</c> has been applied and the clock is set to <c>T</c>.
/// An event at exactly <c>T</c> is applied after the read at <c>T</c>, as a transaction is scored before it is
/// ingested (the strict bound).
/// </para>
/// <para>
/// <b>Plain views</b>: "online at <c>T</c>" is the store after every row with event time <c>&lt;= T</c> (inclusive,
/// Feast's bound) has been written through <see cref="FeatureStore.WriteToOnlineStoreAsync"/> (newest
/// (event, created) wins whatever the order), read with the clock at <c>T</c>, so the ttl is measured against
/// <c>T</c>: a row with <c>T − event &gt; ttl</c> is <c>OUTSIDE_MAX_AGE</c> (no value). Offline at <c>T</c> is
/// Feast's rule: the latest row with event time <c>&lt;= T</c>, not older than <c>T − ttl</c>, ties on event time
/// broken by the greatest created time.
/// </para>
/// </remarks>
public static partial class ConsistencyCheck
{
    // Within FeatureStoreOptions.MaxEntityRows (10 000): one online read per this many entities.
    private const int ReadChunk = 5000;

    /// <summary>The most times one check reads at (each reads every entity).</summary>
    public const int MaxTimes = 100_000;

    /// <summary>
    /// Replays <paramref name="events"/> (columns named as the view's source: join keys, event time, value
    /// columns) through both paths of view <paramref name="viewName"/> (an aggregation view or a plain feature view)
    /// of <paramref name="state"/> and compares them at <paramref name="times"/>. An unknown view, an on-demand view,
    /// or no times is a <see cref="RequestException"/>.
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
            if (ordered.Count == 0)
            {
                throw new RequestException("events", "no_events", $"the events hold no usable event of view '{viewName}', so there is no first and last event to step between");
            }

            long first = ordered[0], last = ordered[^1], step = Micros.Of(every);
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

    /// <summary>The check, with <paramref name="timesOf"/> choosing the times from the usable events' times (ascending).</summary>
    private static async Task<ConsistencyReport> RunAsync(RegistryState state, RepoConfig config, string repoDirectory, string viewName,
        ColumnTable events, Func<IReadOnlyList<long>, IReadOnlyList<DateTimeOffset>> timesOf, ConsistencyOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(events);
        options ??= new ConsistencyOptions();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(state, 0, cancellationToken);
        var clock = new ReplayClock(DateTimeOffset.UnixEpoch);
        await using var store = await FeatureStore.OpenAsync(registry, new InMemoryOnlineStore(), config, repoDirectory, new FeatureStoreOptions { Clock = clock }, cancellationToken);
        var replay = new Replay(store, clock, repoDirectory, events, options);
        return store.Registry.Index.View(viewName)?.View switch
        {
            AggregationView a => await RunAggregationAsync(replay, a, timesOf, cancellationToken),
            FeatureView f => await RunPlainAsync(replay, f, timesOf, cancellationToken),
            null => throw new RequestException("view", "unknown_view", $"view '{viewName}' is not in the applied registry (version {state.Version}); run `freshet apply` or check the name"),
            _ => throw new RequestException("view", "not_checkable", $"view '{viewName}' is an on-demand view, computed at request time from other views; check the views it reads"),
        };
    }

    /// <summary>What both kinds of view share: the store and its clock, the events, the settings.</summary>
    private sealed record Replay(FeatureStore Store, ReplayClock Clock, string RepoDirectory, ColumnTable Events, ConsistencyOptions Options);

    /// <summary>A distinct entity: its encoded key, its join-key values in their declared types, and a label for reports.</summary>
    private sealed record Entity(byte[] Key, FeatureValue[] Values, string Label);

    private static string Label(IReadOnlyList<JoinKey> keys, FeatureValue[] values) => string.Join(",", keys.Select((k, i) => $"{k.Name}={values[i]}"));

    /// <summary>A column missing from the whole file is a wrong file, not rows to skip.</summary>
    private static void RequireColumns(ColumnTable events, string view, IEnumerable<string> names)
    {
        var present = string.Join(", ", events.Names);
        foreach (var name in names)
        {
            if (events.Column(name) is null)
            {
                throw new RequestException($"events.{name}", "missing_column", $"the events have no column '{name}', which view '{view}' reads; their columns are: {present}");
            }
        }
    }

    /// <summary>The times in microseconds, distinct and ascending.</summary>
    private static long[] Times(IReadOnlyList<DateTimeOffset> times) => [.. times.Select(Micros.From).Distinct().Order()];

    /// <summary>The offline values by <see cref="ConsistencyOptions.Offline"/>, or by <paramref name="inMemory"/> when it is not set.</summary>
    private static async Task<FeatureValue[][][]> OfflineAsync(Replay replay, string view, IReadOnlyList<ComparedFeature> features, IReadOnlyList<JoinKey> keys,
        List<Entity> entities, long[] at, Func<FeatureValue[][][]> inMemory, CancellationToken cancellationToken)
    {
        if (replay.Options.Offline is not { } offline)
        {
            return inMemory();
        }

        var values = await offline.ComputeAsync(new ConsistencyOfflineRequest(replay.Store.Registry, replay.RepoDirectory, view, [.. features.Select(f => f.Name)], keys,
            [.. entities.Select(e => e.Values)], at, replay.Events), cancellationToken);
        if (values.Length != entities.Count || values.Any(e => e.Length != at.Length || e.Any(t => t.Length != features.Count)))
        {
            throw new InvalidOperationException($"the offline side returned values of the wrong shape (expected {entities.Count} entities x {at.Length} times x {features.Count} features)");
        }

        return values;
    }

    /// <summary>Reads every entity at the clock's time through the serving read and compares each feature with the offline values at time index <paramref name="t"/>.</summary>
    private static async Task CompareAtAsync(Replay replay, string view, IReadOnlyList<JoinKey> keys, IReadOnlyList<ComparedFeature> features, List<Entity> entities,
        FeatureValue[][][] offline, long[] at, int t, Comparison comparison, CancellationToken cancellationToken)
    {
        for (var from = 0; from < entities.Count; from += ReadChunk)
        {
            var count = Math.Min(ReadChunk, entities.Count - from);
            var request = new Dictionary<string, FeatureValue[]>(StringComparer.Ordinal);
            for (var k = 0; k < keys.Count; k++)
            {
                var column = new FeatureValue[count];
                for (var i = 0; i < count; i++)
                {
                    column[i] = entities[from + i].Values[k];
                }

                request[keys[k].Name] = column;
            }

            var response = await replay.Store.GetOnlineFeaturesAsync(new OnlineRequest { Features = [view], Entities = request }, cancellationToken);
            for (var s = 0; s < features.Count; s++)
            {
                var column = IndexOf(response.FeatureNames, features[s].Name);
                for (var i = 0; i < count; i++)
                {
                    var online = column < 0 ? FeatureValue.Null : response.Columns[column].Values[i];
                    comparison.Compare(s, entities[from + i].Label, at[t], online, offline[from + i][t][s]);
                }
            }
        }
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
