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
