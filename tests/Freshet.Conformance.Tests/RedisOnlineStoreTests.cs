using System.Globalization;
using Freshet.Online;
using Freshet.Redis;
using StackExchange.Redis;

namespace Freshet.Conformance.Tests;

/// <summary>Redis-specific behaviour on one redis-server: round trips counted by the server, 64-bit timestamps compared by the script, glob characters in names, errors.</summary>
[Collection("redis-single")]
public sealed class RedisOnlineStoreTests(RedisSingleFixture redis)
{
    private static byte[] Key(long id) => OnlineStoreConformance.Key(id);

    private static byte[] Row(long eventMicros, long createdMicros, long value) => OnlineStoreConformance.Row(eventMicros, createdMicros, value);

    /// <summary>How many times each command ran on <paramref name="server"/> since the last reset.</summary>
    internal static async Task<Dictionary<string, long>> CommandCalls(IServer server)
    {
        var calls = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        foreach (var group in await server.InfoAsync("commandstats"))
        {
            foreach (var (name, value) in group)
            {
                // cmdstat_mget:calls=1,usec=...
                var field = value.Split(',')[0];
                calls[name.Replace("cmdstat_", "", StringComparison.Ordinal)] = long.Parse(field["calls=".Length..], CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }

    private IServer Server => redis.Connection.GetServer(redis.Connection.GetEndPoints()[0]);

    [Fact]
    public async Task A_read_across_three_views_is_one_MGET_and_a_write_call_one_EVALSHA_with_one_MGET_and_MSET_per_chunk()
    {
        await using var store = RedisStores.Fresh(redis.Connection, rowsPerScript: 100);
        Assert.False(store.IsCluster);
        Assert.True(store.AtomicPuts);
        Assert.True(((IOnlineStore)store).IsShared);
        string[] views = ["drivers", "riders", "cities"];
        await Server.ConfigResetStatisticsAsync();

        Assert.Equal(300, await store.WriteAsync([.. views.SelectMany(v => Enumerable.Range(0, 100).Select(id => new OnlineWrite(v, Key(id), Row(id, 0, id))))]));

        // Commands a script runs count too: one MGET and one MSET per script call (a block of up to 200 keys),
        // not a GET and a SET per row.
        var writeCalls = await CommandCalls(Server);
        Assert.Equal(3, writeCalls.GetValueOrDefault("evalsha"));
        Assert.Equal(0, writeCalls.GetValueOrDefault("eval"));
        Assert.Equal(3, writeCalls.GetValueOrDefault("mget"));
        Assert.Equal(3, writeCalls.GetValueOrDefault("mset"));
        Assert.Equal(0, writeCalls.GetValueOrDefault("get"));
        Assert.Equal(0, writeCalls.GetValueOrDefault("set"));

        await Server.ConfigResetStatisticsAsync();
        var rows = new byte[]?[301];
        await store.ReadAsync([.. views.SelectMany(v => Enumerable.Range(0, 100).Select(id => new OnlineKey(v, Key(id)))), new OnlineKey("drivers", Key(1000))], rows);

        var readCalls = await CommandCalls(Server);
        Assert.Equal(1, readCalls.GetValueOrDefault("mget"));
        Assert.Equal(0, readCalls.GetValueOrDefault("get"));
        Assert.Equal(99, OnlineStoreConformance.ValueOf(rows[299]!));
        Assert.Null(rows[300]);
    }

    [Fact]
    public async Task Newest_wins_compares_the_full_64_bit_timestamps_on_the_server()
    {
        await using var store = RedisStores.Fresh(redis.Connection);

        // Beyond 2^53 a double cannot tell these apart, and negative times test the sign of the high half.
        long big = (1L << 62) + 1;
        await store.WriteAsync([new OnlineWrite("v", Key(1), Row(big, 0, 1)), new OnlineWrite("v", Key(2), Row(-5, 0, 1)), new OnlineWrite("v", Key(3), Row(7, long.MaxValue, 1))]);

        Assert.Equal(0, await store.WriteAsync([new OnlineWrite("v", Key(1), Row(big - 1, long.MaxValue, 2))]));
        Assert.Equal(1, await store.WriteAsync([new OnlineWrite("v", Key(1), Row(big + 1, long.MinValue, 3))]));
        Assert.Equal(0, await store.WriteAsync([new OnlineWrite("v", Key(2), Row(-6, 0, 2))]));
        Assert.Equal(1, await store.WriteAsync([new OnlineWrite("v", Key(2), Row(-4, 0, 3))]));
        Assert.Equal(0, await store.WriteAsync([new OnlineWrite("v", Key(3), Row(7, long.MaxValue - 1, 2))]));
        Assert.Equal(0, await store.WriteAsync([new OnlineWrite("v", Key(3), Row(-7, long.MaxValue, 2))]));

        var rows = new byte[]?[3];
        await store.ReadAsync([new OnlineKey("v", Key(1)), new OnlineKey("v", Key(2)), new OnlineKey("v", Key(3))], rows);
        Assert.Equal([3L, 3L, 1L], rows.Select(r => OnlineStoreConformance.ValueOf(r!)));
    }

    [Fact]
    public async Task A_key_repeated_across_the_scripts_blocks_of_200_keys_keeps_the_newest_row()
    {
        // One script call of 300 rows: its MGET/MSET blocks are rows 1-200 and 201-300, and keys 0 and 1 appear in
        // both, once newer first and once older first; key 2 is stored before the call with the newest row of all.
        await using var store = RedisStores.Fresh(redis.Connection, rowsPerScript: 1000);
        Assert.Equal(1, await store.WriteAsync([new OnlineWrite("blocks", Key(2), Row(500, 0, 7))]));
        var writes = Enumerable.Range(0, 300).Select(i => new OnlineWrite("blocks", Key(1000 + i), Row(10, 0, i))).ToArray();
        writes[5] = new OnlineWrite("blocks", Key(0), Row(20, 0, 1));
        writes[250] = new OnlineWrite("blocks", Key(0), Row(19, 5, 2));
        writes[6] = new OnlineWrite("blocks", Key(1), Row(19, 5, 3));
        writes[251] = new OnlineWrite("blocks", Key(1), Row(20, 0, 4));
        writes[7] = new OnlineWrite("blocks", Key(2), Row(499, 0, 5));

        // The 295 other keys, key 0 once, key 1 twice (its repeat is newer); key 0's older repeat and key 2 lose.
        Assert.Equal(298, await store.WriteAsync(writes));

        var rows = new byte[]?[4];
        await store.ReadAsync([new OnlineKey("blocks", Key(0)), new OnlineKey("blocks", Key(1)), new OnlineKey("blocks", Key(2)), new OnlineKey("blocks", Key(1299))], rows);
        Assert.Equal([1L, 4L, 7L, 299L], rows.Select(r => OnlineStoreConformance.ValueOf(r!)));
    }

    [Fact]
    public async Task Two_stores_on_separate_connections_writing_the_same_keys_leave_the_newest_row()
    {
        // Two connections stand for two processes: only the server-side script keeps a newer row from being lost.
        await using var other = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var prefix = "two" + Guid.NewGuid().ToString("N")[..8] + ":";
        await using var a = RedisOnlineStore.Open(redis.Connection, new RedisOnlineStoreOptions { KeyPrefix = prefix });
        await using var b = RedisOnlineStore.Open(other, new RedisOnlineStoreOptions { KeyPrefix = prefix });

        await Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            // Event times rise with i but arrive shuffled across the two writers.
            var store = i % 2 == 0 ? a : b;
            await store.WriteAsync([new OnlineWrite("v", Key(i % 5), Row(i, 0, i))], ct);
        });

        var rows = new byte[]?[5];
        await a.ReadAsync([.. Enumerable.Range(0, 5).Select(k => new OnlineKey("v", Key(k)))], rows);
        Assert.Equal(Enumerable.Range(395, 5).Select(i => (long)i), rows.Select(r => OnlineStoreConformance.ValueOf(r!)));
    }

    [Fact]
    public async Task View_names_with_glob_characters_are_deleted_and_scanned_exactly()
    {
        await using var store = RedisStores.Fresh(redis.Connection);
        string[] views = ["a*", "a?", "a[b]", "a\\", "ab", "a", "a*b"];
        foreach (var view in views)
        {
            await store.WriteAsync([.. Enumerable.Range(0, 5).Select(id => new OnlineWrite(view, Key(id), Row(1, 1, id)))]);
        }

        await store.PutAsync([new OnlinePut("a*", [(byte)'*'], [1]), new OnlinePut("a*", [(byte)'?', 1], [2])]);

        Assert.Equal([[(byte)'*']], (await Scan(store, "a*", (byte)'*')).Select(r => r.Key));
        Assert.Equal(7, (await Scan(store, "a*")).Count);
        Assert.Equal(7, await store.DeleteViewAsync("a*"));
        Assert.Equal(5, await store.DeleteViewAsync("a[b]"));
        Assert.Equal(5, await store.DeleteViewAsync("a\\"));
        foreach (var view in (string[])["a?", "ab", "a", "a*b"])
        {
            Assert.Equal(5, (await Scan(store, view)).Count);
        }
    }

    [Fact]
    public async Task An_unreachable_server_gives_one_line_naming_the_endpoint()
    {
        var port = RedisServers.FreePort();

        var error = Assert.Throws<RedisUnavailableException>(() => RedisOnlineStore.Connect($"127.0.0.1:{port},connectTimeout=2000"));

        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith("cannot connect to Redis", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_that_connects_itself_works_and_closes_its_connection()
    {
        var store = RedisOnlineStore.Connect(redis.ConnectionString, new RedisOnlineStoreOptions { KeyPrefix = "own" + Guid.NewGuid().ToString("N")[..8] + ":" });
        Assert.Equal(1, await store.WriteAsync([new OnlineWrite("v", Key(1), Row(1, 1, 1))]));
        var connection = store.Connection;

        await store.DisposeAsync();

        Assert.False(connection.IsConnected);
    }

    [Fact]
    public async Task A_malformed_row_is_refused_before_anything_is_sent()
    {
        await using var store = RedisStores.Fresh(redis.Connection);

        await Assert.ThrowsAsync<ArgumentException>(async () => await store.WriteAsync([new OnlineWrite("v", Key(1), Row(1, 1, 1)), new OnlineWrite("v", Key(2), [1, 2, 3])]));

        var rows = new byte[]?[1];
        await store.ReadAsync([new OnlineKey("v", Key(1))], rows);
        Assert.Null(rows[0]);
    }

    internal static async Task<List<KeyValuePair<byte[], byte[]>>> Scan(IOnlineStore store, string @namespace, params byte[] prefix)
    {
        var rows = new List<KeyValuePair<byte[], byte[]>>();
        await foreach (var row in store.ScanAsync(@namespace, prefix))
        {
            rows.Add(row);
        }

        return rows;
    }
}

/// <summary>Redis Cluster specifics: keys really spread over the masters, reads grouped by slot, deletes reach every master.</summary>
[Collection("redis-cluster")]
public sealed class RedisClusterOnlineStoreTests(RedisClusterFixture cluster)
{
    private IServer[] Masters => [.. cluster.Connection.GetServers().Where(s => !s.IsReplica)];

    [Fact]
    public async Task The_cluster_is_detected_and_puts_are_said_not_to_be_all_or_none()
    {
        await using var store = RedisStores.Fresh(cluster.Connection);

        Assert.True(store.IsCluster);
        Assert.False(store.AtomicPuts);
        Assert.Equal(3, Masters.Length);
    }

    [Fact]
    public async Task Rows_of_one_view_land_on_every_master_and_a_delete_removes_them_from_each()
    {
        var prefix = "spread" + Guid.NewGuid().ToString("N")[..8] + ":";
        await using var store = RedisOnlineStore.Open(cluster.Connection, new RedisOnlineStoreOptions { KeyPrefix = prefix });
        await store.WriteAsync([.. Enumerable.Range(0, 600).Select(id => new OnlineWrite("a", OnlineStoreConformance.Key(id), OnlineStoreConformance.Row(1, 1, id)))]);
        await store.WriteAsync([.. Enumerable.Range(0, 300).Select(id => new OnlineWrite("ab", OnlineStoreConformance.Key(id), OnlineStoreConformance.Row(1, 1, id)))]);

        var perMaster = await CountPerMaster(prefix);
        Assert.Equal(900, perMaster.Sum());

        // 600 keys over three masters holding a third of the slots each: far from all on one.
        Assert.All(perMaster, count => Assert.InRange(count, 150, 500));

        Assert.Equal(600, await store.DeleteViewAsync("a"));

        var after = await CountPerMaster(prefix);
        Assert.Equal(300, after.Sum());
        Assert.All(after, count => Assert.True(count > 0));
        Assert.Equal(300, (await RedisOnlineStoreTests.Scan(store, "ab")).Count);
    }

    [Fact]
    public async Task A_read_sends_one_MGET_per_hash_slot_and_answers_in_the_order_asked()
    {
        var prefix = "slots" + Guid.NewGuid().ToString("N")[..8] + ":";
        await using var store = RedisOnlineStore.Open(cluster.Connection, new RedisOnlineStoreOptions { KeyPrefix = prefix });
        await store.WriteAsync([.. Enumerable.Range(0, 40).Select(id => new OnlineWrite(id % 2 == 0 ? "x" : "y", OnlineStoreConformance.Key(id), OnlineStoreConformance.Row(1, 1, id)))]);
        var keys = Enumerable.Range(0, 50).Select(id => new OnlineKey(id % 2 == 0 ? "x" : "y", OnlineStoreConformance.Key(id))).Reverse().ToArray();
        var layout = new RedisKeys(prefix);
        var slots = keys.Select(k => cluster.Connection.HashSlot(layout.Key(k.View, k.EntityKey))).Distinct().Count();
        foreach (var master in Masters)
        {
            await master.ConfigResetStatisticsAsync();
        }

        var rows = new byte[]?[keys.Length];
        await store.ReadAsync(keys, rows);

        var mgets = 0L;
        foreach (var master in Masters)
        {
            mgets += (await RedisOnlineStoreTests.CommandCalls(master)).GetValueOrDefault("mget");
        }

        Assert.Equal(slots, mgets);
        for (var i = 0; i < keys.Length; i++)
        {
            var id = 49 - i;
            if (id >= 40)
            {
                Assert.Null(rows[i]);
            }
            else
            {
                Assert.Equal(id, OnlineStoreConformance.ValueOf(rows[i]!));
            }
        }
    }

    private async Task<long[]> CountPerMaster(string prefix)
    {
        var head = System.Text.Encoding.UTF8.GetBytes("{}" + prefix);
        var counts = new long[Masters.Length];
        for (var m = 0; m < counts.Length; m++)
        {
            await foreach (var _ in Masters[m].KeysAsync(pattern: RedisKeys.MatchPattern(head), pageSize: 1000))
            {
                counts[m]++;
            }
        }

        return counts;
    }
}
