using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Freshet.Aggregates;
using Freshet.Observability;
using Freshet.Online;
using Freshet.Serving;

namespace Freshet.Server.Observability;

/// <summary>
/// The gauges of a served <see cref="FeatureStore"/>, computed when a scrape asks (docs/observability.md): the
/// registry version, each aggregation view's freshness and lag, each tier's lookups, hits and hit ratio, all labelled
/// with the project. Freshness rows come from the store (so they include events applied by a separate
/// <c>freshet ingest</c>); they are read at most once per <see cref="FreshnessRefresh"/>, in the background, so a
/// scrape never waits on a remote store; the age is computed against the clock at each scrape, so it grows between
/// reads.
/// </summary>
/// <remarks>
/// The instruments are created once on the process-wide "Freshet" meter and report every store registered: a meter
/// per server would be disposed with its server, and OpenTelemetry ends a metric stream shared by meters of one name
/// when any of them is disposed. A process normally serves one store; of several stores of one project, the one
/// registered last is reported.
/// </remarks>
internal sealed class StoreGauges : IDisposable
{
    /// <summary>How old the freshness rows may be before a scrape starts a new read.</summary>
    public static readonly TimeSpan FreshnessRefresh = TimeSpan.FromSeconds(1);

    private static readonly ConcurrentDictionary<string, StoreGauges> Live = new(StringComparer.Ordinal);

    private readonly FeatureStore _store;
    private readonly Lock _lock = new();
    private readonly KeyValuePair<string, object?> _project;
    private IReadOnlyList<Freshness> _freshness = [];
    private long _freshnessReadAt;
    private bool _freshnessRead;
    private Task? _refreshing;

    static StoreGauges()
    {
        var meter = FreshetTelemetry.Meter;
        meter.CreateObservableGauge("freshet.registry.version", () => Each<long>(g => [new Measurement<long>(g._store.Registry.Version, g._project)]), "{version}",
            "The registry version being served (grows with every apply).");
        meter.CreateObservableGauge("freshet.view.freshness", () => Each(g => g.Freshness(age: true)), "s",
            "Seconds since the newest event applied to an aggregation view (now - newest event time).");
        meter.CreateObservableGauge("freshet.view.lag", () => Each(g => g.Freshness(age: false)), "s",
            "Seconds between an aggregation view's newest event and the commit that applied it (its last apply).");
        meter.CreateObservableCounter("freshet.online_store.lookups", () => Each(g => g.Tiers(t => t.Lookups)), "{key}",
            "Keys looked up in a tier of the online store (l1 cache, l2 store, l3 durable store).");
        meter.CreateObservableCounter("freshet.online_store.hits", () => Each(g => g.Tiers(t => t.Hits)), "{key}",
            "Keys a tier of the online store answered.");
        meter.CreateObservableGauge("freshet.online_store.hit_ratio", () => Each(g => g.Tiers(t => t.HitRatio)), null,
            "Hits over lookups of a tier of the online store since it was opened (0 before the first lookup).");
    }

    private StoreGauges(FeatureStore store)
    {
        _store = store;
        _project = new KeyValuePair<string, object?>("project", store.Config.Project);
    }

    /// <summary>Reports <paramref name="store"/>'s gauges until the result is disposed.</summary>
    public static StoreGauges Register(FeatureStore store)
    {
        var gauges = new StoreGauges(store);
        Live[store.Config.Project] = gauges;
        return gauges;
    }

    public void Dispose() => Live.TryRemove(new KeyValuePair<string, StoreGauges>(_store.Config.Project, this));

    private static List<Measurement<T>> Each<T>(Func<StoreGauges, IEnumerable<Measurement<T>>> measure)
        where T : struct
    {
        var all = new List<Measurement<T>>();
        foreach (var (_, gauges) in Live)
        {
            all.AddRange(measure(gauges));
        }

        return all;
    }

    private Measurement<T>[] Tiers<T>(Func<OnlineTierStats, T> value)
        where T : struct
    {
        if (_store.Online is not IOnlineStoreStats stats)
        {
            return [];
        }

        var tiers = stats.GetTierStats();
        var result = new Measurement<T>[tiers.Count];
        for (var i = 0; i < tiers.Count; i++)
        {
            result[i] = new Measurement<T>(value(tiers[i]), _project, new KeyValuePair<string, object?>("tier", tiers[i].Tier), new KeyValuePair<string, object?>("store", tiers[i].Store));
        }

        return result;
    }

    private Measurement<double>[] Freshness(bool age)
    {
        IReadOnlyList<Freshness> rows;
        lock (_lock)
        {
            if ((!_freshnessRead || System.Diagnostics.Stopwatch.GetElapsedTime(_freshnessReadAt) >= FreshnessRefresh) && _refreshing is not { IsCompleted: false })
            {
                _refreshing = RefreshAsync();
            }

            rows = _freshness;
        }

        var now = _store.Options.Clock?.GetUtcNow() ?? DateTimeOffset.UtcNow;
        var result = new Measurement<double>[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var seconds = age ? (now - rows[i].NewestEvent).TotalSeconds : rows[i].Lag.TotalSeconds;
            result[i] = new Measurement<double>(seconds, _project, new KeyValuePair<string, object?>("view", rows[i].View));
        }

        return result;
    }

    private async Task RefreshAsync()
    {
        IReadOnlyList<Freshness>? rows = null;
        try
        {
            rows = await _store.GetFreshnessAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An unreachable store keeps the last rows (their age still grows); the failed call is in
            // freshet_online_store_errors_total and /ready says the store is down.
        }

        lock (_lock)
        {
            _freshness = rows ?? _freshness;
            _freshnessRead = true;
            _freshnessReadAt = System.Diagnostics.Stopwatch.GetTimestamp();
        }
    }
}
