using BenchmarkDotNet.Attributes;
using Freshet.Online;
using Freshet.RocksDb;
using Freshet.Values;

namespace Freshet.Benchmarks;

/// <summary>
/// The L1 cache's effect (docs/caching.md): reads of 10 keys per request over embedded RocksDB, through a
/// <see cref="CachingOnlineStore"/> and, as the baseline, straight from the store, with the same key stream.
/// <see cref="HitPercent"/> sets the share of keys drawn from a hot set that fits the cache; the others walk
/// through the rest of the rows in order, so they are never cached when read (the walk is far longer than the
/// cache). The measured hit ratio is printed at cleanup.
/// </summary>
[MemoryDiagnoser]
public class CacheHitRatioBenchmarks
{
    private const int Rows = 100_000;
    private const int HotKeys = 1_000;
    private const int KeysPerRequest = 10;
    private const int CacheEntries = 10_000;
    private const string View = "drivers";

    private readonly OnlineKey[] _request = new OnlineKey[KeysPerRequest];
    private readonly byte[]?[] _rows = new byte[]?[KeysPerRequest];
    private byte[][] _keys = null!;
    private string _directory = null!;
    private RocksDbOnlineStore _store = null!;
    private CachingOnlineStore _cache = null!;
    private int _hot;
    private int _cold;

    [Params(0, 90, 100)]
    public int HitPercent { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "freshet-bench-cache-" + Guid.NewGuid().ToString("N"));
        _keys = new byte[Rows][];
        var hashes = Enumerable.Range(0, 10).Select(f => RowCodec.NameHash($"f{f}")).ToArray();
        var values = new FeatureValue[10];
        await using (var store = RocksDbOnlineStore.Open(_directory))
        {
            var batch = new List<OnlineWrite>(1000);
            for (var i = 0; i < Rows; i++)
            {
                _keys[i] = EntityKeyCodec.Encode([FeatureValue.FromInt64(i)]);
                for (var f = 0; f < values.Length; f++)
                {
                    values[f] = f % 2 == 0 ? FeatureValue.FromFloat32(i * 0.5f) : FeatureValue.FromInt64(i + f);
                }

                batch.Add(new OnlineWrite(View, _keys[i], RowCodec.Write(1, 1, hashes, values)));
                if (batch.Count == 1000)
                {
                    await store.WriteAsync(batch);
                    batch.Clear();
                }
            }
        }

        // Reopened so that reads go through table files and the block cache, as in OnlineReadBenchmarks.
        _store = RocksDbOnlineStore.Open(_directory);
        _cache = new CachingOnlineStore(new Unowned(_store), new CachingOnlineStoreOptions { MaxEntries = CacheEntries, MaxStaleness = TimeSpan.FromHours(1) });
        for (var i = 0; i < HotKeys; i++)
        {
            await _cache.ReadAsync([new OnlineKey(View, _keys[i])], new byte[]?[1]);
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        var l1 = _cache.GetTierStats()[0];
        Console.WriteLine($"// cache HitPercent={HitPercent}: lookups {l1.Lookups}, hit ratio {l1.HitRatio:F3}, evictions {l1.Evictions}, entries {l1.Entries}");
        await _cache.DisposeAsync();
        await _store.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>The next request: the first HitPercent/10 keys hot, the rest cold.</summary>
    private OnlineKey[] NextRequest()
    {
        var hot = HitPercent / 10;
        for (var k = 0; k < KeysPerRequest; k++)
        {
            if (k < hot)
            {
                _hot = _hot + 1 == HotKeys ? 0 : _hot + 1;
                _request[k] = new OnlineKey(View, _keys[_hot]);
            }
            else
            {
                _cold = _cold + 1 >= Rows - HotKeys ? 0 : _cold + 1;
                _request[k] = new OnlineKey(View, _keys[HotKeys + _cold]);
            }
        }

        return _request;
    }

    [Benchmark(Baseline = true, Description = "RocksDB direct")]
    public ValueTask Direct() => _store.ReadAsync(NextRequest(), _rows);

    [Benchmark(Description = "RocksDB + L1 cache")]
    public ValueTask Cached() => _cache.ReadAsync(NextRequest(), _rows);

    /// <summary>Keeps the cache from closing the store it reads (the baseline reads it too).</summary>
    private sealed class Unowned(IOnlineStore inner) : IOnlineStore
    {
        public ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default) => inner.ReadAsync(keys, rows, cancellationToken);

        public ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default) => inner.WriteAsync(writes, cancellationToken);

        public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default) => inner.DeleteViewAsync(view, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
