using Freshet.Online;
using Freshet.Server;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.LoadGen.Tests;

public sealed class FreshnessProbeTests
{
    [Fact]
    public async Task Every_acknowledged_push_has_its_freshness_recorded_exactly_once()
    {
        await using var scenario = await Scenario.CreateAsync("d", redis: null);
        await using var server = await FreshetServer.StartAsync(scenario.Store, new FreshetServerOptions { Port = 0, GrpcPort = -1 });
        using var client = HttpLoadTarget.Client(server.HttpPort, 4);
        // 5 entities, so each one takes several pushes in a run and the aggregate's count must climb each time.
        const int Entities = 5;
        using var probe = new FreshnessProbe(client, scenario.Store, Entities);
        var shape = new PushShape(Rate: 20, Warmup: TimeSpan.FromSeconds(0.5), Duration: TimeSpan.FromSeconds(2), Timeout: TimeSpan.FromSeconds(60));

        var first = await probe.RunAsync(shape);
        var second = await probe.RunAsync(shape);

        foreach (var run in new[] { first, second })
        {
            // 20/s for 2 s measured: 40 pushes (the 10 warm-up ones are not recorded), each acknowledged and seen
            // by both views once.
            Assert.Equal(40, run.Scheduled);
            Assert.Empty(run.PushErrors);
            Assert.Equal(40, run.Acked);
            Assert.Equal(0, run.NotSeen);
            Assert.Equal(40, run.Plain.TotalCount);
            Assert.Equal(40, run.Aggregate.TotalCount);
            Assert.Equal(40, run.PushLatency.TotalCount);
            Assert.True(Min(run.Plain) >= 1);
        }

        // The store holds what the probe says it pushed: 2 x 50 events over 5 entities, each entity's newest seq
        // the last one pushed to it (sequence numbers carry over from one run to the next).
        var response = await scenario.Store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            Features = ["latest:seq", "tx_stats:count_1h"],
            Entities = new Dictionary<string, FeatureValue[]> { ["user_id"] = [.. Enumerable.Range(1, Entities).Select(e => FeatureValue.FromInt64(e))] },
        });
        var counts = Enumerable.Range(0, Entities).Select(r => response.Columns[2].Values[r].AsInt64()).ToArray();
        Assert.Equal(100, counts.Sum());
        Assert.All(counts, c => Assert.Equal(20, c));
        Assert.Equal([96L, 97, 98, 99, 100], Enumerable.Range(0, Entities).Select(r => response.Columns[1].Values[r].AsInt64()).Order());
    }

    [Fact]
    public async Task A_delayed_write_shows_in_every_freshness_value()
    {
        var delay = TimeSpan.FromMilliseconds(300);
        await using var scenario = await Scenario.CreateAsync("d", redis: null, online => new DelayedWrites(online, delay));
        await using var server = await FreshetServer.StartAsync(scenario.Store, new FreshetServerOptions { Port = 0, GrpcPort = -1 });
        using var client = HttpLoadTarget.Client(server.HttpPort, 8);
        using var probe = new FreshnessProbe(client, scenario.Store);

        var run = await probe.RunAsync(new PushShape(Rate: 10, Warmup: TimeSpan.Zero, Duration: TimeSpan.FromSeconds(2), Timeout: TimeSpan.FromSeconds(60)));

        Assert.Equal(20, run.Acked);
        Assert.Equal(20, run.Plain.TotalCount);
        Assert.Equal(20, run.Aggregate.TotalCount);
        // Nothing is visible before the store's write returns, so no event can be seen sooner than the delay. Two
        // allowances: Task.Delay's timer counts whole milliseconds, so a 300 ms delay can end up to about 1 ms early
        // by the Stopwatch (a CI run saw 299,520 us); and the histogram keeps 3 significant digits. An undelayed
        // write would be seen within a few ms.
        Assert.True(Min(run.Plain) >= 298_000, $"plain freshness min {Min(run.Plain)} us");
        Assert.True(Min(run.Aggregate) >= 298_000, $"aggregate freshness min {Min(run.Aggregate)} us");
    }

    private static long Min(HdrHistogram.LongHistogram h) => h.RecordedValues().Min(v => h.LowestEquivalentValue(v.ValueIteratedTo));

    /// <summary>An online store whose writes (rows and tiles) each wait <paramref name="delay"/> before they happen.</summary>
    private sealed class DelayedWrites(IOnlineStore inner, TimeSpan delay) : IOnlineStore
    {
        public bool IsShared => inner.IsShared;

        public async ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
        {
            await Task.Delay(delay, cancellationToken);
            return await inner.WriteAsync(writes, cancellationToken);
        }

        public async ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
        {
            await Task.Delay(delay, cancellationToken);
            await inner.PutAsync(puts, cancellationToken);
        }

        public async ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default)
        {
            await Task.Delay(delay, cancellationToken);
            await inner.SwapAsync(swaps, applied, cancellationToken);
        }

        public ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default) => inner.ReadAsync(keys, rows, cancellationToken);

        public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default) => inner.DeleteViewAsync(view, cancellationToken);

        public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default) => inner.ScanAsync(@namespace, prefix, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
