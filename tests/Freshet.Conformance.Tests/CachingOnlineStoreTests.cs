using Freshet.Online;
using Freshet.RocksDb;
using static Freshet.Conformance.Tests.OnlineStoreConformance;

namespace Freshet.Conformance.Tests;

/// <summary>The L1 cache over the in-memory store against the online store contract.</summary>
public sealed class CachingOnlineStoreConformance : OnlineStoreConformance
{
    protected override IOnlineStore CreateStore() => new CachingOnlineStore(new InMemoryOnlineStore(), new CachingOnlineStoreOptions { MaxEntries = 64 });
}

/// <summary>Two tiers (in memory over in memory) against the online store contract.</summary>
public sealed class TieredOnlineStoreConformance : OnlineStoreConformance
{
    protected override IOnlineStore CreateStore() => new TieredOnlineStore(new InMemoryOnlineStore(), new InMemoryOnlineStore());
}

/// <summary>All three levels (cache, in-memory L2, RocksDB L3) against the online store contract.</summary>
public sealed class CachedTieredRocksDbConformance : OnlineStoreConformance
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-tiered-" + Guid.NewGuid().ToString("N"));

    protected override IOnlineStore CreateStore() =>
        new CachingOnlineStore(new TieredOnlineStore(new InMemoryOnlineStore(), RocksDbOnlineStore.Open(_dir)));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}

/// <summary>What the L1 cache adds to the contract: hits, negative entries, staleness, bounds, invalidation, races.</summary>
public sealed class CachingOnlineStoreTests
{
    private static readonly OnlineKey K1 = new("drivers", Key(1));
    private static readonly OnlineKey K2 = new("drivers", Key(2));
    private static readonly OnlineKey K3 = new("drivers", Key(3));
    private static readonly OnlineKey Absent = new("drivers", Key(9));

    private static async Task<byte[]?[]> ReadAsync(IOnlineStore store, params OnlineKey[] keys)
    {
        var rows = new byte[]?[keys.Length];
        await store.ReadAsync(keys, rows);
        return rows;
    }

    private static async Task<long?> ValueAsync(IOnlineStore store, OnlineKey key) =>
        (await ReadAsync(store, key))[0] is { } row ? ValueOf(row) : null;

    private static OnlineTierStats Tier(IOnlineStoreStats store, string tier) => store.GetTierStats().Single(t => t.Tier == tier);

    [Fact]
    public async Task Repeated_reads_are_served_from_memory_with_one_inner_call_per_request()
    {
        var inner = new ObservedStore(new InMemoryOnlineStore());
        await using var cache = new CachingOnlineStore(inner);
        await cache.WriteAsync([new OnlineWrite("drivers", Key(1), Row(1, 1, 10)), new OnlineWrite("drivers", Key(2), Row(1, 1, 20)), new OnlineWrite("drivers", Key(3), Row(1, 1, 30))]);

        var first = await ReadAsync(cache, K1, K2, K3, Absent);
        var second = await ReadAsync(cache, K1, K2, K3, Absent);

        Assert.Equal(1, inner.ReadCalls);
        Assert.Equal(4, inner.KeysRead);
        Assert.Equal([10L, 20L, 30L], first.Take(3).Select(r => ValueOf(r!)));
        Assert.Null(first[3]);
        Assert.Same(first[0], second[0]);
        Assert.Null(second[3]);
        var l1 = Tier(cache, "l1");
        Assert.Equal((8L, 4L, 4L, 4L), (l1.Lookups, l1.Hits, l1.Misses, l1.Entries!.Value));
        Assert.Equal(0.5, l1.HitRatio);
        var l2 = Tier(cache, "l2");
        Assert.Equal(("ObservedStore", 4L, 3L, 1L), (l2.Store, l2.Lookups, l2.Hits, l2.Misses));
    }

    [Fact]
    public async Task Only_the_keys_not_cached_go_to_the_inner_store()
    {
        var inner = new ObservedStore(new InMemoryOnlineStore());
        await using var cache = new CachingOnlineStore(inner);
        await cache.WriteAsync([new OnlineWrite("drivers", Key(1), Row(1, 1, 10)), new OnlineWrite("drivers", Key(2), Row(1, 1, 20))]);
        await ReadAsync(cache, K1);

        var rows = await ReadAsync(cache, K2, K1, K2);

        Assert.Equal(2, inner.ReadCalls);
        Assert.Equal(1 + 2, inner.KeysRead);
        Assert.Equal([20L, 10L, 20L], rows.Select(r => ValueOf(r!)));
    }

    [Fact]
    public async Task Entries_older_than_max_staleness_are_fetched_again()
    {
        var time = new ManualTimestamps();
        var inner = new InMemoryOnlineStore();
        await using var cache = new CachingOnlineStore(inner, new CachingOnlineStoreOptions { MaxStaleness = TimeSpan.FromSeconds(2), Time = time });
        await inner.WriteAsync([new OnlineWrite("drivers", Key(1), Row(1, 1, 10))]);
        Assert.Equal(10, await ValueAsync(cache, K1));

        // A write that bypasses the cache (another process, with its message lost) is not seen until the entry is too old.
        await inner.WriteAsync([new OnlineWrite("drivers", Key(1), Row(2, 2, 11))]);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(10, await ValueAsync(cache, K1));
        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(11, await ValueAsync(cache, K1));
        Assert.Equal(1, Tier(cache, "l1").StaleRefetches);

        // A remembered "no row" ages the same way.
        Assert.Null(await ValueAsync(cache, Absent));
        await inner.WriteAsync([new OnlineWrite("drivers", Key(9), Row(1, 1, 90))]);
        Assert.Null(await ValueAsync(cache, Absent));
        time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(90, await ValueAsync(cache, Absent));
    }

    [Fact]
    public async Task A_write_through_the_cache_is_seen_by_the_next_read_and_newest_wins_still_holds()
    {
        var inner = new InMemoryOnlineStore();
        await using var cache = new CachingOnlineStore(inner, new CachingOnlineStoreOptions { MaxStaleness = TimeSpan.FromHours(1) });
        await cache.WriteAsync([new OnlineWrite("drivers", Key(1), Row(10, 10, 1))]);
        Assert.Equal(1, await ValueAsync(cache, K1));
        Assert.Null(await ValueAsync(cache, K2));

        Assert.Equal(2, await cache.WriteAsync([new OnlineWrite("drivers", Key(1), Row(20, 20, 2)), new OnlineWrite("drivers", Key(2), Row(20, 20, 22))]));
        Assert.Equal(2, await ValueAsync(cache, K1));
        Assert.Equal(22, await ValueAsync(cache, K2));

        Assert.Equal(0, await cache.WriteAsync([new OnlineWrite("drivers", Key(1), Row(5, 5, 3))]));
        Assert.Equal(2, await ValueAsync(cache, K1));
        Assert.Equal(2, await ValueAsync(inner, K1));
    }

    [Fact]
    public async Task Puts_and_view_deletes_drop_the_entries_they_touch()
    {
        await using var cache = new CachingOnlineStore(new InMemoryOnlineStore(), new CachingOnlineStoreOptions { MaxStaleness = TimeSpan.FromHours(1) });
        var tile = new OnlineKey("tiles", [7]);
        await cache.PutAsync([new OnlinePut("tiles", [7], [1])]);
        await cache.WriteAsync([new OnlineWrite("drivers", Key(1), Row(1, 1, 10))]);
        Assert.Equal([1], (await ReadAsync(cache, tile))[0]);
        Assert.Equal(10, await ValueAsync(cache, K1));

        await cache.PutAsync([new OnlinePut("tiles", [7], [2])]);
        Assert.Equal([2], (await ReadAsync(cache, tile))[0]);
        await cache.PutAsync([new OnlinePut("tiles", [7], null)]);
        Assert.Null((await ReadAsync(cache, tile))[0]);

        Assert.Equal(1, await cache.DeleteViewAsync("drivers"));
        Assert.Null(await ValueAsync(cache, K1));
    }

    [Fact]
    public async Task A_write_and_put_through_the_cache_drops_the_entries_of_its_rows_and_its_state_rows()
    {
        var inner = new InMemoryOnlineStore();
        await using var cache = new CachingOnlineStore(inner, new CachingOnlineStoreOptions { MaxStaleness = TimeSpan.FromHours(1) });
        var tile = new OnlineKey("tiles", [7]);
        await cache.WriteAndPutAsync([new OnlineWrite("drivers", Key(1), Row(10, 10, 1))], [new OnlinePut("tiles", [7], [1])]);
        Assert.Equal(1, await ValueAsync(cache, K1));
        Assert.Null(await ValueAsync(cache, K2));
        Assert.Equal([1], (await ReadAsync(cache, tile))[0]);

        var applied = await cache.WriteAndPutAsync(
            [new OnlineWrite("drivers", Key(1), Row(20, 20, 2)), new OnlineWrite("drivers", Key(2), Row(20, 20, 22))],
            [new OnlinePut("tiles", [7], [2])]);

        Assert.Equal(2, applied);
        Assert.Equal(2, await ValueAsync(cache, K1));
        Assert.Equal(22, await ValueAsync(cache, K2));
        Assert.Equal([2], (await ReadAsync(cache, tile))[0]);

        // Newest wins still holds through the combined call; the put of null removes the cached state row.
        Assert.Equal(0, await cache.WriteAndPutAsync([new OnlineWrite("drivers", Key(1), Row(5, 5, 3))], [new OnlinePut("tiles", [7], null)]));
        Assert.Equal(2, await ValueAsync(cache, K1));
        Assert.Null((await ReadAsync(cache, tile))[0]);
    }

    [Fact]
    public async Task The_cache_stays_within_max_entries()
    {
        var inner = new InMemoryOnlineStore();
        await using var cache = new CachingOnlineStore(inner, new CachingOnlineStoreOptions { MaxEntries = 100 });
        for (var i = 0; i < 1000; i++)
        {
            await inner.WriteAsync([new OnlineWrite("drivers", Key(i), Row(1, 1, i))]);
        }

        for (var i = 0; i < 1000; i++)
        {
            Assert.Equal(i, await ValueAsync(cache, new OnlineKey("drivers", Key(i))));
            Assert.InRange(Tier(cache, "l1").Entries!.Value, 1, 100);
        }

        Assert.Equal(900, Tier(cache, "l1").Evictions);
    }

    [Fact]
    public async Task The_cache_stays_within_max_bytes()
    {
        var inner = new InMemoryOnlineStore();
        var row = Row(1, 1, 5, label: new string('x', 1000));
        var perEntry = Key(1).Length + row.Length + CachingOnlineStore.EntryOverheadBytes;
        await using var cache = new CachingOnlineStore(inner, new CachingOnlineStoreOptions { MaxBytes = 20 * perEntry });
        for (var i = 0; i < 200; i++)
        {
            await inner.WriteAsync([new OnlineWrite("drivers", Key(i), row)]);
        }

        for (var i = 0; i < 200; i++)
        {
            await ReadAsync(cache, new OnlineKey("drivers", Key(i)));
            var l1 = Tier(cache, "l1");
            Assert.InRange(l1.Bytes!.Value, perEntry, 20 * perEntry);
            Assert.InRange(l1.Entries!.Value, 1, 20);
        }
    }

    [Fact]
    public async Task An_entry_read_between_evictions_gets_a_second_chance()
    {
        var inner = new ObservedStore(new InMemoryOnlineStore());
        await using var cache = new CachingOnlineStore(inner, new CachingOnlineStoreOptions { MaxEntries = 50 });
        for (var i = 0; i < 501; i++)
        {
            await inner.WriteAsync([new OnlineWrite("drivers", Key(i), Row(1, 1, i))]);
        }

        // Key 0 is hot: read after every cold key. CLOCK passes over it while its bit is set.
        await ReadAsync(cache, new OnlineKey("drivers", Key(0)));
        for (var i = 1; i <= 500; i++)
        {
            await ReadAsync(cache, new OnlineKey("drivers", Key(i)));
            await ReadAsync(cache, new OnlineKey("drivers", Key(0)));
        }

        Assert.Equal(501, inner.KeysRead);
        Assert.Equal(500, Tier(cache, "l1").Hits);
    }

    [Fact]
    public async Task A_read_that_raced_a_write_does_not_cache_the_older_row()
    {
        var inner = new ObservedStore(new InMemoryOnlineStore());
        await using var cache = new CachingOnlineStore(inner, new CachingOnlineStoreOptions { MaxStaleness = TimeSpan.FromHours(1) });
        await cache.WriteAsync([new OnlineWrite("drivers", Key(1), Row(1, 1, 1))]);

        // The read fetches row 1 from the inner store, then waits there while a newer row is written.
        var fetched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        inner.AfterRead = async () =>
        {
            inner.AfterRead = null;
            fetched.SetResult();
            await release.Task;
        };
        var slowRead = Task.Run(() => ValueAsync(cache, K1));
        await fetched.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await cache.WriteAsync([new OnlineWrite("drivers", Key(1), Row(2, 2, 2))]);
        release.SetResult();

        Assert.Equal(1, await slowRead.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(2, await ValueAsync(cache, K1));
        Assert.Equal(2, await ValueAsync(cache, K1));
        Assert.Equal(2, inner.ReadCalls);
    }

    [Fact]
    public async Task Under_concurrent_readers_and_writers_a_returned_write_is_never_read_back_older()
    {
        await using var cache = new CachingOnlineStore(new InMemoryOnlineStore(), new CachingOnlineStoreOptions { MaxEntries = 16, MaxStaleness = TimeSpan.FromHours(1) });
        const int Keys = 32;
        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 3).Select(r => Task.Run(async () =>
        {
            var random = new Random(r);
            while (!stop.IsCancellationRequested)
            {
                await ReadAsync(cache, new OnlineKey("drivers", Key(random.Next(Keys))), new OnlineKey("drivers", Key(random.Next(Keys))));
            }
        })).ToArray();

        // Each writer owns some keys and writes ever newer rows; after each write it must read its own row back.
        await Parallel.ForEachAsync(Enumerable.Range(0, 4), async (w, ct) =>
        {
            for (var version = 1; version <= 300; version++)
            {
                var id = w + (4 * (version % (Keys / 4)));
                var key = new OnlineKey("drivers", Key(id));
                await cache.WriteAsync([new OnlineWrite("drivers", Key(id), Row(version, version, version))], ct);
                Assert.Equal(version, await ValueAsync(cache, key));
            }
        });
        await stop.CancelAsync();
        await Task.WhenAll(readers);

        Assert.InRange(Tier(cache, "l1").Entries!.Value, 0, 16);
    }
}

/// <summary>What the two tiers add to the contract: reads fill L2 from L3, writes reach both, per-tier counts.</summary>
public sealed class TieredOnlineStoreTests
{
    [Fact]
    public async Task A_miss_in_l2_is_read_from_l3_in_one_call_and_copied_into_l2()
    {
        var fast = new InMemoryOnlineStore();
        var durable = new ObservedStore(new InMemoryOnlineStore());
        await using var tiered = new TieredOnlineStore(fast, durable);
        await durable.WriteAsync([new OnlineWrite("drivers", Key(1), Row(1, 1, 10)), new OnlineWrite("drivers", Key(2), Row(1, 1, 20))]);
        await durable.PutAsync([new OnlinePut("tiles", [1], [42])]);
        var keys = new OnlineKey[] { new("drivers", Key(1)), new("drivers", Key(2)), new("drivers", Key(3)), new("tiles", [1]) };

        var rows = new byte[]?[4];
        await tiered.ReadAsync(keys, rows);
        Assert.Equal((1, 4), (durable.ReadCalls, durable.KeysRead));
        Assert.Equal(10, ValueOf(rows[0]!));
        Assert.Null(rows[2]);
        Assert.Equal([42], rows[3]);

        var inFast = new byte[]?[4];
        await fast.ReadAsync(keys, inFast);
        Assert.Equal(rows, inFast);

        await tiered.ReadAsync(keys, rows);
        Assert.Equal((2, 5), (durable.ReadCalls, durable.KeysRead));
        var stats = tiered.GetTierStats();
        Assert.Equal(("l2", "InMemoryOnlineStore", 8L, 3L, 5L, 3L), (stats[0].Tier, stats[0].Store, stats[0].Lookups, stats[0].Hits, stats[0].Misses, stats[0].Fills));
        Assert.Equal(("l3", "ObservedStore", 5L, 3L, 2L), (stats[1].Tier, stats[1].Store, stats[1].Lookups, stats[1].Hits, stats[1].Misses));
    }

    [Fact]
    public async Task Writes_puts_and_deletes_reach_both_tiers()
    {
        var fast = new InMemoryOnlineStore();
        var durable = new InMemoryOnlineStore();
        await using var tiered = new TieredOnlineStore(fast, durable);

        Assert.Equal(1, await tiered.WriteAsync([new OnlineWrite("drivers", Key(1), Row(2, 2, 10))]));
        Assert.Equal(0, await tiered.WriteAsync([new OnlineWrite("drivers", Key(1), Row(1, 1, 11))]));
        await tiered.PutAsync([new OnlinePut("tiles", [1], [5])]);
        foreach (var tier in new IOnlineStore[] { fast, durable })
        {
            var rows = new byte[]?[2];
            await tier.ReadAsync([new OnlineKey("drivers", Key(1)), new OnlineKey("tiles", [1])], rows);
            Assert.Equal(10, ValueOf(rows[0]!));
            Assert.Equal([5], rows[1]);
        }

        Assert.Equal(1, await tiered.DeleteViewAsync("drivers"));
        var left = new byte[]?[1];
        await fast.ReadAsync([new OnlineKey("drivers", Key(1))], left);
        Assert.Null(left[0]);
        await durable.ReadAsync([new OnlineKey("drivers", Key(1))], left);
        Assert.Null(left[0]);
    }

    [Fact]
    public async Task A_write_and_put_reaches_both_tiers_with_newest_wins_in_each()
    {
        var fast = new InMemoryOnlineStore();
        var durable = new InMemoryOnlineStore();
        await using var tiered = new TieredOnlineStore(fast, durable);
        await tiered.WriteAsync([new OnlineWrite("drivers", Key(1), Row(2, 2, 10))]);

        var applied = await tiered.WriteAndPutAsync(
            [new OnlineWrite("drivers", Key(1), Row(1, 1, 11)), new OnlineWrite("drivers", Key(2), Row(1, 1, 20))],
            [new OnlinePut("tiles", [1], [5])]);

        Assert.Equal(1, applied);
        foreach (var tier in new IOnlineStore[] { fast, durable })
        {
            var rows = new byte[]?[3];
            await tier.ReadAsync([new OnlineKey("drivers", Key(1)), new OnlineKey("drivers", Key(2)), new OnlineKey("tiles", [1])], rows);
            Assert.Equal(10, ValueOf(rows[0]!));
            Assert.Equal(20, ValueOf(rows[1]!));
            Assert.Equal([5], rows[2]);
        }
    }

    [Fact]
    public async Task A_fill_that_raced_a_write_is_taken_back_from_l2()
    {
        var fast = new InMemoryOnlineStore();
        var durable = new ObservedStore(new InMemoryOnlineStore());
        await using var tiered = new TieredOnlineStore(fast, durable);
        await durable.PutAsync([new OnlinePut("tiles", [1], [1])]);

        // The read misses L2, fetches [1] from L3 and waits; meanwhile [2] is put through both tiers.
        var fetched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        durable.AfterRead = async () =>
        {
            durable.AfterRead = null;
            fetched.SetResult();
            await release.Task;
        };
        var key = new OnlineKey("tiles", [1]);
        var slowRead = Task.Run(async () =>
        {
            var rows = new byte[]?[1];
            await tiered.ReadAsync([key], rows);
            return rows[0];
        });
        await fetched.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await tiered.PutAsync([new OnlinePut("tiles", [1], [2])]);
        release.SetResult();
        Assert.Equal([1], await slowRead.WaitAsync(TimeSpan.FromSeconds(60)));

        // Its fill of [1] would have replaced [2] in L2: it was taken back, so L2 has no row and L3 answers.
        var inFast = new byte[]?[1];
        await fast.ReadAsync([key], inFast);
        Assert.Null(inFast[0]);
        var read = new byte[]?[1];
        await tiered.ReadAsync([key], read);
        Assert.Equal([2], read[0]);
    }
}

/// <summary>The wire form of invalidations.</summary>
public sealed class InvalidationMessageTests
{
    [Fact]
    public void A_message_round_trips_keys_views_and_its_origin()
    {
        var origin = Guid.NewGuid();
        var bytes = InvalidationMessage.Encode(origin, new Invalidation([new OnlineKey("drivers", Key(1)), new OnlineKey("ünï", new byte[300])], ["old_view"]));

        Assert.True(InvalidationMessage.TryDecode(bytes, out var from, out var invalidation, out var error), error);
        Assert.Equal(origin, from);
        Assert.False(invalidation.All);
        Assert.Equal(["old_view"], invalidation.Views);
        Assert.Equal(["drivers", "ünï"], invalidation.Keys.Select(k => k.View));
        Assert.Equal(Key(1), invalidation.Keys[0].EntityKey);
        Assert.Equal(300, invalidation.Keys[1].EntityKey.Length);

        Assert.True(InvalidationMessage.TryDecode(InvalidationMessage.Encode(origin, Invalidation.Everything), out _, out var all, out _));
        Assert.True(all.All);
    }

    [Fact]
    public void A_damaged_or_foreign_message_does_not_decode()
    {
        var bytes = InvalidationMessage.Encode(Guid.NewGuid(), new Invalidation([new OnlineKey("drivers", Key(1))], []));

        Assert.False(InvalidationMessage.TryDecode(bytes.AsSpan(0, bytes.Length - 1), out _, out _, out var error));
        Assert.Equal("damaged record", error);
        Assert.False(InvalidationMessage.TryDecode("hello"u8, out _, out _, out _));
        Assert.False(InvalidationMessage.TryDecode([], out _, out _, out _));
    }
}

/// <summary>A real store that counts reads and can stop a read after it fetched (to order a race).</summary>
internal sealed class ObservedStore(IOnlineStore inner) : IOnlineStore
{
    private int _readCalls;
    private int _keysRead;

    public int ReadCalls => Volatile.Read(ref _readCalls);

    public int KeysRead => Volatile.Read(ref _keysRead);

    public Func<Task>? AfterRead { get; set; }

    public async ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _readCalls);
        Interlocked.Add(ref _keysRead, keys.Count);
        await inner.ReadAsync(keys, rows, cancellationToken);
        if (AfterRead is { } after)
        {
            await after();
        }
    }

    public ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default) => inner.WriteAsync(writes, cancellationToken);

    public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default) => inner.DeleteViewAsync(view, cancellationToken);

    public ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default) => inner.PutAsync(puts, cancellationToken);

    public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default) =>
        inner.ScanAsync(@namespace, prefix, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>A clock for entry ages that moves only when told.</summary>
internal sealed class ManualTimestamps : TimeProvider
{
    private long _ticks = TimeSpan.TicksPerDay;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
