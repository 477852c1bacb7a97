using Freshet.Aggregates;
using Freshet.Definitions;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>
/// What a push asks of the online store (docs/ingestion.md#one-write-per-push): on an embedded store, the rows of its
/// plain views, the tiles of its aggregation views, their freshness, its dead letters and its idempotency keys
/// go in one <see cref="IOnlineStore.WriteAndPutAsync"/> call; on a shared store the rows are written first and
/// the tiles are compare-and-set, as before. A store that records every call it gets stands in front of the
/// in-memory store.
/// </summary>
public sealed class PushWriteBatchTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_push_to_plain_and_aggregation_views_on_an_embedded_store_is_one_store_write()
    {
        var online = new RecordingStore(new InMemoryOnlineStore());
        await using var store = await OpenAsync(online);

        var result = await store.PushAsync("tx", Rows(("a", 10, Now.AddMinutes(-3)), ("b", 20, Now.AddMinutes(-2)), ("c", 30, Now.AddMinutes(-1))), PushTarget.Online);

        Assert.Equal(3, result.OnlineRowsApplied);
        Assert.Equal(3, result.EventsAggregated);
        var call = Assert.Single(online.Changes());
        Assert.Equal("write_put", call.Operation);
        Assert.Equal(3, call.Writes);
        Assert.Contains("tx_stats", call.PutNamespaces);
        Assert.Contains(AggregationEngine.FreshnessNamespace, call.PutNamespaces);

        var served = await ReadAsync(store, "a", "b", "c");
        Assert.Equal([10.0, 20.0, 30.0], served.Columns[1].Values.Select(v => v.AsFloat64()));
        Assert.Equal([1L, 1L, 1L], served.Columns[2].Values.Select(v => v.AsInt64()));
    }

    [Fact]
    public async Task An_older_pushed_row_does_not_replace_the_newer_one_nor_count_but_its_event_is_aggregated()
    {
        var online = new RecordingStore(new InMemoryOnlineStore());
        await using var store = await OpenAsync(online);
        await store.PushAsync("tx", Rows(("a", 10, Now.AddMinutes(-1))), PushTarget.Online);
        online.Clear();

        var result = await store.PushAsync("tx", Rows(("a", 99, Now.AddMinutes(-5))), PushTarget.Online);

        Assert.Equal(0, result.OnlineRowsApplied);
        Assert.Equal(1, result.EventsAggregated);
        Assert.Equal("write_put", Assert.Single(online.Changes()).Operation);
        var served = await ReadAsync(store, "a");
        Assert.Equal(10.0, served.Columns[1].Values[0].AsFloat64());
        Assert.Equal(2L, served.Columns[2].Values[0].AsInt64());
    }

    [Fact]
    public async Task An_idempotent_push_with_a_late_event_puts_its_keys_and_dead_letter_in_the_same_write()
    {
        var inner = new InMemoryOnlineStore();
        var online = new RecordingStore(inner);
        var clock = new FixedClock(Now);
        var letters = new DeadLetterSink(await OnlineDeadLetterStore.OpenAsync(inner, clock), clock);
        await using var store = await OpenAsync(online, letters);
        var plain = Rows(("a", 10, Now.AddMinutes(-1)), ("b", 20, Now.AddDays(-30)));
        var rows = new ColumnTable(new Dictionary<string, FeatureValue[]>(plain.Names.ToDictionary(n => n, n => plain.Column(n)!))
        {
            [FeatureStore.IdempotencyKeyColumn] = [FeatureValue.FromString("k1"), FeatureValue.FromString("k2")],
        });

        var result = await store.PushAsync("tx", rows, PushTarget.Online);

        Assert.Equal(2, result.OnlineRowsApplied);
        Assert.Equal(1, result.EventsAggregated);
        Assert.Equal("too_late", Assert.Single(result.Rejections).Code);
        var call = Assert.Single(online.Changes());
        Assert.Equal("write_put", call.Operation);
        Assert.Equal(2, call.Writes);
        Assert.Contains(FeatureStore.IdempotencyNamespace, call.PutNamespaces);
        Assert.Contains(OnlineDeadLetterStore.Namespace, call.PutNamespaces);
        Assert.Contains("tx_stats", call.PutNamespaces);

        // The keys it stored make the same push a no-op.
        online.Clear();
        var again = await store.PushAsync("tx", rows, PushTarget.Online);
        Assert.Equal(2, again.DuplicatesSkipped);
        Assert.Equal(0, again.OnlineRowsApplied);
    }

    [Fact]
    public async Task On_a_shared_store_a_push_writes_its_rows_first_then_compare_and_sets_its_tiles()
    {
        var online = new RecordingStore(new InMemoryOnlineStore(shared: true));
        await using var store = await OpenAsync(online);

        var result = await store.PushAsync("tx", Rows(("a", 10, Now.AddMinutes(-1))), PushTarget.Online);

        Assert.Equal(1, result.OnlineRowsApplied);
        Assert.Equal(1, result.EventsAggregated);
        var changes = online.Changes();
        Assert.Equal("write", changes[0].Operation);
        Assert.Equal(1, changes[0].Writes);
        Assert.Contains(changes.Skip(1), c => c.Operation == "swap");
        Assert.DoesNotContain(changes, c => c.Operation == "write_put");
        Assert.Equal(10.0, (await ReadAsync(store, "a")).Columns[1].Values[0].AsFloat64());
    }

    private static ColumnTable Rows(params (string Account, double Amount, DateTimeOffset At)[] rows) => new(new Dictionary<string, FeatureValue[]>
    {
        ["account_id"] = [.. rows.Select(r => FeatureValue.FromString(r.Account))],
        ["amount"] = [.. rows.Select(r => FeatureValue.FromFloat64(r.Amount))],
        ["ts"] = [.. rows.Select(r => FeatureValue.FromTimestamp(r.At))],
    });

    private static async Task<OnlineResponse> ReadAsync(FeatureStore store, params string[] accounts) =>
        await store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            Features = ["tx_last:amount", "tx_stats:count_1h"],
            Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [.. accounts.Select(FeatureValue.FromString)] },
        });

    private static async Task<FeatureStore> OpenAsync(IOnlineStore online, IDeadLetterSink? letters = null)
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
            .Add(new AggregationView("tx_stats", ["account"], "tx", [new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1))]))
            .Build()
            .GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", Now), 0);
        var options = new FeatureStoreOptions { Clock = new FixedClock(Now), DeadLetters = letters };
        return await FeatureStore.OpenAsync(registry, online, repo.Config, ".", options);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private sealed record Change(string Operation, int Writes, IReadOnlySet<string> PutNamespaces);

    /// <summary>Forwards every call to the inner store and records the calls that change it.</summary>
    private sealed class RecordingStore(IOnlineStore inner) : IOnlineStore
    {
        private readonly List<Change> _changes = [];

        public bool IsShared => inner.IsShared;

        public List<Change> Changes()
        {
            lock (_changes)
            {
                return [.. _changes];
            }
        }

        public void Clear()
        {
            lock (_changes)
            {
                _changes.Clear();
            }
        }

        public ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
        {
            Record("write", writes.Count, []);
            return inner.WriteAsync(writes, cancellationToken);
        }

        public ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
        {
            Record("put", 0, puts.Select(p => p.Namespace));
            return inner.PutAsync(puts, cancellationToken);
        }

        public ValueTask<int> WriteAndPutAsync(IReadOnlyList<OnlineWrite> writes, IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
        {
            Record("write_put", writes.Count, puts.Select(p => p.Namespace));
            return inner.WriteAndPutAsync(writes, puts, cancellationToken);
        }

        public ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default)
        {
            Record("swap", 0, swaps.Select(s => s.Namespace));
            return inner.SwapAsync(swaps, applied, cancellationToken);
        }

        public ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(keys, rows, cancellationToken);

        public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default)
        {
            Record("delete_view", 0, [view]);
            return inner.DeleteViewAsync(view, cancellationToken);
        }

        public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default) =>
            inner.ScanAsync(@namespace, prefix, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();

        private void Record(string operation, int writes, IEnumerable<string> namespaces)
        {
            lock (_changes)
            {
                _changes.Add(new Change(operation, writes, namespaces.ToHashSet(StringComparer.Ordinal)));
            }
        }
    }
}
