using System.Diagnostics;
using Freshet.Online;
using Freshet.Redis;

namespace Freshet.Conformance.Tests;

/// <summary>
/// A store that <see cref="RedisOnlineStore.Connect"/> opened, on a <c>redis-server</c> of its own that is killed and
/// started again on the same port and directory: calls fail fast with <see cref="RedisUnavailableException"/> while it is
/// down, work again shortly after it answers PING, and what was written before is still there (AOF, fsync always). The
/// server-level outage under load is <c>Freshet.Cli.Tests.RedisOutageTests</c>.
/// </summary>
public sealed class RedisRestartTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-redis-restart-" + Guid.NewGuid().ToString("N"));
    private readonly int _port = RedisServers.FreePort();
    private Process? _redis;

    public async Task InitializeAsync() => _redis = await RedisServers.StartAsync(_dir, _port);

    public Task DisposeAsync()
    {
        RedisServers.Stop(_redis);
        RedisServers.DeleteDir(_dir);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Calls_fail_fast_while_redis_is_down_and_work_again_within_1_s_of_its_return_with_the_rows_kept()
    {
        await using var store = RedisOnlineStore.Connect($"127.0.0.1:{_port}");
        Assert.Equal(1, await store.WriteAsync([new OnlineWrite("v", OnlineStoreConformance.Key(1), OnlineStoreConformance.Row(1, 1, 1))]));

        _redis!.Kill();
        await _redis.WaitForExitAsync();
        _redis.Dispose();
        _redis = null;

        // Every kind of call, while Redis is down: refused at once with a message naming the endpoint.
        var clock = Stopwatch.StartNew();
        var calls = new Func<Task>[]
        {
            async () => await store.ReadAsync([new OnlineKey("v", OnlineStoreConformance.Key(1))], new byte[]?[1]),
            async () => await store.WriteAsync([new OnlineWrite("v", OnlineStoreConformance.Key(2), OnlineStoreConformance.Row(1, 1, 2))]),
            async () => await store.PutAsync([new OnlinePut("__ns", [1], [1])]),
            async () => await store.SwapAsync([new OnlineSwap("__ns", [1], null, [1])], new bool[1]),
            async () => await CountAsync(store.ScanAsync("__ns", [])),
        };
        foreach (var call in calls)
        {
            var error = await Assert.ThrowsAsync<RedisUnavailableException>(call);
            Assert.IsAssignableFrom<OnlineStoreUnavailableException>(error);
            Assert.Contains($"Redis at 127.0.0.1:{_port}", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error.Message);
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"five refused calls took {clock.Elapsed.TotalSeconds:F1} s");

        // Back on the same port and directory: the first read after PING answers succeeds within 1 s and finds the row
        // written before; a write (whose script the new server has never loaded) works too.
        _redis = await RedisServers.StartAsync(_dir, _port);
        clock.Restart();
        var rows = new byte[]?[1];
        while (true)
        {
            try
            {
                await store.ReadAsync([new OnlineKey("v", OnlineStoreConformance.Key(1))], rows);
                break;
            }
            catch (RedisUnavailableException)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the store did not reconnect");
                await Task.Delay(10);
            }
        }

        Assert.True(clock.Elapsed <= TimeSpan.FromSeconds(1), $"the first successful read came {clock.Elapsed.TotalMilliseconds:F0} ms after PING answered");
        Assert.Equal(OnlineStoreConformance.Row(1, 1, 1), rows[0]);
        Assert.Equal(1, await store.WriteAsync([new OnlineWrite("v", OnlineStoreConformance.Key(2), OnlineStoreConformance.Row(1, 1, 2))]));
    }

    [Fact]
    public async Task The_invalidation_channel_fails_fast_naming_redis_while_it_is_down_and_publishes_again_after_its_return()
    {
        const string Project = "restart";
        await using var publisher = RedisInvalidationChannel.Connect($"127.0.0.1:{_port}", Project);
        await using var subscriber = RedisInvalidationChannel.Connect($"127.0.0.1:{_port}", Project);
        var received = 0;
        subscriber.Subscribe(_ => Interlocked.Increment(ref received));
        var invalidation = new Invalidation([new OnlineKey("v", OnlineStoreConformance.Key(1))], []);
        await publisher.PublishAsync(invalidation);
        await WaitUntilAsync(() => Volatile.Read(ref received) >= 1, "the first invalidation was not received");

        _redis!.Kill();
        await _redis.WaitForExitAsync();
        _redis.Dispose();
        _redis = null;

        // A publish while Redis is down is refused at once as the store's "unavailable" (HTTP 503), not a raw client error.
        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<RedisUnavailableException>(async () => await publisher.PublishAsync(invalidation));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"the refused publish took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Contains("cache invalidation channel", error.Message, StringComparison.Ordinal);
        Assert.Contains($"Redis at 127.0.0.1:{_port}", error.Message, StringComparison.Ordinal);

        _redis = await RedisServers.StartAsync(_dir, _port);
        clock.Restart();
        while (true)
        {
            try
            {
                await publisher.PublishAsync(invalidation);
                break;
            }
            catch (RedisUnavailableException)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the channel did not reconnect");
                await Task.Delay(10);
            }
        }

        Assert.True(clock.Elapsed <= TimeSpan.FromSeconds(1), $"the first publish came {clock.Elapsed.TotalMilliseconds:F0} ms after PING answered");
    }

    [Fact]
    public void An_unreachable_redis_is_named_when_the_invalidation_channel_connects()
    {
        var port = RedisServers.FreePort();
        var error = Assert.Throws<RedisUnavailableException>(() => RedisInvalidationChannel.Connect($"127.0.0.1:{port}", "p"));
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string message)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), message);
            await Task.Delay(10);
        }
    }

    private static async Task<int> CountAsync(IAsyncEnumerable<KeyValuePair<byte[], byte[]>> rows)
    {
        var n = 0;
        await foreach (var _ in rows)
        {
            n++;
        }

        return n;
    }
}
