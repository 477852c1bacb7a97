using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Freshet.Aggregates;
using Freshet.Definitions;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Kafka.Tests;

/// <summary>
/// Issue 6's partition hand-over (docs/scale-out.md): three stream processors in one Kafka consumer group (on
/// librdkafka's mock cluster, 4 partitions) share one shared online store and split the partitions; one is killed
/// mid-stream with its in-flight batch half written and nothing committed for it; the others take over its
/// partitions; the killed one's stale batch is then written again, as a zombie would; every served feature equals
/// brute force over the events produced, each once. Abstract over the store: a back end that shares a store
/// between processes (Redis, PostgreSQL) runs it with a subclass that opens its client in <see cref="OpenStoreAsync"/>.
/// </summary>
public abstract class PartitionHandOverTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private static readonly string[] Accounts = [.. Enumerable.Range(0, 8).Select(i => $"acct{i}")];
    private static readonly string[] Features = ["stats:n_1d", "stats:sum_1d", "stats:merchants_1d", "stats:last3_1d", "stats:p50_1d", "stats:n_1h"];
    private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;
    private MockCluster? _cluster;

    /// <summary>
    /// Opens a client of the shared store, as one processor process would (called once per processor and once for
    /// the reader; all must see the same data). It must report <see cref="IOnlineStore.IsShared"/>.
    /// </summary>
    protected abstract Task<IOnlineStore> OpenStoreAsync();

    public virtual Task InitializeAsync()
    {
        _cluster = new MockCluster();
        return Task.CompletedTask;
    }

    public virtual Task DisposeAsync()
    {
        _cluster?.Dispose();
        return Task.CompletedTask;
    }

    private MockCluster Cluster => _cluster ?? throw new InvalidOperationException("not initialized");

    [Fact]
    public async Task Killing_a_processor_mid_stream_hands_its_partitions_over_with_no_event_lost_or_counted_twice()
    {
        var topic = "tx-" + Guid.NewGuid().ToString("N")[..8];
        var random = new Random(17);
        var events = Generate(random, 2400);
        var produced = new int[MockCluster.Partitions];

        // A first part before the processors start, the rest in chunks while they run.
        Produce(topic, events[..600], produced);
        var processors = new List<Processor>();
        for (var i = 0; i < 3; i++)
        {
            processors.Add(await Processor.StartAsync(i, await OpenStoreAsync(), topic, Cluster.BootstrapServers, _now));
        }

        var clock = Stopwatch.StartNew();
        try
        {
            // Mid-stream: every member holds partitions and the group has applied part of the events.
            var next = 600;
            while (processors.Any(p => p.Assigned.Count == 0) || processors.Sum(p => p.Applied) < 300)
            {
                Assert.True(clock.Elapsed < Bound, $"no shared assignment after {Bound}: {Describe(processors)}");
                if (next < 1200)
                {
                    Produce(topic, events[next..(next + 100)], produced);
                    next += 100;
                }

                await Task.Delay(100);
                processors.ForEach(p => p.ThrowIfFailed());
            }

            // The kill: the victim's next batch stores its first rows only, then the process dies (no offset commit,
            // no flush of its partitions); its consumer is dropped.
            var victim = processors.MaxBy(p => p.Assigned.Count)!;
            var taken = victim.Assigned.ToList();
            Produce(topic, events[next..(next + 200)], produced);
            next += 200;
            victim.Store.CrashAfterSwaps = 3;
            while (!victim.Crashed)
            {
                Assert.True(clock.Elapsed < Bound, $"the victim wrote no batch: {Describe(processors)}");
                victim.ThrowIfFailed();
                await Task.Delay(50);
            }

            await victim.StopAsync();
            Assert.NotNull(victim.InFlight);
            var survivors = processors.Where(p => p != victim).ToList();

            // The others take over every partition and drain the rest of the stream.
            Produce(topic, events[next..], produced);
            var reader = await OpenAsync(await OpenStoreAsync(), topic, Cluster.BootstrapServers, _now);
            var positions = new StreamProcessor(reader, "tx", new NoLetters());
            var names = Enumerable.Range(0, MockCluster.Partitions).Select(p => KafkaEventSource.PartitionName(topic, p)).ToList();
            while (true)
            {
                survivors.ForEach(p => p.ThrowIfFailed());
                var stored = positions.ResumeFrom(names);
                // Drained, and the survivors hold every partition between them (an assignment may still be moving).
                if (Enumerable.Range(0, MockCluster.Partitions).All(p => stored[names[p]] == produced[p])
                    && survivors.SelectMany(p => p.Assigned).Distinct().Count() == MockCluster.Partitions)
                {
                    break;
                }

                Assert.True(clock.Elapsed < Bound, $"the survivors did not drain the stream: stored {string.Join(", ", names.Select(n => $"{n}={stored[n]}"))} of {string.Join(", ", produced)}; {Describe(survivors)}");
                await Task.Delay(200);
            }

            Assert.Subset(survivors.SelectMany(p => p.Assigned).ToHashSet(), taken.ToHashSet());

            // A zombie writes the victim's stale batch again, whole this time: the rows' records refuse it.
            var zombie = await OpenAsync(await OpenStoreAsync(), topic, Cluster.BootstrapServers, _now);
            await new StreamProcessor(zombie, "tx", new NoLetters()).ProcessAsync(victim.InFlight!);
            await zombie.DisposeAsync();

            foreach (var p in survivors)
            {
                await p.StopAsync();
            }

            await AssertEqualToBruteForce(reader, events);
            await reader.DisposeAsync();
        }
        finally
        {
            foreach (var p in processors)
            {
                await p.StopAsync();
            }
        }
    }

    private static string Describe(IEnumerable<Processor> processors) =>
        string.Join("; ", processors.Select(p => $"processor {p.Id}: {p.Assigned.Count} partitions, {p.Applied} events"));

    private void Produce(string topic, Tx[] events, int[] produced)
    {
        Cluster.Produce(topic, events.Select(e => (e.Partition, e.Json)));
        foreach (var e in events)
        {
            produced[e.Partition]++;
        }
    }

    private async Task AssertEqualToBruteForce(FeatureStore store, Tx[] events)
    {
        var response = await store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            Features = Features,
            Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [.. Accounts.Select(FeatureValue.FromString)] },
        });

        // The same events applied once each by the embedded path, for the percentile sketch.
        await using var reference = await OpenAsync(new InMemoryOnlineStore(), "unused", "127.0.0.1:9", _now);
        await new StreamProcessor(reference, "tx", new NoLetters()).ProcessAsync([.. events.Select((e, i) => new SourceEvent("all", i, null, e.Json, null))]);
        var expected = await reference.GetOnlineFeaturesAsync(new OnlineRequest
        {
            Features = Features,
            Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [.. Accounts.Select(FeatureValue.FromString)] },
        });

        var now = Micros.From(_now);
        var dayFrom = AggregationEngine.FloorTile(now, Micros.Of(TimeSpan.FromHours(1))) - Micros.Of(TimeSpan.FromDays(1));
        var hourFrom = AggregationEngine.FloorTile(now, Micros.Of(TimeSpan.FromMinutes(1))) - Micros.Of(TimeSpan.FromHours(1));
        for (var r = 0; r < Accounts.Length; r++)
        {
            var day = events.Where(e => e.Account == Accounts[r] && e.Micros >= dayFrom && e.Micros < now).ToList();
            var what = $"account {Accounts[r]}";
            Assert.True(day.Count == response.Columns[1].Values[r].AsInt64(), $"{what}: count 1d brute force {day.Count}, served {response.Columns[1].Values[r].AsInt64()}");
            var sum = day.Sum(e => e.Amount);
            Assert.True(Math.Abs(response.Columns[2].Values[r].AsFloat64() - sum) <= 1e-9 * Math.Abs(sum), $"{what}: sum 1d brute force {sum}, served {response.Columns[2].Values[r].AsFloat64()}");
            Assert.Equal(day.Select(e => e.Merchant).Distinct().Count(), response.Columns[3].Values[r].AsInt64());
            Assert.Equal([.. day.OrderByDescending(e => e.Micros).Take(3).Select(e => e.Merchant)], response.Columns[4].Values[r].AsList().Cast<string>().ToArray());
            Assert.Equal(events.Count(e => e.Account == Accounts[r] && e.Micros >= hourFrom && e.Micros < now), response.Columns[6].Values[r].AsInt64());
            Assert.True(expected.Columns[5].Values[r].Equals(response.Columns[5].Values[r]), $"{what}: p50 of the events applied once {expected.Columns[5].Values[r]}, served {response.Columns[5].Values[r]}");
        }
    }

    private sealed record Tx(int Partition, string Account, string Merchant, double Amount, long Micros, byte[] Json);

    /// <summary>Events over the 20 hours before now (a fifth in the last hour), each at its own microsecond, keyed to partitions by account.</summary>
    private Tx[] Generate(Random random, int count)
    {
        var used = new HashSet<long>();
        var events = new Tx[count];
        for (var i = 0; i < count; i++)
        {
            long micros;
            var span = random.Next(5) == 0 ? TimeSpan.FromMinutes(50) : TimeSpan.FromHours(20);
            do
            {
                micros = Micros.From(_now) - 1_000_000 - random.NextInt64(Micros.Of(span));
            }
            while (!used.Add(micros));

            var account = random.Next(Accounts.Length);
            var merchant = $"m{random.Next(9)}";
            var amount = Math.Round(random.NextDouble() * 400, 2);
            var json = string.Create(CultureInfo.InvariantCulture,
                $$"""{"ts":"{{Micros.ToRfc3339(micros)}}","account_id":"{{Accounts[account]}}","merchant":"{{merchant}}","amount":{{amount.ToString("R", CultureInfo.InvariantCulture)}}}""");

            // Each partition carries several accounts and each account is in one partition, as with keyed producers;
            // some accounts move partition halfway, so one tile row is fed by two partitions.
            var partition = (account + (i > count / 2 && account % 2 == 0 ? 1 : 0)) % MockCluster.Partitions;
            events[i] = new Tx(partition, Accounts[account], merchant, amount, micros, Encoding.UTF8.GetBytes(json));
        }

        return events;
    }

    private static async Task<FeatureStore> OpenAsync(IOnlineStore online, string topic, string bootstrap, DateTimeOffset now)
    {
        var repo = new RepoBuilder("handover")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new KafkaSource("tx", bootstrap, topic)
            {
                TimestampField = "ts",
                ConsumerGroup = "handover-" + topic,
                Schema =
                [
                    new("account_id", FeatureType.Of(ScalarKind.String)),
                    new("amount", FeatureType.Of(ScalarKind.Float64)),
                    new("merchant", FeatureType.Of(ScalarKind.String)),
                    new("ts", FeatureType.Of(ScalarKind.Timestamp)),
                ],
            })
            .Add(new AggregationView("stats", ["account"], "tx",
            [
                new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromDays(1)) { Name = "n_1d" },
                new Model.Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromDays(1)) { Name = "sum_1d" },
                new Model.Aggregation(AggregationFunction.CountDistinct, "merchant", TimeSpan.FromDays(1)) { Name = "merchants_1d" },
                new Model.Aggregation(AggregationFunction.LastN, "merchant", TimeSpan.FromDays(1)) { Name = "last3_1d", K = 3 },
                new Model.Aggregation(AggregationFunction.ApproxPercentile, "amount", TimeSpan.FromDays(1)) { Name = "p50_1d", Percentile = 0.5 },
                new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)) { Name = "n_1h" },
            ]))
            .Build()
            .GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", now), 0);
        return await FeatureStore.OpenAsync(registry, online, repo.Config, ".", new FeatureStoreOptions { Clock = new FixedTime(now) });
    }

    /// <summary>One processor "process": its own store client, feature store, Kafka member and poll loop.</summary>
    private sealed class Processor
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentDictionary<string, bool> _assigned = new(StringComparer.Ordinal);
        private Task _loop = Task.CompletedTask;
        private FeatureStore? _features;
        private KafkaEventSource? _source;
        private Exception? _failure;
        private int _applied;

        private Processor(int id, CrashingStore store)
        {
            Id = id;
            Store = store;
        }

        public int Id { get; }

        public CrashingStore Store { get; }

        public ICollection<string> Assigned => _assigned.Keys;

        public int Applied => Volatile.Read(ref _applied);

        public bool Crashed { get; private set; }

        /// <summary>The batch the processor was writing when it died.</summary>
        public IReadOnlyList<SourceEvent>? InFlight { get; private set; }

        public static async Task<Processor> StartAsync(int id, IOnlineStore online, string topic, string bootstrap, DateTimeOffset now)
        {
            var processor = new Processor(id, new CrashingStore(online));
            processor._features = await OpenAsync(processor.Store, topic, bootstrap, now);
            var stream = new StreamProcessor(processor._features, "tx", new NoLetters());
            var definition = (KafkaSource)processor._features.Registry.Index.Source("tx")!;
            processor._source = new KafkaEventSource(definition, stream.ResumeFrom);
            processor._loop = Task.Run(() => processor.RunAsync(stream));
            return processor;
        }

        private async Task RunAsync(StreamProcessor stream)
        {
            var source = _source!;
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var batch = await source.PollAsync(40, TimeSpan.FromMilliseconds(200), _stop.Token);
                    Sync(source);
                    if (batch.Count == 0)
                    {
                        continue;
                    }

                    try
                    {
                        var result = await stream.ProcessAsync(batch, _stop.Token);
                        await source.AcknowledgeAsync(result.NextOffsets, _stop.Token);
                        Interlocked.Add(ref _applied, batch.Count);
                    }
                    catch (SimulatedCrash)
                    {
                        InFlight = batch;
                        Crashed = true;
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                _failure = e;
            }
        }

        private void Sync(KafkaEventSource source)
        {
            var now = source.AssignedPartitions.ToHashSet(StringComparer.Ordinal);
            foreach (var p in _assigned.Keys.Where(p => !now.Contains(p)))
            {
                _assigned.TryRemove(p, out _);
            }

            foreach (var p in now)
            {
                _assigned[p] = true;
            }
        }

        public void ThrowIfFailed()
        {
            if (_failure is { } e)
            {
                throw new InvalidOperationException($"processor {Id} failed", e);
            }
        }

        public async Task StopAsync()
        {
            if (_source is null)
            {
                return;
            }

            await _stop.CancelAsync();
            await _loop;
            await _source.DisposeAsync();
            _source = null;
            _assigned.Clear();
            await _features!.DisposeAsync();
            ThrowIfFailed();
        }
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private sealed class NoLetters : IDeadLetterSink
    {
        public IReadOnlyList<OnlinePut> Prepare(IReadOnlyList<RejectedEvent> letters) =>
            throw new InvalidOperationException($"no event should be rejected: {letters[0].Code} {letters[0].Reason}");
    }

    private sealed class SimulatedCrash() : Exception("simulated crash");

    /// <summary>A processor's client of the shared store that can die after a number of row swaps (the call in progress stores only its first ones).</summary>
    private sealed class CrashingStore(IOnlineStore inner) : IOnlineStore
    {
        private int _budget = -1;

        public int CrashAfterSwaps
        {
            set => Volatile.Write(ref _budget, value);
        }

        public bool IsShared => inner.IsShared;

        public ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default) => inner.WriteAsync(writes, cancellationToken);

        public ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default) => inner.ReadAsync(keys, rows, cancellationToken);

        public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default) => inner.DeleteViewAsync(view, cancellationToken);

        public ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default) => inner.PutAsync(puts, cancellationToken);

        public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default) =>
            inner.ScanAsync(@namespace, prefix, cancellationToken);

        public async ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default)
        {
            var budget = Volatile.Read(ref _budget);
            if (budget >= 0 && budget < swaps.Count)
            {
                await inner.SwapAsync([.. swaps.Take(budget)], applied, cancellationToken);
                throw new SimulatedCrash();
            }

            if (budget >= 0)
            {
                Volatile.Write(ref _budget, budget - swaps.Count);
            }

            await inner.SwapAsync(swaps, applied, cancellationToken);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

/// <summary>The hand-over on the in-process store in its shared mode (one instance standing for a shared server).</summary>
public sealed class InMemoryPartitionHandOverTests : PartitionHandOverTests
{
    private readonly InMemoryOnlineStore _shared = new(shared: true);

    protected override Task<IOnlineStore> OpenStoreAsync() => Task.FromResult<IOnlineStore>(new Client(_shared));

    /// <summary>A client of the one shared instance; closing a client leaves the instance to the others.</summary>
    private sealed class Client(InMemoryOnlineStore inner) : IOnlineStore
    {
        public bool IsShared => inner.IsShared;

        public ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default) => inner.WriteAsync(writes, cancellationToken);

        public ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default) => inner.ReadAsync(keys, rows, cancellationToken);

        public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default) => inner.DeleteViewAsync(view, cancellationToken);

        public ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default) => inner.PutAsync(puts, cancellationToken);

        public ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default) => inner.SwapAsync(swaps, applied, cancellationToken);

        public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default) =>
            inner.ScanAsync(@namespace, prefix, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
