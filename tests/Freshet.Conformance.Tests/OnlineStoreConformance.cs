using Freshet.Online;
using Freshet.RocksDb;
using Freshet.Values;

namespace Freshet.Conformance.Tests;

/// <summary>
/// The contract of <see cref="IOnlineStore"/> (DESIGN §3), run against every back end: per key the row with
/// the greatest (event, created) timestamps wins whatever the arrival order; equal timestamps replace the
/// stored row (last write wins, so re-materializing a row is idempotent); a read of many keys across views
/// answers in key order; deleting a view touches no other view.
/// </summary>
public abstract class OnlineStoreConformance : IAsyncLifetime
{
    private static readonly uint[] Hashes = [RowCodec.NameHash("value"), RowCodec.NameHash("label")];

    private IOnlineStore? _store;

    protected IOnlineStore Store => _store ?? throw new InvalidOperationException("not initialized");

    /// <summary>A new, empty store for one test.</summary>
    protected abstract IOnlineStore CreateStore();

    public Task InitializeAsync()
    {
        _store = CreateStore();
        return Task.CompletedTask;
    }

    public virtual async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }

    internal static byte[] Key(long id) => EntityKeyCodec.Encode([FeatureValue.FromInt64(id)]);

    internal static byte[] Row(long eventMicros, long createdMicros, long value, string label = "") =>
        RowCodec.Write(eventMicros, createdMicros, Hashes, [FeatureValue.FromInt64(value), FeatureValue.FromString(label)]);

    internal static long ValueOf(byte[] row)
    {
        var values = new FeatureValue[1];
        var found = new bool[1];
        RowCodec.Read(row, Hashes.AsSpan(0, 1), values, found);
        Assert.True(found[0]);
        return values[0].AsInt64();
    }

    protected async Task<byte[]?[]> Read(params OnlineKey[] keys)
    {
        var rows = new byte[]?[keys.Length];
        await Store.ReadAsync(keys, rows);
        return rows;
    }

    protected async Task<byte[]?> ReadOne(string view, long id) => (await Read(new OnlineKey(view, Key(id))))[0];

    [Fact]
    public async Task A_written_row_reads_back_byte_for_byte()
    {
        var row = Row(1_000, 2_000, 42, "forty-two");

        Assert.Equal(1, await Store.WriteAsync([new OnlineWrite("drivers", Key(7), row)]));

        var read = await ReadOne("drivers", 7);
        Assert.Equal(row, read);
        Assert.Equal(42, ValueOf(read!));
    }

    [Fact]
    public async Task A_key_never_written_reads_as_null()
    {
        await Store.WriteAsync([new OnlineWrite("drivers", Key(1), Row(1, 1, 1))]);

        var rows = await Read(new OnlineKey("drivers", Key(2)), new OnlineKey("riders", Key(1)), new OnlineKey("nowhere", Key(1)));

        Assert.All(rows, Assert.Null);
    }

    [Fact]
    public async Task One_read_across_views_answers_every_key_in_the_order_asked()
    {
        string[] views = ["drivers", "riders", "cities"];
        var writes = new List<OnlineWrite>();
        foreach (var view in views)
        {
            for (var id = 0; id < 200; id += 2)
            {
                writes.Add(new OnlineWrite(view, Key(id), Row(id, 0, (id * 10) + view.Length)));
            }
        }

        await Store.WriteAsync(writes);

        // Shuffled, mixing views, present (even) and missing (odd) keys, and asking for one key twice.
        var random = new Random(5);
        var asked = new List<(string View, long Id)>();
        for (var i = 0; i < 500; i++)
        {
            asked.Add((views[random.Next(views.Length)], random.Next(200)));
        }

        asked.Add(asked[0]);
        var rows = await Read([.. asked.Select(a => new OnlineKey(a.View, Key(a.Id)))]);

        for (var i = 0; i < asked.Count; i++)
        {
            var (view, id) = asked[i];
            if (id % 2 == 1)
            {
                Assert.Null(rows[i]);
            }
            else
            {
                Assert.Equal((id * 10) + view.Length, ValueOf(rows[i]!));
            }
        }
    }

    [Fact]
    public async Task An_older_row_arriving_later_is_ignored_and_not_counted()
    {
        var newer = Row(2_000, 0, 2);
        await Store.WriteAsync([new OnlineWrite("v", Key(1), newer)]);

        var applied = await Store.WriteAsync([new OnlineWrite("v", Key(1), Row(1_000, 9_999, 1)), new OnlineWrite("v", Key(2), Row(1_000, 0, 3))]);

        Assert.Equal(1, applied);
        Assert.Equal(newer, await ReadOne("v", 1));
        Assert.Equal(3, ValueOf((await ReadOne("v", 2))!));
    }

    [Fact]
    public async Task A_newer_row_replaces_the_stored_one()
    {
        await Store.WriteAsync([new OnlineWrite("v", Key(1), Row(1_000, 0, 1))]);

        Assert.Equal(1, await Store.WriteAsync([new OnlineWrite("v", Key(1), Row(1_001, 0, 2))]));

        Assert.Equal(2, ValueOf((await ReadOne("v", 1))!));
    }

    [Fact]
    public async Task On_equal_event_time_the_larger_created_time_wins_in_either_order()
    {
        await Store.WriteAsync([new OnlineWrite("v", Key(1), Row(1_000, 5, 1))]);
        Assert.Equal(1, await Store.WriteAsync([new OnlineWrite("v", Key(1), Row(1_000, 6, 2))]));
        Assert.Equal(0, await Store.WriteAsync([new OnlineWrite("v", Key(1), Row(1_000, 4, 3))]));

        Assert.Equal(2, ValueOf((await ReadOne("v", 1))!));
    }

    [Fact]
    public async Task Equal_timestamps_replace_the_stored_row_so_the_last_write_wins()
    {
        // RowCodec.Supersedes: a row is not older than one with the same (event, created), so it replaces it
        // and counts as a replacement; re-materializing the same data is then idempotent.
        await Store.WriteAsync([new OnlineWrite("v", Key(1), Row(1_000, 5, 1, "first"))]);

        Assert.Equal(1, await Store.WriteAsync([new OnlineWrite("v", Key(1), Row(1_000, 5, 2, "second"))]));

        Assert.Equal(Row(1_000, 5, 2, "second"), await ReadOne("v", 1));
    }

    [Fact]
    public async Task A_key_written_twice_in_one_call_keeps_the_newer_row_whatever_the_order()
    {
        var applied = await Store.WriteAsync(
        [
            new OnlineWrite("v", Key(1), Row(2_000, 0, 12)),
            new OnlineWrite("v", Key(1), Row(1_000, 0, 11)),
            new OnlineWrite("v", Key(2), Row(1_000, 0, 21)),
            new OnlineWrite("v", Key(2), Row(2_000, 0, 22)),
        ]);

        // Key 1: the first write lands, the second is older. Key 2: both land in turn.
        Assert.Equal(3, applied);
        Assert.Equal(12, ValueOf((await ReadOne("v", 1))!));
        Assert.Equal(22, ValueOf((await ReadOne("v", 2))!));
    }

    [Fact]
    public async Task Write_and_put_keeps_newest_wins_for_the_rows_counts_them_and_puts_the_state_rows()
    {
        var newer = Row(2_000, 0, 2);
        await Store.WriteAsync([new OnlineWrite("v", Key(1), newer)]);
        await Store.PutAsync([new OnlinePut("s", [1], [1])]);

        var applied = await Store.WriteAndPutAsync(
            [new OnlineWrite("v", Key(1), Row(1_000, 9_999, 1)), new OnlineWrite("v", Key(2), Row(1_000, 0, 3)), new OnlineWrite("v", Key(3), Row(3_000, 0, 4))],
            [new OnlinePut("s", [1], null), new OnlinePut("s", [2], [22]), new OnlinePut("s", [2], [23])]);

        // The older row of key 1 is ignored and not counted; keys 2 and 3 are new. The puts apply in call order.
        Assert.Equal(2, applied);
        Assert.Equal(newer, await ReadOne("v", 1));
        Assert.Equal(3, ValueOf((await ReadOne("v", 2))!));
        Assert.Equal(4, ValueOf((await ReadOne("v", 3))!));
        Assert.Null(await ReadState("s", [1]));
        Assert.Equal([23], await ReadState("s", [2]));
    }

    [Fact]
    public async Task Write_and_put_with_only_rows_or_only_state_rows_does_what_the_one_call_does()
    {
        Assert.Equal(1, await Store.WriteAndPutAsync([new OnlineWrite("v", Key(1), Row(1_000, 0, 1))], []));
        Assert.Equal(0, await Store.WriteAndPutAsync([], [new OnlinePut("s", [1], [1])]));
        Assert.Equal(0, await Store.WriteAndPutAsync([], []));
        Assert.Equal(0, await Store.WriteAndPutAsync([new OnlineWrite("v", Key(1), Row(999, 0, 2))], []));

        Assert.Equal(1, ValueOf((await ReadOne("v", 1))!));
        Assert.Equal([1], await ReadState("s", [1]));
    }

    [Fact]
    public async Task Deleting_a_view_removes_only_its_rows_and_counts_them()
    {
        // "a" is a prefix of "ab" and "a.b": the store's keys must still keep the views apart.
        string[] views = ["a", "ab", "a.b", "b"];
        foreach (var view in views)
        {
            await Store.WriteAsync([.. Enumerable.Range(0, 25).Select(id => new OnlineWrite(view, Key(id), Row(1, 1, id)))]);
        }

        Assert.Equal(25, await Store.DeleteViewAsync("a"));

        Assert.All(await Read([.. Enumerable.Range(0, 25).Select(id => new OnlineKey("a", Key(id)))]), Assert.Null);
        foreach (var view in views[1..])
        {
            var rows = await Read([.. Enumerable.Range(0, 25).Select(id => new OnlineKey(view, Key(id)))]);
            Assert.All(rows, Assert.NotNull);
        }

        Assert.Equal(0, await Store.DeleteViewAsync("a"));
        Assert.Equal(0, await Store.DeleteViewAsync("never-written"));

        // The view can be written again after its delete.
        Assert.Equal(1, await Store.WriteAsync([new OnlineWrite("a", Key(3), Row(0, 0, 33))]));
        Assert.Equal(33, ValueOf((await ReadOne("a", 3))!));
    }

    [Fact]
    public async Task A_view_name_running_into_its_entity_key_does_not_collide_with_a_longer_view_name()
    {
        // Joined naively, "a" + [ 'b', 1 ] and "ab" + [ 1 ] would be the same bytes.
        byte[] shortViewKey = [(byte)'b', 1];
        byte[] longViewKey = [1];
        await Store.WriteAsync([new OnlineWrite("a", shortViewKey, Row(1, 0, 1)), new OnlineWrite("ab", longViewKey, Row(1, 0, 2))]);

        var rows = await Read(new OnlineKey("a", shortViewKey), new OnlineKey("ab", longViewKey));

        Assert.Equal(1, ValueOf(rows[0]!));
        Assert.Equal(2, ValueOf(rows[1]!));
        Assert.Equal(1, await Store.DeleteViewAsync("ab"));
        Assert.Equal(1, ValueOf((await Read(new OnlineKey("a", shortViewKey)))[0]!));
    }

    [Fact]
    public async Task Concurrent_writers_of_the_same_keys_leave_the_newest_row_of_each()
    {
        const int Keys = 4;
        var random = new Random(20261129);

        // Timestamps mostly rise with the batch number, so concurrent writers of a key usually carry rows of
        // neighbouring age and a lost update would show. They are unique per key, so the winner is unambiguous;
        // each row's value is its timestamp pair.
        var batches = new List<OnlineWrite[]>();
        var expected = new long[Keys];
        var used = new HashSet<(long, long)>();
        for (var b = 0; b < 2_000; b++)
        {
            var batch = new OnlineWrite[random.Next(1, 4)];
            for (var i = 0; i < batch.Length; i++)
            {
                var id = random.Next(Keys);
                long eventMicros, createdMicros;
                do
                {
                    eventMicros = (b / 4) + random.Next(8);
                    createdMicros = random.Next(100);
                }
                while (!used.Add((id, (eventMicros * 100) + createdMicros)));

                var stamp = (eventMicros * 100) + createdMicros;
                expected[id] = Math.Max(expected[id], stamp + 1);
                batch[i] = new OnlineWrite("v", Key(id), Row(eventMicros, createdMicros, stamp + 1));
            }

            batches.Add(batch);
        }

        var applied = 0;
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (batch, ct) =>
            Interlocked.Add(ref applied, await Store.WriteAsync(batch, ct)));

        var rows = await Read([.. Enumerable.Range(0, Keys).Select(id => new OnlineKey("v", Key(id)))]);
        for (var id = 0; id < Keys; id++)
        {
            if (expected[id] == 0)
            {
                Assert.Null(rows[id]);
            }
            else
            {
                Assert.Equal(expected[id], ValueOf(rows[id]!));
            }
        }

        Assert.InRange(applied, expected.Count(e => e > 0), batches.Sum(b => b.Length));
    }

    [Fact]
    public async Task A_batch_of_ten_thousand_rows_is_written_and_read_back_in_one_call_each()
    {
        var writes = Enumerable.Range(0, 10_000).Select(id => new OnlineWrite(id % 2 == 0 ? "even" : "odd", Key(id), Row(id, 0, id, "row " + id))).ToList();

        Assert.Equal(10_000, await Store.WriteAsync(writes));

        var rows = await Read([.. writes.Select(w => new OnlineKey(w.View, w.EntityKey))]);
        for (var i = 0; i < writes.Count; i++)
        {
            Assert.Equal(writes[i].Row, rows[i]);
        }

        Assert.Equal(5_000, await Store.DeleteViewAsync("odd"));
        Assert.Equal(5_000, await Store.DeleteViewAsync("even"));
    }

    protected async Task<List<KeyValuePair<byte[], byte[]>>> Scan(string @namespace, params byte[] prefix)
    {
        var rows = new List<KeyValuePair<byte[], byte[]>>();
        await foreach (var row in Store.ScanAsync(@namespace, prefix))
        {
            rows.Add(row);
        }

        return rows;
    }

    protected async Task<byte[]?> ReadState(string @namespace, byte[] key) => (await Read(new OnlineKey(@namespace, key)))[0];

    [Fact]
    public async Task A_put_state_row_reads_back_byte_for_byte_and_a_later_put_replaces_it_whatever_it_holds()
    {
        await Store.PutAsync([new OnlinePut("tiles", [1, 2], [10, 20, 30]), new OnlinePut("offsets", [1, 2], [7])]);

        Assert.Equal([10, 20, 30], await ReadState("tiles", [1, 2]));
        Assert.Equal([7], await ReadState("offsets", [1, 2]));

        // No newest-wins rule for state rows: a put replaces what is stored, and an empty value is a value.
        await Store.PutAsync([new OnlinePut("tiles", [1, 2], [])]);
        Assert.Equal(Array.Empty<byte>(), await ReadState("tiles", [1, 2]));
    }

    [Fact]
    public async Task A_put_with_a_null_value_deletes_the_row()
    {
        await Store.PutAsync([new OnlinePut("tiles", [1], [1]), new OnlinePut("tiles", [2], [2])]);

        await Store.PutAsync([new OnlinePut("tiles", [1], null), new OnlinePut("tiles", [9], null)]);

        Assert.Null(await ReadState("tiles", [1]));
        Assert.Equal([2], await ReadState("tiles", [2]));
        Assert.Null(await ReadState("tiles", [9]));
    }

    [Fact]
    public async Task A_batch_mixing_puts_and_deletes_applies_in_call_order_and_the_last_put_of_a_key_wins()
    {
        await Store.PutAsync([new OnlinePut("s", [1], [1]), new OnlinePut("s", [2], [2])]);

        await Store.PutAsync(
        [
            new OnlinePut("s", [1], null),
            new OnlinePut("s", [2], [22]),
            new OnlinePut("s", [3], [3]),
            new OnlinePut("s", [3], null),
            new OnlinePut("s", [4], null),
            new OnlinePut("s", [4], [44]),
        ]);

        Assert.Equal([[2], [4]], (await Scan("s")).Select(r => r.Key));
        Assert.Equal([22], await ReadState("s", [2]));
        Assert.Equal([44], await ReadState("s", [4]));
    }

    [Fact]
    public async Task A_batch_with_an_invalid_put_is_refused_whole_and_stores_nothing()
    {
        await Store.PutAsync([new OnlinePut("s", [1], [1])]);

        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.PutAsync(
            [new OnlinePut("s", [1], null), new OnlinePut("s", [2], [2]), new OnlinePut("s", null!, [3])]));

        Assert.Equal([1], await ReadState("s", [1]));
        Assert.Null(await ReadState("s", [2]));
    }

    [Fact]
    public async Task An_empty_put_batch_is_a_no_op()
    {
        await Store.PutAsync([]);

        Assert.Empty(await Scan("s"));
    }

    [Fact]
    public async Task A_scan_returns_exactly_the_keys_with_the_prefix_in_byte_order()
    {
        // Inserted shuffled; the keys include bytes above 0x7F so signed comparison would misorder them.
        byte[][] keys = [[0x01], [0x01, 0x00], [0x01, 0xFF], [0x01, 0x80, 0x01], [0x01, 0x02], [0x02], [0x00, 0x01], [0xFF], [0x01, 0xFF, 0xFF], []];
        var shuffled = keys.OrderBy(k => k.Length * 31 % 7).ThenBy(k => k.Length == 0 ? 0 : k[^1] % 5).ToArray();
        await Store.PutAsync([.. shuffled.Select((k, i) => new OnlinePut("s", k, [(byte)k.Length, .. k]))]);

        var withPrefix = await Scan("s", 0x01);

        Assert.Equal(
            [[0x01], [0x01, 0x00], [0x01, 0x02], [0x01, 0x80, 0x01], [0x01, 0xFF], [0x01, 0xFF, 0xFF]],
            withPrefix.Select(r => r.Key));
        Assert.All(withPrefix, r => Assert.Equal([(byte)r.Key.Length, .. r.Key], r.Value));
        Assert.Equal([[0x01, 0xFF], [0x01, 0xFF, 0xFF]], (await Scan("s", 0x01, 0xFF)).Select(r => r.Key));
        Assert.Equal([[0xFF]], (await Scan("s", 0xFF)).Select(r => r.Key));
        Assert.Empty(await Scan("s", 0x03));
        Assert.Empty(await Scan("s", 0x01, 0x00, 0x00));
    }

    [Fact]
    public async Task A_scan_with_an_empty_prefix_returns_the_whole_namespace_in_byte_order()
    {
        var keys = Enumerable.Range(0, 300).Select(i => new[] { (byte)(i % 256), (byte)(i / 256) }).ToList();
        await Store.PutAsync([.. keys.Select(k => new OnlinePut("s", k, k))]);
        await Store.PutAsync([new OnlinePut("other", [0], [0])]);

        var rows = await Scan("s");

        Assert.Equal(keys.OrderBy(k => k[0]).ThenBy(k => k[1]), rows.Select(r => r.Key));
        Assert.All(rows, r => Assert.Equal(r.Key, r.Value));
        Assert.Empty(await Scan("never-written"));
    }

    [Fact]
    public async Task A_scan_keeps_namespaces_apart_when_one_name_prefixes_the_other()
    {
        // Joined naively, "a" + [ 'b', 1 ] and "ab" + [ 1 ] would be the same bytes.
        await Store.PutAsync(
        [
            new OnlinePut("a", [(byte)'b', 1], [1]),
            new OnlinePut("a", [2], [2]),
            new OnlinePut("ab", [1], [3]),
            new OnlinePut("ab", [(byte)'b'], [4]),
            new OnlinePut("", [(byte)'a'], [5]),
        ]);

        Assert.Equal([[2], [(byte)'b', 1]], (await Scan("a")).Select(r => r.Key));
        Assert.Equal([[(byte)'b', 1]], (await Scan("a", (byte)'b')).Select(r => r.Key));
        Assert.Equal([[1], [(byte)'b']], (await Scan("ab")).Select(r => r.Key));
        Assert.Equal([[(byte)'a']], (await Scan("")).Select(r => r.Key));
    }

    [Fact]
    public async Task Deleting_a_namespace_removes_its_state_rows_and_nothing_else()
    {
        await Store.PutAsync([.. Enumerable.Range(0, 10).Select(i => new OnlinePut("a", [(byte)i], [(byte)i]))]);
        await Store.PutAsync([.. Enumerable.Range(0, 5).Select(i => new OnlinePut("ab", [(byte)i], [(byte)i]))]);
        await Store.WriteAsync([new OnlineWrite("a", Key(1), Row(1, 1, 1))]);

        // A namespace and a view of the same name are one key range: both kinds of row go.
        Assert.Equal(11, await Store.DeleteViewAsync("a"));

        Assert.Empty(await Scan("a"));
        Assert.Null(await ReadOne("a", 1));
        Assert.Equal(5, (await Scan("ab")).Count);
    }

    [Fact]
    public async Task A_scan_finds_view_rows_too()
    {
        await Store.WriteAsync([new OnlineWrite("drivers", Key(2), Row(1, 1, 2)), new OnlineWrite("drivers", Key(1), Row(1, 1, 1))]);

        var rows = await Scan("drivers");

        Assert.Equal([Key(1), Key(2)], rows.Select(r => r.Key));
        Assert.Equal(2, ValueOf(rows[1].Value));
    }

    [Fact]
    public async Task Concurrent_puts_of_tiles_and_offsets_always_leave_them_in_agreement()
    {
        // Each batch puts a tile and the offset it consumed, both holding the batch number: a torn or
        // interleaved batch would leave the two apart.
        await Parallel.ForEachAsync(Enumerable.Range(1, 400), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (b, ct) =>
        {
            var stamp = BitConverter.GetBytes(b);
            await Store.PutAsync([new OnlinePut("tiles", [1], stamp), new OnlinePut("offsets", [1], stamp)], ct);
            var read = new byte[]?[2];
            await Store.ReadAsync([new OnlineKey("tiles", [1]), new OnlineKey("offsets", [1])], read, ct);
            Assert.NotNull(read[0]);
            Assert.NotNull(read[1]);
        });

        Assert.Equal(await ReadState("tiles", [1]), await ReadState("offsets", [1]));
    }

    [Fact]
    public async Task A_swap_whose_expected_value_matches_stores_its_value()
    {
        await Store.PutAsync([new OnlinePut("tiles", [1], [10, 11])]);
        var applied = new bool[1];

        await Store.SwapAsync([new OnlineSwap("tiles", [1], [10, 11], [12, 13, 14])], applied);

        Assert.True(applied[0]);
        Assert.Equal([12, 13, 14], await ReadState("tiles", [1]));
    }

    [Fact]
    public async Task A_swap_whose_expected_value_differs_is_refused_and_changes_nothing()
    {
        await Store.PutAsync([new OnlinePut("tiles", [1], [10, 11]), new OnlinePut("tiles", [2], [20])]);
        var applied = new bool[3];

        // A prefix, a longer value and an absent expectation all differ from what is stored.
        await Store.SwapAsync([new OnlineSwap("tiles", [1], [10], [99]), new OnlineSwap("tiles", [2], [20, 0], [99]), new OnlineSwap("tiles", [3], [1], [99])], applied);

        Assert.Equal([false, false, false], applied);
        Assert.Equal([10, 11], await ReadState("tiles", [1]));
        Assert.Equal([20], await ReadState("tiles", [2]));
        Assert.Null(await ReadState("tiles", [3]));
    }

    [Fact]
    public async Task A_swap_expecting_null_stores_only_where_there_is_no_row()
    {
        await Store.PutAsync([new OnlinePut("tiles", [1], [10])]);
        var applied = new bool[2];

        await Store.SwapAsync([new OnlineSwap("tiles", [1], null, [11]), new OnlineSwap("tiles", [2], null, [21])], applied);

        Assert.Equal([false, true], applied);
        Assert.Equal([10], await ReadState("tiles", [1]));
        Assert.Equal([21], await ReadState("tiles", [2]));

        // An empty value is a row, not an absence.
        await Store.PutAsync([new OnlinePut("tiles", [3], [])]);
        await Store.SwapAsync([new OnlineSwap("tiles", [3], null, [31])], applied);
        Assert.False(applied[0]);
        Assert.Equal(Array.Empty<byte>(), await ReadState("tiles", [3]));
    }

    [Fact]
    public async Task A_swap_with_a_null_value_deletes_the_row_when_it_matches()
    {
        await Store.PutAsync([new OnlinePut("tiles", [1], [10]), new OnlinePut("tiles", [2], [20])]);
        var applied = new bool[2];

        await Store.SwapAsync([new OnlineSwap("tiles", [1], [10], null), new OnlineSwap("tiles", [2], [21], null)], applied);

        Assert.Equal([true, false], applied);
        Assert.Null(await ReadState("tiles", [1]));
        Assert.Equal([20], await ReadState("tiles", [2]));
    }

    [Fact]
    public async Task Swaps_in_one_call_stand_alone_and_keys_of_other_namespaces_are_apart()
    {
        await Store.PutAsync([new OnlinePut("a", [1], [1]), new OnlinePut("b", [1], [2])]);
        var applied = new bool[2];

        await Store.SwapAsync([new OnlineSwap("a", [1], [2], [9]), new OnlineSwap("b", [1], [2], [8])], applied);

        Assert.Equal([false, true], applied);
        Assert.Equal([1], await ReadState("a", [1]));
        Assert.Equal([8], await ReadState("b", [1]));
    }

    [Fact]
    public async Task Of_concurrent_swaps_of_one_key_from_the_same_value_exactly_one_wins()
    {
        // Many rounds: each round, several writers race to move the same row from the value they all read.
        for (var round = 0; round < 20; round++)
        {
            var from = new byte[] { (byte)round };
            await Store.PutAsync([new OnlinePut("race", [7], from)]);
            var flags = new bool[8][];
            await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
            {
                flags[w] = new bool[1];
                await Store.SwapAsync([new OnlineSwap("race", [7], from, [(byte)round, (byte)w])], flags[w]);
            })));

            var winners = Enumerable.Range(0, 8).Where(w => flags[w][0]).ToList();
            Assert.Single(winners);
            Assert.Equal([(byte)round, (byte)winners[0]], (await ReadState("race", [7]))!);
        }
    }

    [Fact]
    public async Task Concurrent_read_modify_swap_loops_lose_no_increment()
    {
        // The pattern stream processors use on shared stores: read, compute, swap, and on refusal read again.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var applied = new bool[1];
            for (var i = 0; i < 50; i++)
            {
                do
                {
                    var current = await ReadState("counter", [1]);
                    var next = (current is null ? 0 : BitConverter.ToInt32(current)) + 1;
                    await Store.SwapAsync([new OnlineSwap("counter", [1], current, BitConverter.GetBytes(next))], applied);
                }
                while (!applied[0]);
            }
        })));

        Assert.Equal(200, BitConverter.ToInt32((await ReadState("counter", [1]))!));
    }
}

/// <summary>The in-memory store against the contract.</summary>
public sealed class InMemoryOnlineStoreConformance : OnlineStoreConformance
{
    protected override IOnlineStore CreateStore() => new InMemoryOnlineStore();
}

/// <summary>The in-memory store in its shared mode (as tests of scale-out use it) against the contract.</summary>
public sealed class SharedInMemoryOnlineStoreConformance : OnlineStoreConformance
{
    protected override IOnlineStore CreateStore() => new InMemoryOnlineStore(shared: true);
}

/// <summary>The RocksDB store against the contract, each test in its own temporary directory.</summary>
public sealed class RocksDbOnlineStoreConformance : OnlineStoreConformance
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-online-" + Guid.NewGuid().ToString("N"));

    protected override IOnlineStore CreateStore() => RocksDbOnlineStore.Open(_dir);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
