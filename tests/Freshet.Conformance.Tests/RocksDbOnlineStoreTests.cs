using Freshet.Online;
using Freshet.RocksDb;

namespace Freshet.Conformance.Tests;

/// <summary>What the RocksDB store promises beyond the contract: its rows outlive the process that wrote them.</summary>
public sealed class RocksDbOnlineStoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-rocks-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task Rows_written_before_closing_read_back_after_reopening_the_directory()
    {
        var rows = Enumerable.Range(0, 1_000).Select(id => new OnlineWrite(id % 3 == 0 ? "a" : "ab", OnlineStoreConformance.Key(id), OnlineStoreConformance.Row(100 + id, 0, id))).ToList();
        await using (var store = RocksDbOnlineStore.Open(_dir))
        {
            Assert.Equal(1_000, await store.WriteAsync(rows));
        }

        await using var reopened = RocksDbOnlineStore.Open(_dir);
        var read = new byte[]?[rows.Count];
        await reopened.ReadAsync([.. rows.Select(r => new OnlineKey(r.View, r.EntityKey))], read);

        for (var i = 0; i < rows.Count; i++)
        {
            Assert.Equal(rows[i].Row, read[i]);
        }

        // Newest-wins compares against what the earlier process stored.
        Assert.Equal(0, await reopened.WriteAsync([new OnlineWrite("a", OnlineStoreConformance.Key(0), OnlineStoreConformance.Row(99, 0, -1))]));
        Assert.Equal(334, await reopened.DeleteViewAsync("a"));
        Assert.Equal(666, await reopened.DeleteViewAsync("ab"));
    }

    [Fact]
    public async Task A_second_open_of_a_directory_in_use_fails_instead_of_sharing_it()
    {
        await using var store = RocksDbOnlineStore.Open(_dir);

        var e = Assert.Throws<OnlineStoreBusyException>(() => RocksDbOnlineStore.Open(_dir));
        Assert.Contains("in use by another process", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_closed_store_refuses_further_calls()
    {
        var store = RocksDbOnlineStore.Open(_dir);
        await store.DisposeAsync();
        await store.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.ReadAsync([new OnlineKey("a", [1])], new byte[]?[1]));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.WriteAsync([new OnlineWrite("a", [1], OnlineStoreConformance.Row(1, 1, 1))]));
    }

    [Fact]
    public async Task A_write_that_is_not_an_encoded_row_is_refused_and_nothing_of_its_call_is_stored()
    {
        await using var store = RocksDbOnlineStore.Open(_dir);

        await Assert.ThrowsAsync<ArgumentException>(async () => await store.WriteAsync(
            [new OnlineWrite("a", [1], OnlineStoreConformance.Row(1, 1, 1)), new OnlineWrite("a", [2], [1, 2, 3])]));

        var read = new byte[]?[1];
        await store.ReadAsync([new OnlineKey("a", [1])], read);
        Assert.Null(read[0]);
    }

    [Fact]
    public void A_key_starts_with_the_view_name_as_a_varint_length_and_its_utf8_bytes()
    {
        Assert.Equal([1, (byte)'a'], RocksDbOnlineStore.EncodeViewPrefix("a"));
        Assert.Equal([0], RocksDbOnlineStore.EncodeViewPrefix(""));
        Assert.Equal([5, (byte)'c', (byte)'a', (byte)'f', 0xC3, 0xA9], RocksDbOnlineStore.EncodeViewPrefix("caf\u00e9"));

        var longName = new string('v', 200);
        var prefix = RocksDbOnlineStore.EncodeViewPrefix(longName);
        Assert.Equal([0xC8, 0x01], prefix[..2]);
        Assert.Equal(202, prefix.Length);
    }

    [Fact]
    public async Task A_newer_row_written_while_an_older_one_is_between_its_read_and_its_commit_still_wins()
    {
        await using var store = RocksDbOnlineStore.Open(_dir);
        var key = OnlineStoreConformance.Key(1);
        using var olderHasRead = new ManualResetEventSlim();
        using var releaseOlder = new ManualResetEventSlim();
        store.BeforeCommit = writes =>
        {
            if (OnlineStoreConformance.ValueOf(writes[0].Row) == 1)
            {
                olderHasRead.Set();
                releaseOlder.Wait(TimeSpan.FromSeconds(10));
            }
        };

        // The older writer stops after reading "nothing stored"; the newer one must not slip in before it
        // commits, or the older row would land last and overwrite it.
        var older = Task.Run(async () => await store.WriteAsync([new OnlineWrite("v", key, OnlineStoreConformance.Row(1_000, 0, 1))]));
        Assert.True(olderHasRead.Wait(TimeSpan.FromSeconds(10)));
        var newer = Task.Run(async () => await store.WriteAsync([new OnlineWrite("v", key, OnlineStoreConformance.Row(2_000, 0, 2))]));
        await Task.Delay(200);
        Assert.False(newer.IsCompleted, "the newer writer of the key did not wait for the older one");
        releaseOlder.Set();

        Assert.Equal(1, await older);
        Assert.Equal(1, await newer);
        var read = new byte[]?[1];
        await store.ReadAsync([new OnlineKey("v", key)], read);
        Assert.Equal(2, OnlineStoreConformance.ValueOf(read[0]!));
    }

    [Fact]
    public async Task Batches_sharing_few_locks_in_opposite_key_orders_neither_deadlock_nor_lose_the_newest_row()
    {
        await using var store = RocksDbOnlineStore.Open(_dir, new RocksDbOnlineStoreOptions { LockStripes = 3 });
        var ids = Enumerable.Range(0, 64).ToArray();

        // Each writer's round r rewrites every key with event time r; one walks the keys up, one down.
        async Task Writer(bool descending, int offset)
        {
            for (var round = 1; round <= 50; round++)
            {
                var order = descending ? ids.Reverse() : ids;
                var stamp = (round * 2) + offset;
                await Task.Run(async () => await store.WriteAsync([.. order.Select(id => new OnlineWrite("v", OnlineStoreConformance.Key(id), OnlineStoreConformance.Row(stamp, 0, stamp)))]));
            }
        }

        await Task.WhenAll(Writer(false, 0), Writer(true, 1)).WaitAsync(TimeSpan.FromSeconds(20));

        var rows = new byte[]?[ids.Length];
        await store.ReadAsync([.. ids.Select(id => new OnlineKey("v", OnlineStoreConformance.Key(id)))], rows);
        Assert.All(rows, row => Assert.Equal(101, OnlineStoreConformance.ValueOf(row!)));
    }

    [Fact]
    public async Task A_put_batch_whose_commit_throws_leaves_none_of_its_rows_visible()
    {
        await using var store = RocksDbOnlineStore.Open(_dir);
        await store.PutAsync([new OnlinePut("tiles", [1], [1]), new OnlinePut("offsets", [0], [1]), new OnlinePut("tiles", [9], [9])]);
        store.BeforePutCommit = _ => throw new IOException("disk gone");

        await Assert.ThrowsAsync<IOException>(async () => await store.PutAsync(
        [
            new OnlinePut("tiles", [1], [2]),
            new OnlinePut("tiles", [2], [2]),
            new OnlinePut("tiles", [9], null),
            new OnlinePut("offsets", [0], [2]),
        ]));

        var read = new byte[]?[4];
        await store.ReadAsync([new OnlineKey("tiles", [1]), new OnlineKey("tiles", [2]), new OnlineKey("tiles", [9]), new OnlineKey("offsets", [0])], read);
        Assert.Equal([[1], null, [9], [1]], read);

        // The failed call released its locks: the next put and a newest-wins write of the same keys go through.
        store.BeforePutCommit = null;
        await store.PutAsync([new OnlinePut("tiles", [1], [3]), new OnlinePut("offsets", [0], [3])]).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        await store.ReadAsync([new OnlineKey("tiles", [1]), new OnlineKey("offsets", [0])], read);
        Assert.Equal([3], read[0]);
        Assert.Equal([3], read[1]);
    }

    [Fact]
    public async Task A_newest_wins_write_waits_for_a_put_of_its_key_that_is_about_to_commit()
    {
        await using var store = RocksDbOnlineStore.Open(_dir);
        var key = OnlineStoreConformance.Key(1);
        var newer = OnlineStoreConformance.Row(2_000, 0, 2);
        using var putHolding = new ManualResetEventSlim();
        using var releasePut = new ManualResetEventSlim();
        store.BeforePutCommit = _ =>
        {
            putHolding.Set();
            releasePut.Wait(TimeSpan.FromSeconds(10));
        };

        // The put stores an older row as it is; the write must compare against it, not against what was
        // there before the put, so it has to wait for the put's commit.
        var put = Task.Run(async () => await store.PutAsync([new OnlinePut("v", key, OnlineStoreConformance.Row(1_000, 0, 1))]));
        Assert.True(putHolding.Wait(TimeSpan.FromSeconds(10)));
        var write = Task.Run(async () => await store.WriteAsync([new OnlineWrite("v", key, newer)]));
        await Task.Delay(200);
        Assert.False(write.IsCompleted, "the write of the key did not wait for the put holding it");
        releasePut.Set();
        await put;

        Assert.Equal(1, await write);
        var read = new byte[]?[1];
        await store.ReadAsync([new OnlineKey("v", key)], read);
        Assert.Equal(newer, read[0]);
    }

    [Fact]
    public async Task State_rows_put_before_closing_scan_back_after_reopening_the_directory()
    {
        await using (var store = RocksDbOnlineStore.Open(_dir))
        {
            await store.PutAsync([.. Enumerable.Range(0, 500).Select(i => new OnlinePut("tiles", [(byte)(i / 256), (byte)i], [(byte)i]))]);
            await store.PutAsync([new OnlinePut("tiles", [0, 7], null)]);
        }

        await using var reopened = RocksDbOnlineStore.Open(_dir);
        var keys = new List<byte[]>();
        await foreach (var row in reopened.ScanAsync("tiles", []))
        {
            keys.Add(row.Key);
            Assert.Equal(row.Key[1], row.Value[0]);
        }

        Assert.Equal(499, keys.Count);
        Assert.DoesNotContain([0, 7], keys);
        Assert.Equal(keys.OrderBy(k => k[0]).ThenBy(k => k[1]), keys);
    }

    [Fact]
    public async Task A_scan_abandoned_part_way_releases_its_iterator_and_the_store_still_closes()
    {
        var store = RocksDbOnlineStore.Open(_dir);
        await store.PutAsync([.. Enumerable.Range(0, 100).Select(i => new OnlinePut("s", [(byte)i], [(byte)i]))]);

        var seen = 0;
        await foreach (var row in store.ScanAsync("s", []))
        {
            if (++seen == 10)
            {
                break;
            }
        }

        await store.DisposeAsync();
        await using var reopened = RocksDbOnlineStore.Open(_dir);
        Assert.Equal(100, await reopened.DeleteViewAsync("s"));
    }

    [Fact]
    public void The_upper_bound_of_a_prefix_is_the_least_key_above_all_its_extensions()
    {
        Assert.Equal([1, 2], RocksDbOnlineStore.UpperBound([1, 1]));
        Assert.Equal([2], RocksDbOnlineStore.UpperBound([1, 0xFF, 0xFF]));
        Assert.Equal([1, 0x81], RocksDbOnlineStore.UpperBound([1, 0x80]));
        Assert.Null(RocksDbOnlineStore.UpperBound([0xFF, 0xFF]));
        Assert.Null(RocksDbOnlineStore.UpperBound([]));
    }
}
