using Freshet.Online;
using StackExchange.Redis;

namespace Freshet.Conformance.Tests;

/// <summary>
/// <see cref="IOnlineStore.SwapAsync"/> on the Redis back ends: each swap is a compare-and-set of one state row,
/// decided on the server, so concurrent updaters of one row never lose an update.
/// </summary>
public abstract class RedisSwapTests
{
    protected abstract IConnectionMultiplexer Connection { get; }

    private static async Task<bool[]> Swap(IOnlineStore store, params OnlineSwap[] swaps)
    {
        var applied = new bool[swaps.Length];
        await store.SwapAsync(swaps, applied);
        return applied;
    }

    private static async Task<byte[]?> Read(IOnlineStore store, string ns, byte[] key)
    {
        var rows = new byte[]?[1];
        await store.ReadAsync([new OnlineKey(ns, key)], rows);
        return rows[0];
    }

    [Fact]
    public async Task A_swap_applies_only_when_the_stored_value_is_the_expected_one()
    {
        await using var store = RedisStores.Fresh(Connection);

        // Expected null: only if there is no row.
        Assert.Equal(new[] { true, true }, await Swap(store, new OnlineSwap("tiles", [1], null, [10]), new OnlineSwap("tiles", [2], null, [20])));
        Assert.Equal(new[] { false }, await Swap(store, new OnlineSwap("tiles", [1], null, [11])));
        Assert.Equal([10], await Read(store, "tiles", [1]));

        // A matching expected value replaces; a stale one is refused and leaves the row alone; each swap on its own.
        Assert.Equal(new[] { true, false }, await Swap(store, new OnlineSwap("tiles", [1], [10], [12]), new OnlineSwap("tiles", [2], [99], [21])));
        Assert.Equal([12], await Read(store, "tiles", [1]));
        Assert.Equal([20], await Read(store, "tiles", [2]));

        // A null value deletes; an empty value is a value, not an absent row.
        Assert.Equal(new[] { true, true }, await Swap(store, new OnlineSwap("tiles", [1], [12], null), new OnlineSwap("tiles", [2], [20], [])));
        Assert.Null(await Read(store, "tiles", [1]));
        Assert.Equal(Array.Empty<byte>(), await Read(store, "tiles", [2]));
        // An empty stored value is not "no row", and an absent row does not match an empty expected value.
        Assert.Equal(new[] { false, false }, await Swap(store, new OnlineSwap("tiles", [2], null, [1]), new OnlineSwap("tiles", [3], [], [1])));
    }

    [Fact]
    public async Task Concurrent_read_and_swap_loops_never_lose_an_increment()
    {
        await using var store = RedisStores.Fresh(Connection);
        await store.PutAsync([new OnlinePut("counter", [0], BitConverter.GetBytes(0L))]);

        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, ct) =>
        {
            while (true)
            {
                var current = (await Read(store, "counter", [0]))!;
                var next = BitConverter.GetBytes(BitConverter.ToInt64(current) + 1);
                var applied = new bool[1];
                await store.SwapAsync([new OnlineSwap("counter", [0], current, next)], applied, ct);
                if (applied[0])
                {
                    return;
                }
            }
        });

        Assert.Equal(200, BitConverter.ToInt64((await Read(store, "counter", [0]))!));
    }

    [Fact]
    public async Task Many_swaps_in_one_call_across_slots_each_answer_for_themselves()
    {
        await using var store = RedisStores.Fresh(Connection, rowsPerScript: 7);
        await store.PutAsync([.. Enumerable.Range(0, 100).Select(i => new OnlinePut("s", [(byte)i], [(byte)i]))]);

        // Even keys expect their stored value, odd keys a wrong one.
        var applied = new bool[100];
        await store.SwapAsync([.. Enumerable.Range(0, 100).Select(i => new OnlineSwap("s", [(byte)i], [(byte)(i % 2 == 0 ? i : i + 1)], [(byte)(i + 100)]))], applied);

        Assert.Equal(Enumerable.Range(0, 100).Select(i => i % 2 == 0), applied);
        var rows = await RedisOnlineStoreTests.Scan(store, "s");
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (byte)(i % 2 == 0 ? i + 100 : i)), rows.Select(r => r.Value[0]));
    }

    [Fact]
    public async Task A_key_repeated_in_one_call_is_refused()
    {
        await using var store = RedisStores.Fresh(Connection);

        await Assert.ThrowsAsync<ArgumentException>(async () => await Swap(store, new OnlineSwap("s", [1], null, [1]), new OnlineSwap("s", [1], [1], [2])));

        Assert.Null(await Read(store, "s", [1]));
    }
}

[Collection("redis-single")]
public sealed class RedisSingleSwapTests(RedisSingleFixture redis) : RedisSwapTests
{
    protected override IConnectionMultiplexer Connection => redis.Connection;
}

[Collection("redis-cluster")]
public sealed class RedisClusterSwapTests(RedisClusterFixture cluster) : RedisSwapTests
{
    protected override IConnectionMultiplexer Connection => cluster.Connection;
}

[Collection("garnet")]
public sealed class GarnetSwapTests(GarnetFixture garnet) : RedisSwapTests
{
    protected override IConnectionMultiplexer Connection => garnet.Connection;
}
