using System.Diagnostics.Metrics;
using Freshet.Aggregates;
using Freshet.Online;
using Freshet.Serving;

namespace Freshet.Server.Observability;

/// <summary>
/// The gauges of one served <see cref="FeatureStore"/>, computed when a scrape asks (docs/observability.md): the
/// registry version, each aggregation view's freshness and lag, each tier's lookups, hits and hit ratio. Freshness
/// rows come from the store (so they include events applied by a separate <c>freshet ingest</c>); they are read at
/// most once per <see cref="FreshnessRefresh"/>, in the background, so a scrape never waits on a remote store;
/// the age is computed against the clock at each scrape, so it grows between reads.
/// </summary>
internal sealed class StoreGauges : IDisposable
{
    /// <summary>The meter's name: per served store, apart from the process-wide "Freshet" meter.</summary>
    public const string MeterName = "Freshet.Store";

    /// <summary>How old the freshness rows may be before a scrape starts a new read.</summary>
    public static readonly TimeSpan FreshnessRefresh = TimeSpan.FromSeconds(1);

    private readonly FeatureStore _store;
    private readonly Meter _meter = new(MeterName);
    private readonly Lock _lock = new();
    private readonly KeyValuePair<string, object?> _project;
    private IReadOnlyList<Freshness> _freshness = [];
    private long _freshnessReadAt;
    private bool _freshnessRead;
    private Task? _refreshing;

    public StoreGauges(FeatureStore store)
    {
        _store = store;
        _project = new KeyValuePair<string, object?>("project", store.Config.Project);
        _meter.CreateObservableGauge("freshet.registry.version", () => new Measurement<long>(store.Registry.Version, _project), "{version}",
            "The registry version being served (grows with every apply).");
        _meter.CreateObservableGauge("freshet.view.freshness", () => Freshness(age: true), "s",
            "Seconds since the newest event applied to an aggregation view (now - newest event time).");
        _meter.CreateObservableGauge("freshet.view.lag", () => Freshness(age: false), "s",
            "Seconds between an aggregation view's newest event and the commit that applied it (its last apply).");
        _meter.CreateObservableCounter("freshet.online_store.lookups", () => Tiers(t => t.Lookups), "{key}",
            "Keys looked up in a tier of the online store (l1 cache, l2 store, l3 durable store).");
        _meter.CreateObservableCounter("freshet.online_store.hits", () => Tiers(t => t.Hits), "{key}",
            "Keys a tier of the online store answered.");
        _meter.CreateObservableGauge("freshet.online_store.hit_ratio", () => Tiers(t => t.HitRatio), null,
            "Hits over lookups of a tier of the online store since it was opened (0 before the first lookup).");
    }

    public void Dispose() => _meter.Dispose();

    private IEnumerable<Measurement<T>> Tiers<T>(Func<OnlineTierStats, T> value)
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
        try
        {
            var rows = await _store.GetFreshnessAsync();
            lock (_lock)
            {
                _freshness = rows;
                _freshnessRead = true;
                _freshnessReadAt = System.Diagnostics.Stopwatch.GetTimestamp();
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An unreachable store keeps the last rows (their age still grows); the failed call is in
            // freshet_online_store_errors_total and /ready says the store is down.
            lock (_lock)
            {
                _freshnessRead = true;
                _freshnessReadAt = System.Diagnostics.Stopwatch.GetTimestamp();
            }
        }
    }
}
