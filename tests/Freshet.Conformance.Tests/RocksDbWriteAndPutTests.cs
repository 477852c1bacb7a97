using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.RocksDb;
using Freshet.Serving;
using Freshet.Values;
using static Freshet.Conformance.Tests.OnlineStoreConformance;

namespace Freshet.Conformance.Tests;

/// <summary>
/// <see cref="RocksDbOnlineStore.WriteAndPutAsync"/>: the rows and the state rows of one call are one write batch
/// with one sync of the write-ahead log (counted by RocksDB's own statistics, ticker <c>rocksdb.wal.synced</c>), all
/// or none; and a push to plain and aggregation views costs one sync.
/// </summary>
public sealed class RocksDbWriteAndPutTests : IDisposable
{
    private const string WalSynced = "rocksdb.wal.synced";
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-writeput-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private RocksDbOnlineStore Open() => RocksDbOnlineStore.Open(_dir, new RocksDbOnlineStoreOptions { Statistics = true });

    [Fact]
    public async Task Write_and_put_syncs_the_log_once_where_a_write_then_a_put_sync_it_twice()
    {
        await using var store = Open();
        var before = store.Ticker(WalSynced);

        await store.WriteAsync([new OnlineWrite("v", Key(1), Row(1_000, 0, 1))]);
        await store.PutAsync([new OnlinePut("tiles", [1], [1])]);
        var separate = store.Ticker(WalSynced) - before;

        before = store.Ticker(WalSynced);
        Assert.Equal(1, await store.WriteAndPutAsync([new OnlineWrite("v", Key(2), Row(1_000, 0, 2))], [new OnlinePut("tiles", [2], [2])]));
        var combined = store.Ticker(WalSynced) - before;

        Assert.Equal(2, separate);
        Assert.Equal(1, combined);
        var rows = new byte[]?[2];
        await store.ReadAsync([new OnlineKey("v", Key(2)), new OnlineKey("tiles", [2])], rows);
        Assert.Equal(2, ValueOf(rows[0]!));
        Assert.Equal([2], rows[1]);
    }

    [Fact]
    public async Task A_write_and_put_whose_commit_throws_stores_neither_its_rows_nor_its_state_rows()
    {
        await using var store = Open();
        await store.WriteAndPutAsync([new OnlineWrite("v", Key(1), Row(1_000, 0, 1))], [new OnlinePut("tiles", [1], [1])]);
        store.BeforePutCommit = _ => throw new IOException("disk gone");

        await Assert.ThrowsAsync<IOException>(async () => await store.WriteAndPutAsync(
            [new OnlineWrite("v", Key(1), Row(2_000, 0, 2)), new OnlineWrite("v", Key(2), Row(2_000, 0, 22))],
            [new OnlinePut("tiles", [1], [2]), new OnlinePut("offsets", [0], [2])]));

        var rows = new byte[]?[4];
        await store.ReadAsync([new OnlineKey("v", Key(1)), new OnlineKey("v", Key(2)), new OnlineKey("tiles", [1]), new OnlineKey("offsets", [0])], rows);
        Assert.Equal(1, ValueOf(rows[0]!));
        Assert.Null(rows[1]);
        Assert.Equal([1], rows[2]);
        Assert.Null(rows[3]);

        // The failed call released its locks: the same keys are written by the next call.
        store.BeforePutCommit = null;
        Assert.Equal(1, await store.WriteAndPutAsync([new OnlineWrite("v", Key(1), Row(3_000, 0, 3))], [new OnlinePut("tiles", [1], [3])]).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        await store.ReadAsync([new OnlineKey("v", Key(1)), new OnlineKey("tiles", [1])], rows);
        Assert.Equal(3, ValueOf(rows[0]!));
        Assert.Equal([3], rows[1]);
    }

    [Fact]
    public async Task A_write_and_put_with_an_invalid_put_is_refused_whole_and_stores_no_row()
    {
        await using var store = Open();
        var before = store.Ticker(WalSynced);

        await Assert.ThrowsAsync<ArgumentException>(async () => await store.WriteAndPutAsync(
            [new OnlineWrite("v", Key(1), Row(1_000, 0, 1))],
            [new OnlinePut("tiles", [1], [1]), new OnlinePut("tiles", null!, [2])]));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.WriteAndPutAsync(
            [new OnlineWrite("v", Key(1), [1, 2, 3])],
            [new OnlinePut("tiles", [1], [1])]));

        var rows = new byte[]?[2];
        await store.ReadAsync([new OnlineKey("v", Key(1)), new OnlineKey("tiles", [1])], rows);
        Assert.Equal([null, null], rows);
        Assert.Equal(before, store.Ticker(WalSynced));
    }

    [Fact]
    public async Task Of_a_write_and_a_put_of_one_key_in_one_call_the_put_is_what_stays()
    {
        await using var store = Open();

        await store.WriteAndPutAsync([new OnlineWrite("v", Key(1), Row(1_000, 0, 1))], [new OnlinePut("v", Key(1), Row(500, 0, 7))]);

        var rows = new byte[]?[1];
        await store.ReadAsync([new OnlineKey("v", Key(1))], rows);
        Assert.Equal(7, ValueOf(rows[0]!));
    }

    [Fact]
    public async Task Each_push_to_plain_and_aggregation_views_with_idempotency_keys_is_one_sync_of_the_log()
    {
        var online = Open();
        await using var store = await OpenFeatureStoreAsync(online);
        const int Pushes = 20;

        // The first push opens the lazily created state (cut-over reads, idempotency sweep); count from the second.
        await store.PushAsync("tx", Rows(0, "a", 1, Now.AddMinutes(-30)), PushTarget.Online);
        var before = online.Ticker(WalSynced);
        var applied = 0;
        for (var i = 1; i <= Pushes; i++)
        {
            var result = await store.PushAsync("tx", Rows(i, i % 2 == 0 ? "a" : "b", i, Now.AddMinutes(-30 + i)), PushTarget.Online);
            applied += result.OnlineRowsApplied;
            Assert.Equal(1, result.EventsAggregated);
        }

        var syncs = online.Ticker(WalSynced) - before;
        Assert.Equal(Pushes, applied);
        Assert.True(syncs == Pushes, $"{Pushes} pushes synced the write-ahead log {syncs} times");

        // An older row for "a" is aggregated but does not replace the newer plain row, in the same one sync.
        before = online.Ticker(WalSynced);
        var old = await store.PushAsync("tx", Rows(99, "a", 1_000, Now.AddHours(-2)), PushTarget.Online);
        Assert.Equal(0, old.OnlineRowsApplied);
        Assert.Equal(1, online.Ticker(WalSynced) - before);

        var served = await store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            Features = ["tx_last:amount", "tx_stats:count_1d"],
            Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [FeatureValue.FromString("a"), FeatureValue.FromString("b")] },
        });
        Assert.Equal([20.0, 19.0], served.Columns[1].Values.Select(v => v.AsFloat64()));
        Assert.Equal([12L, 10L], served.Columns[2].Values.Select(v => v.AsInt64()));
    }

    private static ColumnTable Rows(int key, string account, double amount, DateTimeOffset at) => new(new Dictionary<string, FeatureValue[]>
    {
        ["account_id"] = [FeatureValue.FromString(account)],
        ["amount"] = [FeatureValue.FromFloat64(amount)],
        ["ts"] = [FeatureValue.FromTimestamp(at)],
        [FeatureStore.IdempotencyKeyColumn] = [FeatureValue.FromString("k" + key)],
    });

    private static async Task<FeatureStore> OpenFeatureStoreAsync(IOnlineStore online)
    {
        var schema = new Field[]
        {
            new("account_id", FeatureType.Of(ScalarKind.String)),
            new("amount", FeatureType.Of(ScalarKind.Float64)),
            new("ts", FeatureType.Of(ScalarKind.Timestamp)),
        };
        var repo = new RepoBuilder("push_batch")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new PushSource("tx") { TimestampField = "ts", Schema = schema })
            .Add(new FeatureView("tx_last", ["account"], "tx", [new Field("amount", FeatureType.Of(ScalarKind.Float64))]))
            .Add(new AggregationView("tx_stats", ["account"], "tx", [new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromDays(1))]))
            .Build()
            .GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", Now), 0);
        return await FeatureStore.OpenAsync(registry, online, repo.Config, ".", new FeatureStoreOptions { Clock = new FixedClock(Now) });
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
