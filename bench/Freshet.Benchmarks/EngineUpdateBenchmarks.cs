using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Freshet.Aggregates;
using Freshet.Serving;

namespace Freshet.Benchmarks;

/// <summary>
/// Streaming engine update rate: <see cref="EventsPerOp"/> seeded events over <see cref="Entities"/> accounts,
/// event times within the last hour, applied to a view with three windowed aggregations and persisted to the
/// online store. Two paths: <c>AggregationEngine.ApplyAsync</c>
/// with events built once in setup (the engine alone), and <see cref="FeatureStore.PushAsync"/> of the same
/// rows as a column table (the full push path: validation, event building, engine). The baseline, in the same
/// run, is a bare loop adding each event to a <c>Dictionary&lt;(string, long), (long, double)&gt;</c> keyed by
/// entity and 1-minute tile. Times are per event (<c>OperationsPerInvoke</c>).
/// </summary>
/// <remarks>
/// State accumulates across invocations in every path (the bare dictionary too), as a long-running stream's
/// would: the same 1,000 entities and the same tiles are updated again and again.
/// </remarks>
[MemoryDiagnoser]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class EngineUpdateBenchmarks
{
    private const int EventsPerOp = 10_000;
    private const int Entities = 1_000;
    private const long TileMicros = 60_000_000;

    private string? _directory;
    private FeatureStore _store = null!;
    private CompiledAggregationView _view = null!;
    private ColumnTable _rows = null!;
    private List<AggregationEvent> _events = null!;
    private string[] _entityIds = null!;
    private long[] _eventMicros = null!;
    private double[] _amounts = null!;
    private Dictionary<(string Entity, long Tile), (long Count, double Sum)> _bare = null!;

    [Params("memory", "rocksdb")]
    public string Store { get; set; } = "memory";

    [GlobalSetup]
    public async Task Setup()
    {
        _store = await StreamingScenario.OpenAsync(StreamingScenario.OpenOnline(Store, ref _directory));
        _view = StreamingScenario.Compiled(_store);
        _rows = StreamingScenario.Rows(EventsPerOp, Entities, DateTimeOffset.UtcNow, seed: 20261129);
        _events = AggregationEngine.ToEvents(_view, _rows, rejectBadRows: true).Events;
        if (_events.Count != EventsPerOp)
        {
            throw new InvalidOperationException($"{_events.Count} events built from {EventsPerOp} rows");
        }

        _entityIds = new string[EventsPerOp];
        _eventMicros = new long[EventsPerOp];
        _amounts = new double[EventsPerOp];
        for (var i = 0; i < EventsPerOp; i++)
        {
            _entityIds[i] = _rows.Column("account_id")![i].AsString();
            _eventMicros[i] = _events[i].EventMicros;
            _amounts[i] = _rows.Column("amount")![i].AsFloat64();
        }

        _bare = new Dictionary<(string, long), (long, double)>();
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _store.DisposeAsync();
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = EventsPerOp, Description = "bare dictionary loop")]
    [BenchmarkCategory("update")]
    public int BareDictionary()
    {
        var bare = _bare;
        for (var i = 0; i < EventsPerOp; i++)
        {
            var micros = _eventMicros[i];
            var key = (_entityIds[i], AggregationEngine.FloorTile(micros, TileMicros));
            bare.TryGetValue(key, out var state);
            bare[key] = (state.Count + 1, state.Sum + _amounts[i]);
        }

        return bare.Count;
    }

    [Benchmark(OperationsPerInvoke = EventsPerOp, Description = "Engine.ApplyAsync (pre-built events)")]
    [BenchmarkCategory("update")]
    public async Task<int> EngineApply()
    {
        var result = await _store.Engine.ApplyAsync(_view, _events);
        return result.Applied;
    }

    [Benchmark(OperationsPerInvoke = EventsPerOp, Description = "FeatureStore.PushAsync (rows)")]
    [BenchmarkCategory("update")]
    public async Task<int> Push()
    {
        var result = await _store.PushAsync(StreamingScenario.Source, _rows, PushTarget.Online);
        return result.EventsAggregated;
    }
}
