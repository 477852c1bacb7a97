using System.Diagnostics;
using Freshet.Ingestion;
using Freshet.Model;

namespace Freshet.Kafka.Tests;

/// <summary>Stands in for Freshet's store: the positions a processor stored atomically with its state.</summary>
internal sealed class StoredPositions
{
    private readonly Dictionary<string, long> _next = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public List<SourceEvent> Applied { get; } = [];

    public IReadOnlyDictionary<string, long?> ResumeFrom(IReadOnlyList<string> partitions)
    {
        lock (_lock)
        {
            var result = new Dictionary<string, long?>(StringComparer.Ordinal);
            foreach (var p in partitions)
            {
                result[p] = _next.TryGetValue(p, out var n) ? n : null;
            }

            return result;
        }
    }

    /// <summary>Applies a batch: every event must be the next one of its partition (no gap, no duplicate).</summary>
    public Dictionary<string, long> Store(IReadOnlyList<SourceEvent> batch)
    {
        lock (_lock)
        {
            foreach (var e in batch)
            {
                var expected = _next.TryGetValue(e.Partition, out var n) ? n : 0;
                Assert.True(e.Offset == expected, $"{e.Partition}: expected offset {expected}, got {e.Offset}");
                _next[e.Partition] = e.Offset + 1;
                Applied.Add(e);
            }

            return new Dictionary<string, long>(_next, StringComparer.Ordinal);
        }
    }
}

public sealed class KafkaEventSourceTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly MockCluster _cluster = new();

    public void Dispose() => _cluster.Dispose();

    private KafkaSource Source(string topic, string group) =>
        new("txns", _cluster.BootstrapServers, topic) { ConsumerGroup = group };

    // The classic protocol needs a short session timeout on the mock cluster, or a rebalance waits ~44 s.
    private static KafkaEventSourceOptions Protocol(string protocol) => new()
    {
        Settings = protocol == "classic"
            ? new Dictionary<string, string> { ["group.protocol"] = "classic", ["session.timeout.ms"] = "6000", ["heartbeat.interval.ms"] = "500" }
            : new Dictionary<string, string> { ["group.protocol"] = "consumer" },
    };

    private static async Task PollUntil(IEventSource source, StoredPositions store, Func<bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            Assert.True(clock.Elapsed < Bound, $"timed out with {store.Applied.Count} events applied");
            var batch = await source.PollAsync(50, TimeSpan.FromMilliseconds(200), CancellationToken.None);
            var positions = store.Store(batch);
            await source.AcknowledgeAsync(positions, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Consumes_every_event_once_in_partition_order()
    {
        var total = _cluster.ProduceJson("orders", perPartition: 50);
        var store = new StoredPositions();
        await using (var source = new KafkaEventSource(Source("orders", "g1"), store.ResumeFrom))
        {
            await PollUntil(source, store, () => store.Applied.Count >= total);
            var extra = await source.PollAsync(100, TimeSpan.FromMilliseconds(500), CancellationToken.None);
            Assert.Empty(extra);
        }

        Assert.Equal(total, store.Applied.Count);
        foreach (var partition in store.Applied.GroupBy(e => e.Partition))
        {
            Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), partition.Select(e => e.Offset));
        }

        Assert.Equal(MockCluster.Partitions, store.Applied.Select(e => e.Partition).Distinct().Count());
        Assert.All(store.Applied, e => Assert.StartsWith("orders/", e.Partition, StringComparison.Ordinal));
        Assert.All(store.Applied, e => Assert.NotNull(e.BrokerTimestamp));

        // The events are what the producer wrote: each decodes against the source's schema.
        var decoder = new EventDecoder(Source("orders", "g1") with
        {
            Schema = [new Field("account_id", FeatureType.Of(ScalarKind.String)), new Field("seq", FeatureType.Of(ScalarKind.Int64)), new Field("partition", FeatureType.Of(ScalarKind.Int32))],
            TimestampField = "ts",
        }, ["account_id"]);
        foreach (var e in store.Applied)
        {
            var result = decoder.Decode(e.Value, null, out var row);
            Assert.True(result.IsSuccess, result.Error?.Reason);
            Assert.Equal(e.Offset, row![1].AsInt64());
            Assert.Equal(e.Partition, $"orders/{row[2].AsInt32()}");
            Assert.Equal(e.Key, System.Text.Encoding.UTF8.GetBytes(row[0].AsString()));
        }
    }

    [Fact]
    public async Task Resumes_from_the_stored_positions_not_the_broker_commits()
    {
        var total = _cluster.ProduceJson("payments", perPartition: 40);
        var store = new StoredPositions();

        // The first processor polls more than it stores before it "crashes": the broker hears about
        // everything it polled, the store only about the first part.
        var polledByFirst = 0;
        await using (var first = new KafkaEventSource(Source("payments", "g2"), store.ResumeFrom))
        {
            var clock = Stopwatch.StartNew();
            var polled = new Dictionary<string, long>(StringComparer.Ordinal);
            while (store.Applied.Count < total / 2)
            {
                Assert.True(clock.Elapsed < Bound, "timed out");
                var batch = await first.PollAsync(20, TimeSpan.FromMilliseconds(200), CancellationToken.None);
                foreach (var e in batch)
                {
                    polled[e.Partition] = e.Offset + 1;
                }

                polledByFirst += batch.Count;
                await first.AcknowledgeAsync(polled, CancellationToken.None);
                if (store.Applied.Count + batch.Count <= total / 2)
                {
                    store.Store(batch);
                }
                else
                {
                    store.Store(batch.Take((total / 2) - store.Applied.Count).ToList());
                }
            }
        }

        Assert.True(polledByFirst >= store.Applied.Count);
        await using (var second = new KafkaEventSource(Source("payments", "g2"), store.ResumeFrom))
        {
            await PollUntil(second, store, () => store.Applied.Count >= total);
            Assert.Empty(await second.PollAsync(100, TimeSpan.FromMilliseconds(500), CancellationToken.None));
        }

        Assert.Equal(total, store.Applied.Count);
        Assert.Equal(total, store.Applied.Select(e => (e.Partition, e.Offset)).Distinct().Count());
    }

    [Theory]
    [InlineData("consumer")]
    [InlineData("classic")]
    public async Task Two_members_of_a_group_share_the_partitions_and_apply_each_event_once(string protocol)
    {
        var total = _cluster.ProduceJson("clicks", perPartition: 30);
        var store = new StoredPositions();
        await using var a = new KafkaEventSource(Source("clicks", "g3"), store.ResumeFrom, Protocol(protocol));
        var revokedFromA = new List<string>();
        a.PartitionsRevoked += revokedFromA.AddRange;

        // a takes every partition and applies part of the events.
        await PollUntil(a, store, () => store.Applied.Count >= total / 3);
        await using var b = new KafkaEventSource(Source("clicks", "g3"), store.ResumeFrom, Protocol(protocol));

        var clock = Stopwatch.StartNew();
        while (a.AssignedPartitions.Count == 0 || b.AssignedPartitions.Count == 0 || a.AssignedPartitions.Count + b.AssignedPartitions.Count != MockCluster.Partitions)
        {
            Assert.True(clock.Elapsed < Bound, $"no shared assignment after {Bound}: a has {a.AssignedPartitions.Count}, b has {b.AssignedPartitions.Count}");
            foreach (var member in new[] { a, b })
            {
                var batch = await member.PollAsync(10, TimeSpan.FromMilliseconds(100), CancellationToken.None);
                await member.AcknowledgeAsync(store.Store(batch), CancellationToken.None);
            }
        }

        Assert.NotEmpty(revokedFromA);
        Assert.Empty(a.AssignedPartitions.Intersect(b.AssignedPartitions));
        total += _cluster.ProduceJson("clicks", perPartition: 10, start: 30);
        clock.Restart();
        while (store.Applied.Count < total)
        {
            Assert.True(clock.Elapsed < Bound, "timed out");
            foreach (var member in new[] { a, b })
            {
                var batch = await member.PollAsync(50, TimeSpan.FromMilliseconds(100), CancellationToken.None);
                Assert.All(batch, e => Assert.Contains(e.Partition, ((KafkaEventSource)member).AssignedPartitions));
                await member.AcknowledgeAsync(store.Store(batch), CancellationToken.None);
            }
        }

        Assert.Equal(total, store.Applied.Count);
    }
}
