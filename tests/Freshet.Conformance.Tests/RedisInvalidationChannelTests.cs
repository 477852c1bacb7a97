using Freshet.Online;
using Freshet.Redis;
using StackExchange.Redis;
using static Freshet.Conformance.Tests.OnlineStoreConformance;

namespace Freshet.Conformance.Tests;

/// <summary>
/// Two caches over one shared store, connected by real Redis pub/sub (embedded Garnet): a write through one drops
/// the other's entry; a lost message is bounded by the maximum staleness.
/// </summary>
public sealed class RedisInvalidationChannelTests(GarnetFixture garnet) : IClassFixture<GarnetFixture>
{
    private static readonly TimeSpan Ceiling = TimeSpan.FromSeconds(90);
    private readonly string _project = "p" + Guid.NewGuid().ToString("N")[..8];

    private static async Task<long?> ValueAsync(IOnlineStore store, long id)
    {
        var rows = new byte[]?[1];
        await store.ReadAsync([new OnlineKey("drivers", Key(id))], rows);
        return rows[0] is { } row ? ValueOf(row) : null;
    }

    private static async Task PollUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Ceiling;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not within {Ceiling.TotalSeconds} s: {what}");
            await Task.Delay(20);
        }
    }

    private CachingOnlineStore Cache(IOnlineStore shared, out RedisInvalidationChannel channel, TimeProvider? time = null, TimeSpan? staleness = null)
    {
        channel = RedisInvalidationChannel.Connect(garnet.ConnectionString, _project);
        return new CachingOnlineStore(new NotOwned(shared), new CachingOnlineStoreOptions
        {
            MaxStaleness = staleness ?? TimeSpan.FromHours(1),
            Invalidation = channel,
            Time = time ?? TimeProvider.System,
        });
    }

    [Fact]
    public async Task A_write_through_one_cache_drops_the_other_caches_entry()
    {
        var shared = new InMemoryOnlineStore();
        await using var a = Cache(shared, out _);
        await using var b = Cache(shared, out var bChannel);
        await a.WriteAsync([new OnlineWrite("drivers", Key(1), Row(1, 1, 10))]);
        Assert.Equal(10, await ValueAsync(b, 1));
        Assert.Equal(10, await ValueAsync(a, 1));

        await a.WriteAsync([new OnlineWrite("drivers", Key(1), Row(2, 2, 11))]);

        // The staleness bound is an hour: only the message can make b read the new row.
        await PollUntilAsync(async () => await ValueAsync(b, 1) == 11, "b sees a's write");
        Assert.Equal(11, await ValueAsync(a, 1));
        Assert.True(bChannel.Received >= 1);

        await a.DeleteViewAsync("drivers");
        await PollUntilAsync(async () => await ValueAsync(b, 1) is null, "b sees a's view deletion");
    }

    [Fact]
    public async Task One_write_is_one_message_holding_all_its_keys()
    {
        var shared = new InMemoryOnlineStore();
        await using var a = Cache(shared, out _);
        await using var b = Cache(shared, out var bChannel);
        await shared.WriteAsync([new OnlineWrite("drivers", Key(1), Row(1, 1, 10)), new OnlineWrite("drivers", Key(2), Row(1, 1, 20)), new OnlineWrite("drivers", Key(3), Row(1, 1, 30))]);
        foreach (var id in new long[] { 1, 2, 3 })
        {
            Assert.Equal(id * 10, await ValueAsync(b, id));
        }

        await a.WriteAsync([new OnlineWrite("drivers", Key(1), Row(2, 2, 11)), new OnlineWrite("drivers", Key(2), Row(2, 2, 21)), new OnlineWrite("drivers", Key(3), Row(2, 2, 31))]);

        await PollUntilAsync(() => Task.FromResult(bChannel.Received >= 1), "b receives the message");
        Assert.Equal(1, bChannel.Received);
        var values = new List<long?>();
        foreach (var id in new long[] { 1, 2, 3 })
        {
            values.Add(await ValueAsync(b, id));
        }

        Assert.Equal([11L, 21L, 31L], values);
        Assert.Equal(3, b.GetTierStats()[0].Invalidations);
    }

    [Fact]
    public async Task A_lost_message_is_bounded_by_the_maximum_staleness()
    {
        var shared = new InMemoryOnlineStore();
        var time = new ManualTimestamps();
        await using var b = Cache(shared, out _, time, TimeSpan.FromSeconds(5));
        await shared.WriteAsync([new OnlineWrite("drivers", Key(1), Row(1, 1, 10))]);
        Assert.Equal(10, await ValueAsync(b, 1));

        // Written past every cache, so no message is sent: as if it had been lost.
        await shared.WriteAsync([new OnlineWrite("drivers", Key(1), Row(2, 2, 11))]);
        Assert.Equal(10, await ValueAsync(b, 1));
        time.Advance(TimeSpan.FromSeconds(5) + TimeSpan.FromTicks(1));
        Assert.Equal(11, await ValueAsync(b, 1));
    }

    [Fact]
    public async Task A_message_that_does_not_decode_drops_everything()
    {
        var shared = new InMemoryOnlineStore();
        await using var b = Cache(shared, out var bChannel);
        await shared.WriteAsync([new OnlineWrite("drivers", Key(1), Row(1, 1, 10)), new OnlineWrite("drivers", Key(2), Row(1, 1, 20))]);
        await ValueAsync(b, 1);
        await ValueAsync(b, 2);
        Assert.Equal(2, b.GetTierStats()[0].Entries);

        await using var raw = await ConnectionMultiplexer.ConnectAsync(garnet.ConnectionString);
        await raw.GetSubscriber().PublishAsync(RedisChannel.Literal(RedisInvalidationChannel.ChannelName(_project)), "not an invalidation"u8.ToArray());

        await PollUntilAsync(() => Task.FromResult(b.GetTierStats()[0].Entries == 0), "b drops its entries");
        Assert.Equal(1, bChannel.Undecodable);
    }

    /// <summary>Lets two caches share one store without either disposing it.</summary>
    private sealed class NotOwned(IOnlineStore inner) : IOnlineStore
    {
        public ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default) => inner.ReadAsync(keys, rows, cancellationToken);

        public ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default) => inner.WriteAsync(writes, cancellationToken);

        public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default) => inner.DeleteViewAsync(view, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
