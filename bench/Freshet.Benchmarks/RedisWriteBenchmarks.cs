using BenchmarkDotNet.Attributes;
using Freshet.Online;
using Freshet.Redis;
using Freshet.Values;
using StackExchange.Redis;

namespace Freshet.Benchmarks;

/// <summary>
/// Materialize-style writes of <see cref="Rows"/> rows (10 features each, one view) into Redis through
/// <see cref="RedisOnlineStore.WriteAsync"/> (newest-wins decided by a Lua script per chunk of rows) against the
/// baseline: a raw pipelined <c>SET</c> of the same keys and the same payload bytes over the same connection.
/// </summary>
/// <remarks>
/// Each invocation writes the same rows again; equal timestamps replace, so every invocation does the full work
/// (an MGET and an MSET per block of keys inside the script, and the comparison per row). The server is a local
/// redis-server started by the benchmark.
/// </remarks>
[MemoryDiagnoser]
public class RedisWriteBenchmarks
{
    private BenchRedis _redis = null!;
    private ConnectionMultiplexer _connection = null!;
    private RedisOnlineStore _store = null!;
    private OnlineWrite[] _writes = null!;
    private RedisKey[] _keys = null!;

    [Params(10_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _redis = BenchRedis.Start();
        _connection = ConnectionMultiplexer.Connect(_redis.ConnectionString);
        _store = RedisOnlineStore.Open(_connection, new RedisOnlineStoreOptions { KeyPrefix = "bench:" });
        var hashes = Enumerable.Range(0, 10).Select(f => RowCodec.NameHash($"f{f}")).ToArray();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        _writes = new OnlineWrite[Rows];
        _keys = new RedisKey[Rows];
        var layout = new RedisKeys("bench:");
        for (var i = 0; i < Rows; i++)
        {
            var values = Enumerable.Range(0, 10).Select(f => f % 2 == 0 ? FeatureValue.FromFloat64(i * 0.5) : FeatureValue.FromInt64(i)).ToArray();
            var entity = EntityKeyCodec.Encode([FeatureValue.FromInt64(i)]);
            _writes[i] = new OnlineWrite("driver_stats", entity, RowCodec.Write(now, now, hashes, values));

            // The very key the store writes, so both sides move the same bytes.
            _keys[i] = layout.Key("driver_stats", entity);
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _store.DisposeAsync();
        await _connection.CloseAsync();
        _connection.Dispose();
        _redis.Dispose();
    }

    [Benchmark(Baseline = true, Description = "raw pipelined SET")]
    public async Task RawSet()
    {
        var db = _connection.GetDatabase();
        var calls = new Task<bool>[_keys.Length];
        for (var i = 0; i < _keys.Length; i++)
        {
            calls[i] = db.StringSetAsync(_keys[i], _writes[i].Row);
        }

        await Task.WhenAll(calls);
    }

    [Benchmark(Description = "RedisOnlineStore.WriteAsync")]
    public async Task<int> StoreWrite() => await _store.WriteAsync(_writes);
}
