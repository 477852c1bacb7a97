using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Freshet.Aggregates;
using Freshet.Serving;

namespace Freshet.Benchmarks;

/// <summary>
/// Where the engine's time per tile row goes: one entity's stored row of the streaming scenario
/// (<see cref="StreamingScenario"/>; 600 events over the last hour already in it) updated with 10 new events, as in
/// <see cref="EngineUpdateBenchmarks"/> (10,000 events over 1,000 entities per apply). The old update path
/// (<c>Rebuild</c>: decode the whole row into tile objects, add, drop expired tiles, encode) is the baseline,
/// split into its decode and its encode; next to it the in-place path (<c>TileRowUpdater.Update</c>: untouched
/// tiles copied as bytes, touched states decoded into reused states). The stored row is the same for every
/// operation, so the numbers are per update of that row. <see cref="Resolution"/> 0 is the 1-minute row (one
/// count state, ~60 tiles), 1 the 1-hour row (sum and mean, 2 tiles).
/// </summary>
[MemoryDiagnoser]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class TileRowUpdateBenchmarks
{
    private const int EventsPerUpdate = 10;

    private FeatureStore _store = null!;
    private CompiledAggregationView _view = null!;
    private Resolution _resolution = null!;
    private byte[] _stored = null!;
    private List<AggregationEvent> _events = null!;
    private int[] _members = null!;
    private bool[] _applied = null!;
    private long _now;
    private TileRowUpdater _updater = null!;

    [Params(0, 1)]
    public int Resolution { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _store = await StreamingScenario.OpenAsync(new Freshet.Online.InMemoryOnlineStore());
        _view = StreamingScenario.Compiled(_store);
        _resolution = _view.Resolutions[Resolution];
        var now = DateTimeOffset.UtcNow;
        _now = Values.Micros.From(now);

        // One entity's history: 600 events over the hour (every 1-minute tile holds some), then the 10 to add.
        var history = AggregationEngine.ToEvents(_view, OneEntity(StreamingScenario.Rows(600, 1, now, seed: 1)), rejectBadRows: true).Events;
        _stored = TileRowUpdater.Rebuild(_view, _resolution, null, history, [.. Enumerable.Range(0, history.Count)], _now, new bool[history.Count], out _);
        _events = AggregationEngine.ToEvents(_view, OneEntity(StreamingScenario.Rows(EventsPerUpdate, 1, now, seed: 2)), rejectBadRows: true).Events;
        _members = [.. Enumerable.Range(0, _events.Count)];
        _applied = new bool[_events.Count];
        _updater = new TileRowUpdater();
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _updater.Dispose();
        await _store.DisposeAsync();
    }

    [Benchmark(Baseline = true, Description = "old path: decode + add + encode")]
    [BenchmarkCategory("update")]
    public byte[] Rebuild() => TileRowUpdater.Rebuild(_view, _resolution, _stored, _events, _members, _now, _applied, out _);

    [Benchmark(Description = "old path: decode only")]
    [BenchmarkCategory("update")]
    public TileSet DecodeOnly() => TileRow.Decode(_stored, _resolution);

    [Benchmark(Description = "old path: decode + encode (no add)")]
    [BenchmarkCategory("update")]
    public byte[] EncodeOnly() => TileRow.Encode(TileRow.Decode(_stored, _resolution));

    [Benchmark(Description = "in place: TileRowUpdater.Update")]
    [BenchmarkCategory("update")]
    public byte[] Update() => _updater.Update(_view, _resolution, _stored, _events, _members, _now, _applied, out _);

    /// <summary>The scenario's rows with every event given the same account.</summary>
    private static ColumnTable OneEntity(ColumnTable rows)
    {
        var ids = new Values.FeatureValue[rows.RowCount];
        Array.Fill(ids, Values.FeatureValue.FromString("acct0"));
        return new ColumnTable(new Dictionary<string, Values.FeatureValue[]> { ["account_id"] = ids, ["amount"] = rows.Column("amount")!, ["ts"] = rows.Column("ts")! });
    }
}
