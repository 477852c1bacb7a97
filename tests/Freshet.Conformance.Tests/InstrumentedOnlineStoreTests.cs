using Freshet.Observability;
using Freshet.Online;
using Freshet.RocksDb;

namespace Freshet.Conformance.Tests;

/// <summary>The timing decorator over the in-memory store against the online store contract.</summary>
public sealed class InstrumentedInMemoryConformance : OnlineStoreConformance
{
    protected override IOnlineStore CreateStore() => InstrumentedOnlineStore.Wrap(new InMemoryOnlineStore(), "l2");
}

/// <summary>The timing decorator over the shared in-memory store: <c>IsShared</c> and compare-and-set pass through.</summary>
public sealed class InstrumentedSharedInMemoryConformance : OnlineStoreConformance
{
    protected override IOnlineStore CreateStore() => InstrumentedOnlineStore.Wrap(new InMemoryOnlineStore(shared: true), "l2");

    [Fact]
    public void Is_shared_passes_through() => Assert.True(Store.IsShared);
}

/// <summary>
/// Every tier instrumented as the CLI wires them (cache l1 over tiered l2 in memory and l3 RocksDB) against the
/// contract; the statistics still name the real stores.
/// </summary>
public sealed class InstrumentedTiersConformance : OnlineStoreConformance
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-instrumented-" + Guid.NewGuid().ToString("N"));

    protected override IOnlineStore CreateStore() => InstrumentedOnlineStore.Wrap(
        new CachingOnlineStore(new TieredOnlineStore(
            InstrumentedOnlineStore.Wrap(new InMemoryOnlineStore(), "l2"),
            InstrumentedOnlineStore.Wrap(RocksDbOnlineStore.Open(_dir), "l3"))),
        "l1");

    [Fact]
    public async Task Tier_statistics_pass_through_and_name_the_wrapped_stores()
    {
        await Store.ReadAsync([new OnlineKey("v", Key(1))], new byte[]?[1]);

        var stats = Assert.IsAssignableFrom<IOnlineStoreStats>(Store).GetTierStats();

        Assert.Equal(["l1", "l2", "l3"], stats.Select(s => s.Tier));
        Assert.Equal(["cache", nameof(InMemoryOnlineStore), nameof(RocksDbOnlineStore)], stats.Select(s => s.Store));
        Assert.Equal(1, stats[0].Lookups);
        Assert.Equal(1, stats[2].Misses);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}

/// <summary>What the decorator records and what it leaves as it is.</summary>
public sealed class InstrumentedOnlineStoreTests
{
    [Fact]
    public void A_plain_store_does_not_pretend_to_have_tier_statistics()
    {
        var store = InstrumentedOnlineStore.Wrap(new InMemoryOnlineStore(), "l2");

        Assert.False(store is IOnlineStoreStats);
        Assert.False(store.IsShared);
        Assert.Equal(nameof(InMemoryOnlineStore), InstrumentedOnlineStore.NameOf(store));
    }

    [Fact]
    public async Task Each_call_is_timed_with_its_tier_store_and_operation()
    {
        var tier = "t" + Guid.NewGuid().ToString("N")[..8];
        var seen = new List<(string Operation, double Seconds)>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == FreshetTelemetry.Name && instrument.Name == "freshet.online_store.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            string? t = null, op = null, store = null;
            foreach (var tag in tags)
            {
                switch (tag.Key)
                {
                    case "tier": t = (string?)tag.Value; break;
                    case "operation": op = (string?)tag.Value; break;
                    case "store": store = (string?)tag.Value; break;
                }
            }

            if (t == tier && store == nameof(InMemoryOnlineStore))
            {
                lock (seen)
                {
                    seen.Add((op!, value));
                }
            }
        });
        listener.Start();

        await using var s = InstrumentedOnlineStore.Wrap(new InMemoryOnlineStore(), tier);
        await s.WriteAsync([new OnlineWrite("v", Key(1), OnlineStoreConformance.Row(10, 10, 1))]);
        await s.ReadAsync([new OnlineKey("v", Key(1))], new byte[]?[1]);
        await s.PutAsync([new OnlinePut("ns", [1], [2])]);
        await s.WriteAndPutAsync([new OnlineWrite("v", Key(2), OnlineStoreConformance.Row(10, 10, 2))], [new OnlinePut("ns", [2], [2])]);
        await s.SwapAsync([new OnlineSwap("ns", [1], [2], [3])], new bool[1]);
        await foreach (var _ in s.ScanAsync("ns", []))
        {
        }

        await s.DeleteViewAsync("v");

        lock (seen)
        {
            Assert.Equal(["write", "read", "put", "write_put", "swap", "scan", "delete_view"], seen.Select(x => x.Operation));
            Assert.All(seen, x => Assert.True(x.Seconds >= 0));
        }
    }

    private static byte[] Key(long id) => OnlineStoreConformance.Key(id);
}
