using System.Collections.Concurrent;
using Freshet.Conformance.Tests;
using Freshet.Online;
using Freshet.Registry;

namespace Freshet.Postgres.Tests;

/// <summary>
/// What the PostgreSQL stores promise beyond the contracts: concurrent commits and writes from several
/// connection pools (as from several processes) lose nothing, compare-and-set per key, rows outlive the
/// connection that wrote them, and an unreachable server or a wrong password is one clear line.
/// </summary>
public sealed class PostgresStoreTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private static RegistryState WithRecord(RegistryState current, string view) => current with
    {
        Version = current.Version + 1,
        UpdatedBy = view,
        Materializations = [.. current.Materializations, new MaterializationRecord(view, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, 1)],
    };

    [Fact]
    public async Task Many_writers_committing_concurrently_each_version_has_one_winner_and_no_change_is_lost()
    {
        var cs = server.CreateDatabase();
        await using (var first = new PostgresRegistryStore(cs, "conformance"))
        {
            await first.CommitAsync(RegistryStoreConformance.Applied(null, RegistryStoreConformance.Repo()), 0);
        }

        const int Writers = 6;
        const int ChangesEach = 8;
        var winners = new ConcurrentDictionary<long, string>();
        var conflicts = 0;
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            // Each writer is its own pool, as another process would be.
            await using var store = new PostgresRegistryStore(cs, "conformance");
            for (var k = 0; k < ChangesEach; k++)
            {
                var change = $"w{w}-{k}";
                while (true)
                {
                    var current = (await store.LoadAsync())!;
                    var next = WithRecord(current, change);
                    try
                    {
                        await store.CommitAsync(next, current.Version);
                        Assert.True(winners.TryAdd(next.Version, change), $"version {next.Version} was committed twice");
                        break;
                    }
                    catch (RegistryConflictException e)
                    {
                        Assert.Equal(current.Version, e.ExpectedVersion);
                        Assert.True(e.ActualVersion > current.Version);
                        Interlocked.Increment(ref conflicts);
                    }
                }
            }
        })));

        await using var reader = new PostgresRegistryStore(cs, "conformance");
        var final = (await reader.LoadAsync())!;
        Assert.Equal(1 + (Writers * ChangesEach), final.Version);
        Assert.Equal(Enumerable.Range(2, Writers * ChangesEach).Select(v => (long)v), winners.Keys.Order());

        // Every change is there exactly once, in the order of the versions that won.
        Assert.Equal(winners.OrderBy(p => p.Key).Select(p => p.Value), final.Materializations.Select(m => m.View));
        Assert.True(conflicts > 0, "the writers never collided, so the test proved nothing about conflicts");
    }

    [Fact]
    public async Task Two_projects_share_a_database_without_seeing_each_other()
    {
        var cs = server.CreateDatabase();
        await using var a = new PostgresRegistryStore(cs, "conformance");
        await using var b = new PostgresRegistryStore(cs, "other");
        await a.CommitAsync(RegistryStoreConformance.Applied(null, RegistryStoreConformance.Repo()), 0);

        Assert.Null(await b.LoadAsync());
        await Assert.ThrowsAsync<ArgumentException>(async () => await b.CommitAsync(RegistryStoreConformance.Applied(null, RegistryStoreConformance.Repo()), 0));
    }

    [Fact]
    public async Task Stores_opened_together_on_an_empty_database_all_create_the_schema_without_failing()
    {
        var cs = server.CreateDatabase();
        var stores = Enumerable.Range(0, 8).Select(_ => new PostgresOnlineStore(cs)).ToList();
        var registries = Enumerable.Range(0, 8).Select(_ => new PostgresRegistryStore(cs, "conformance")).ToList();
        try
        {
            await Task.WhenAll(stores.Select(s => Task.Run(async () => await s.EnsureCreatedAsync()))
                .Concat(registries.Select(r => Task.Run(async () => await r.LoadAsync()))));
            Assert.Equal(1, await stores[0].WriteAsync([new OnlineWrite("v", OnlineStoreConformance.Key(1), OnlineStoreConformance.Row(1, 1, 1))]));
        }
        finally
        {
            foreach (var s in stores)
            {
                await s.DisposeAsync();
            }

            foreach (var r in registries)
            {
                await r.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Concurrent_writers_of_the_same_keys_from_two_pools_leave_the_newest_row_of_each_key()
    {
        var cs = server.CreateDatabase();
        await using var one = new PostgresOnlineStore(cs);
        await using var two = new PostgresOnlineStore(cs);
        const int Keys = 50;
        const int Rounds = 40;

        // Both write every key every round with shuffled timestamps; the greatest event time is 1000 * Rounds + key.
        await Task.WhenAll(new[] { one, two }.Select((store, s) => Task.Run(async () =>
        {
            var random = new Random(s);
            foreach (var round in Enumerable.Range(1, Rounds).OrderBy(_ => random.Next()))
            {
                var writes = Enumerable.Range(0, Keys).Select(k => new OnlineWrite("v", OnlineStoreConformance.Key(k), OnlineStoreConformance.Row((1000 * round) + k, s, (round * 10) + s))).ToList();
                await store.WriteAsync(writes);
            }
        })));

        var rows = new byte[]?[Keys];
        await one.ReadAsync([.. Enumerable.Range(0, Keys).Select(k => new OnlineKey("v", OnlineStoreConformance.Key(k)))], rows);
        for (var k = 0; k < Keys; k++)
        {
            // Equal event times: the greater created time (writer 1) wins.
            Assert.Equal((1000L * Rounds) + k, RowCodec.EventMicros(rows[k]));
            Assert.Equal((Rounds * 10) + 1, OnlineStoreConformance.ValueOf(rows[k]!));
        }
    }

    [Fact]
    public async Task Rows_written_through_one_pool_read_back_through_a_new_one()
    {
        var cs = server.CreateDatabase();
        var rows = Enumerable.Range(0, 1_000).Select(id => new OnlineWrite(id % 3 == 0 ? "a" : "ab", OnlineStoreConformance.Key(id), OnlineStoreConformance.Row(100 + id, 0, id))).ToList();
        await using (var store = new PostgresOnlineStore(cs))
        {
            Assert.Equal(1_000, await store.WriteAsync(rows));
        }

        await using var reopened = new PostgresOnlineStore(cs);
        var read = new byte[]?[rows.Count];
        await reopened.ReadAsync([.. rows.Select(r => new OnlineKey(r.View, r.EntityKey))], read);
        for (var i = 0; i < rows.Count; i++)
        {
            Assert.Equal(rows[i].Row, read[i]);
        }

        Assert.Equal(0, await reopened.WriteAsync([new OnlineWrite("a", OnlineStoreConformance.Key(0), OnlineStoreConformance.Row(99, 0, -1))]));
        Assert.Equal(334, await reopened.DeleteViewAsync("a"));
        Assert.Equal(666, await reopened.DeleteViewAsync("ab"));
    }

    [Fact]
    public async Task A_swap_is_stored_only_where_the_stored_value_is_the_expected_one()
    {
        await using var store = new PostgresOnlineStore(server.CreateDatabase());
        Assert.True(store.IsShared);
        await store.PutAsync([new OnlinePut("s", [1], [10]), new OnlinePut("s", [2], [20]), new OnlinePut("s", [3], [30])]);

        var applied = new bool[7];
        await store.SwapAsync(
        [
            new OnlineSwap("s", [1], [10], [11]),   // matches: updated
            new OnlineSwap("s", [2], [99], [21]),   // stale: refused
            new OnlineSwap("s", [3], [30], null),   // matches: deleted
            new OnlineSwap("s", [4], null, [40]),   // absent as expected: inserted
            new OnlineSwap("s", [1, 0], null, null), // absent as expected: nothing to do, applied
            new OnlineSwap("s", [2, 0], [1], [2]),  // expects a row that is not there: refused
            new OnlineSwap("t", [2], null, [5]),    // another namespace: inserted
        ], applied);

        Assert.Equal([true, false, true, true, true, false, true], applied);
        var rows = new byte[]?[5];
        await store.ReadAsync([new OnlineKey("s", [1]), new OnlineKey("s", [2]), new OnlineKey("s", [3]), new OnlineKey("s", [4]), new OnlineKey("t", [2])], rows);
        Assert.Equal([[11], [20], null, [40], [5]], rows);

        // Expecting no row where there is one is refused, and so is a delete of a changed row.
        await store.SwapAsync([new OnlineSwap("s", [4], null, [41]), new OnlineSwap("s", [2], [21], null)], applied);
        Assert.Equal([false, false], applied[..2]);
    }

    [Fact]
    public async Task Concurrent_swaps_of_one_counter_from_two_pools_lose_no_increment()
    {
        var cs = server.CreateDatabase();
        await using var one = new PostgresOnlineStore(cs);
        await using var two = new PostgresOnlineStore(cs);
        const int Each = 100;

        await Task.WhenAll(new[] { one, two }.Select(store => Task.Run(async () =>
        {
            var applied = new bool[1];
            for (var done = 0; done < Each;)
            {
                var current = new byte[]?[1];
                await store.ReadAsync([new OnlineKey("c", [0])], current);
                var value = current[0] is { } b ? BitConverter.ToInt32(b) : 0;
                await store.SwapAsync([new OnlineSwap("c", [0], current[0], BitConverter.GetBytes(value + 1))], applied);
                if (applied[0])
                {
                    done++;
                }
            }
        })));

        var final = new byte[]?[1];
        await one.ReadAsync([new OnlineKey("c", [0])], final);
        Assert.Equal(2 * Each, BitConverter.ToInt32(final[0]));
    }

    [Fact]
    public async Task A_wrong_password_is_one_line_naming_the_server_and_the_cause()
    {
        var cs = server.ConnectionString("postgres").Replace(PostgresServer.Password, "not-the-password", StringComparison.Ordinal);
        await using var store = new PostgresOnlineStore(cs);

        var e = await Assert.ThrowsAsync<PostgresUnavailableException>(async () => await store.EnsureCreatedAsync());

        Assert.StartsWith($"cannot connect to PostgreSQL at 127.0.0.1:{server.Port}/postgres: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("password authentication failed", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain("not-the-password", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_is_not_there_is_one_line_naming_the_port()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var registry = new PostgresRegistryStore($"Host=127.0.0.1;Port={port};Username=u;Password=p;Database=reg;Timeout=5", "p");

        var e = await Assert.ThrowsAsync<PostgresUnavailableException>(async () => await registry.LoadAsync());

        Assert.StartsWith($"cannot connect to PostgreSQL at 127.0.0.1:{port}/reg: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("refused", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain('\n', e.Message);
    }
}
