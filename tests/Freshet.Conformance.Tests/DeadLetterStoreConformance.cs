using System.Buffers.Binary;
using Freshet.Ingestion;
using Freshet.Online;
using Freshet.RocksDb;

namespace Freshet.Conformance.Tests;

/// <summary>
/// The contract of <see cref="IDeadLetterStore"/> for <see cref="OnlineDeadLetterStore"/>, run over every online
/// store: letters come back in id order with their bytes intact, filtered and paged; counts per source follow
/// adds and removes; ids only grow.
/// </summary>
public abstract class DeadLetterStoreConformance : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 6, 0, 0, TimeSpan.Zero);

    private IOnlineStore? _online;
    private OnlineDeadLetterStore? _letters;

    protected IOnlineStore Online => _online ?? throw new InvalidOperationException("not initialized");

    protected OnlineDeadLetterStore Letters => _letters ?? throw new InvalidOperationException("not initialized");

    /// <summary>A new, empty online store for one test.</summary>
    protected abstract IOnlineStore CreateStore();

    public async Task InitializeAsync()
    {
        _online = CreateStore();
        _letters = await OnlineDeadLetterStore.OpenAsync(_online);
    }

    public virtual async Task DisposeAsync()
    {
        if (_online is not null)
        {
            await _online.DisposeAsync();
        }
    }

    internal static DeadLetter Letter(string source, int n, string code = DeadLetterCodes.BadJson, string? view = null, string? partition = null, long? offset = null) =>
        new(0, source, $"event {n} is bad", code, Now.AddSeconds(n), [(byte)'{', (byte)n, (byte)'}'], view, partition, offset);

    protected static async Task<List<DeadLetter>> All(IDeadLetterStore letters, string? source = null, long afterId = 0, int limit = 1000)
    {
        var list = new List<DeadLetter>();
        await foreach (var letter in letters.ListAsync(source, afterId, limit))
        {
            list.Add(letter);
        }

        return list;
    }

    [Fact]
    public async Task Added_letters_list_back_in_id_order_with_every_field()
    {
        await Letters.AddAsync([Letter("kafka:payments", 1, DeadLetterCodes.TooLate, "spend_1h", "3", 1_234), Letter("push", 2)]);
        await Letters.AddAsync([Letter("kafka:payments", 3, DeadLetterCodes.MissingField)]);

        var listed = await All(Letters);

        // Letters without a stream position have time ids, in the order added; a letter with one has the id of
        // its position, above every time id.
        Assert.Equal(3, listed.Count);
        Assert.True(listed[0].Id > 0 && listed[0].Id < listed[1].Id && listed[1].Id < OnlineDeadLetterStore.PositionIdBase);
        Assert.Equal(OnlineDeadLetterStore.PositionId(listed[2]), listed[2].Id);
        Assert.Equal(["push", "kafka:payments", "kafka:payments"], listed.Select(l => l.Source));
        var first = listed[2];
        Assert.Equal("event 1 is bad", first.Reason);
        Assert.Equal(DeadLetterCodes.TooLate, first.Code);
        Assert.Equal(Now.AddSeconds(1), first.At);
        Assert.Equal("spend_1h", first.View);
        Assert.Equal("3", first.Partition);
        Assert.Equal(1_234, first.Offset);
        Assert.Equal([(byte)'{', 1, (byte)'}'], first.Payload);
        Assert.Null(listed[0].View);
        Assert.Null(listed[0].Partition);
        Assert.Null(listed[0].Offset);
    }

    [Fact]
    public async Task A_letter_with_a_stream_position_added_again_rewrites_the_same_record_and_pages_after_the_time_ids()
    {
        await Letters.AddAsync([Letter("push", 1), Letter("kafka:tx", 2, DeadLetterCodes.TooLate, "spend", "tx/0", 7), Letter("kafka:tx", 3, DeadLetterCodes.BadJson, null, "tx/0", 7)]);
        await Letters.AddAsync([Letter("kafka:tx", 2, DeadLetterCodes.TooLate, "spend", "tx/0", 7), Letter("push", 4)]);

        var listed = await All(Letters);

        // One record per (source, partition, offset, view); the push letters each have their own.
        Assert.Equal(4, listed.Count);
        Assert.Equal(4, listed.Select(l => l.Id).Distinct().Count());
        Assert.Equal(2, listed.Count(l => l.Id >= OnlineDeadLetterStore.PositionIdBase));
        Assert.Equal([1, 4], listed.Where(l => l.Source == "push").Select(l => (int)l.Payload[1]));
        Assert.Equal(2, await Letters.CountAsync("kafka:tx"));
        Assert.Equal(4, await Letters.CountAsync());

        var paged = new List<DeadLetter>();
        var after = 0L;
        while (true)
        {
            var page = await All(Letters, afterId: after, limit: 1);
            if (page.Count == 0)
            {
                break;
            }

            paged.AddRange(page);
            after = page[^1].Id;
        }

        Assert.Equal(listed.Select(l => l.Id), paged.Select(l => l.Id));
    }

    [Fact]
    public async Task The_payload_round_trips_byte_for_byte_even_when_it_is_not_utf8()
    {
        var random = new Random(7);
        var big = new byte[100_000];
        random.NextBytes(big);
        byte[][] payloads = [[0xFF, 0xFE, 0xC3, 0x28, 0x00, 0x80], [], [0xED, 0xA0, 0x80], big];
        await Letters.AddAsync([.. payloads.Select((p, i) => Letter("s", i) with { Payload = p })]);

        var listed = await All(Letters);

        Assert.Equal(payloads, listed.Select(l => l.Payload));
    }

    [Fact]
    public async Task Listing_by_source_returns_only_that_sources_letters()
    {
        await Letters.AddAsync([Letter("a", 1), Letter("ab", 2), Letter("a", 3), Letter("b", 4)]);

        Assert.Equal([1, 3], (await All(Letters, "a")).Select(l => l.Payload[1]));
        Assert.Equal([2], (await All(Letters, "ab")).Select(l => l.Payload[1]));
        Assert.Empty(await All(Letters, "nowhere"));
    }

    [Fact]
    public async Task Paging_with_after_id_and_limit_walks_every_letter_once_in_order()
    {
        for (var batch = 0; batch < 10; batch++)
        {
            await Letters.AddAsync([.. Enumerable.Range(batch * 30, 30).Select(n => Letter(n % 3 == 0 ? "x" : "y", n))]);
        }

        var all = await All(Letters);
        Assert.Equal(300, all.Count);

        var paged = new List<DeadLetter>();
        var after = 0L;
        while (true)
        {
            var page = await All(Letters, afterId: after, limit: 7);
            Assert.True(page.Count <= 7);
            if (page.Count == 0)
            {
                break;
            }

            paged.AddRange(page);
            after = page[^1].Id;
        }

        Assert.Equal(all.Select(l => l.Id), paged.Select(l => l.Id));

        // With a source filter the limit counts only that source's letters.
        var xs = await All(Letters, "x", all[10].Id, 5);
        Assert.Equal(all.Where(l => l.Source == "x" && l.Id > all[10].Id).Take(5).Select(l => l.Id), xs.Select(l => l.Id));
        Assert.Empty(await All(Letters, afterId: all[^1].Id));
        Assert.Empty(await All(Letters, limit: 0));
    }

    [Fact]
    public async Task Counts_follow_adds_and_removes_per_source_and_in_total()
    {
        Assert.Equal(0, await Letters.CountAsync());
        await Letters.AddAsync([Letter("a", 1), Letter("b", 2), Letter("a", 3)]);
        await Letters.AddAsync([Letter("a", 4)]);

        Assert.Equal(3, await Letters.CountAsync("a"));
        Assert.Equal(1, await Letters.CountAsync("b"));
        Assert.Equal(0, await Letters.CountAsync("c"));
        Assert.Equal(4, await Letters.CountAsync());

        var a = (await All(Letters, "a")).Select(l => l.Id).ToList();
        Assert.Equal(2, await Letters.RemoveAsync([a[0], a[2], a[2], 999]));

        Assert.Equal(1, await Letters.CountAsync("a"));
        Assert.Equal(2, await Letters.CountAsync());
        Assert.Equal([a[1]], (await All(Letters, "a")).Select(l => l.Id));
        Assert.Equal(0, await Letters.RemoveAsync([a[0]]));
        Assert.Equal(0, await Letters.RemoveAsync([]));
    }

    [Fact]
    public async Task Counts_are_stored_with_the_letters_and_load_again_on_open()
    {
        await Letters.AddAsync([Letter("a", 1), Letter("b", 2), Letter("a", 3)]);
        var b = (await All(Letters, "b")).Single();
        await Letters.RemoveAsync([b.Id]);

        var reopened = await OnlineDeadLetterStore.OpenAsync(Online);

        Assert.Equal(2, await reopened.CountAsync("a"));
        Assert.Equal(0, await reopened.CountAsync("b"));
        Assert.Equal(2, await reopened.CountAsync());
        Assert.Equal(2, (await All(reopened)).Count);
    }

    [Fact]
    public async Task Prepared_letters_are_committed_in_the_callers_own_batch_with_its_tiles_and_offsets()
    {
        var puts = new List<OnlinePut>(Letters.Prepare([Letter("stream", 1, DeadLetterCodes.TooLate), Letter("stream", 2, DeadLetterCodes.TooLate)]))
        {
            new("tiles", [1], [42]),
            new("offsets", [0], [9]),
        };

        // Nothing is stored until the caller commits.
        Assert.Empty(await All(Letters));

        await Online.PutAsync(puts);

        Assert.Equal(2, (await All(Letters, "stream")).Count);
        Assert.Equal(2, await Letters.CountAsync("stream"));
        var reopened = await OnlineDeadLetterStore.OpenAsync(Online);
        Assert.Equal(2, await reopened.CountAsync("stream"));
    }

    [Fact]
    public async Task An_abandoned_prepared_batch_is_not_counted_and_its_ids_are_not_reused()
    {
        var abandoned = Letters.Prepare([Letter("stream", 1), Letter("other", 2)]);
        Letters.Abandon(abandoned);
        await Letters.AddAsync([Letter("stream", 3)]);

        Assert.Equal(1, await Letters.CountAsync("stream"));
        Assert.Equal(0, await Letters.CountAsync("other"));
        var abandonedIds = abandoned.Where(p => p.Namespace == OnlineDeadLetterStore.Namespace).Select(p => BinaryPrimitives.ReadInt64BigEndian(p.Key));
        Assert.True((await All(Letters)).Single().Id > abandonedIds.Max());
    }

    [Fact]
    public async Task A_letter_without_a_source_or_payload_is_refused_and_nothing_of_its_batch_is_added()
    {
        await Assert.ThrowsAsync<ArgumentException>(async () => await Letters.AddAsync([Letter("a", 1), Letter("a", 2) with { Payload = null! }]));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Letters.AddAsync([Letter("a", 1) with { Source = null! }]));

        Assert.Empty(await All(Letters));
        Assert.Equal(0, await Letters.CountAsync());
    }

    [Fact]
    public async Task Concurrent_adds_get_distinct_ids_and_are_all_counted()
    {
        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (n, ct) =>
            await Letters.AddAsync([Letter(n % 2 == 0 ? "even" : "odd", n), Letter("both", n)], ct));

        var listed = await All(Letters, limit: 10_000);

        Assert.Equal(400, listed.Count);
        Assert.Equal(400, listed.Select(l => l.Id).Distinct().Count());
        Assert.Equal(listed.Select(l => l.Id).Order(), listed.Select(l => l.Id));
        Assert.Equal(100, await Letters.CountAsync("even"));
        Assert.Equal(200, await Letters.CountAsync("both"));
        Assert.Equal(400, await Letters.CountAsync());
    }

    [Fact]
    public async Task A_damaged_stored_letter_lists_as_undecodable_with_its_bytes_instead_of_failing_the_listing()
    {
        await Letters.AddAsync([Letter("a", 1), Letter("a", 2)]);
        var listed = await All(Letters);
        byte[] damaged = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF];
        await Online.PutAsync([new OnlinePut(OnlineDeadLetterStore.Namespace, BigEndian(listed[0].Id), damaged)]);

        var relisted = await All(Letters);

        Assert.Equal(DeadLetterCodes.Undecodable, relisted[0].Code);
        Assert.Equal(listed[0].Id, relisted[0].Id);
        Assert.Equal(damaged, relisted[0].Payload);
        Assert.Equal(listed[1].Payload, relisted[1].Payload);
    }

    [Fact]
    public async Task Deleting_the_namespaces_clears_the_letters()
    {
        await Letters.AddAsync([Letter("a", 1), Letter("b", 2)]);

        Assert.Equal(2, await Online.DeleteViewAsync(OnlineDeadLetterStore.Namespace));
        // An embedded store keeps count rows (two sources and the id counter); a shared store counts the letters
        // themselves and keeps none.
        Assert.Equal(Online.IsShared ? 0 : 3, await Online.DeleteViewAsync(OnlineDeadLetterStore.CountsNamespace));

        var reopened = await OnlineDeadLetterStore.OpenAsync(Online);
        Assert.Empty(await All(reopened));
        Assert.Equal(0, await reopened.CountAsync());
    }

    private static byte[] BigEndian(long id)
    {
        var key = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(key, id);
        return key;
    }
}

/// <summary>Dead letters over the in-memory store.</summary>
public sealed class InMemoryDeadLetterStoreConformance : DeadLetterStoreConformance
{
    protected override IOnlineStore CreateStore() => new InMemoryOnlineStore();
}

/// <summary>Dead letters over the RocksDB store, each test in its own temporary directory.</summary>
public sealed class RocksDbDeadLetterStoreConformance : DeadLetterStoreConformance
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-dead-" + Guid.NewGuid().ToString("N"));

    protected override IOnlineStore CreateStore() => RocksDbOnlineStore.Open(_dir);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task Ids_keep_growing_and_counts_survive_after_the_directory_is_reopened()
    {
        await Letters.AddAsync([Letter("a", 1), Letter("b", 2)]);
        var before = await All(Letters);
        await Online.DisposeAsync();

        // A clock set far back: only the highest id stored with the letters keeps the new ids above the old.
        await using var store = RocksDbOnlineStore.Open(_dir);
        var reopened = await OnlineDeadLetterStore.OpenAsync(store, new FixedTime(DateTimeOffset.UnixEpoch.AddDays(1)));
        Assert.Equal(1, await reopened.CountAsync("a"));
        Assert.Equal(2, await reopened.CountAsync());
        await reopened.AddAsync([Letter("a", 3)]);

        var after = await All(reopened);
        Assert.Equal(before.Select(l => l.Id), after.Take(2).Select(l => l.Id));
        Assert.True(after[2].Id > before[1].Id);
        Assert.Equal(2, await reopened.CountAsync("a"));
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
