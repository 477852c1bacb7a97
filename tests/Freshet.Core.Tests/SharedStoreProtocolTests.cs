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

namespace Freshet.Core.Tests;

/// <summary>
/// The shared-store protocol (docs/scale-out.md) against brute force: stream processors on one shared store,
/// one of them crashing at any store call (between row swaps, before or after the offset commit) and restarting
/// from the stored offsets, while a zombie replays stale batches between and inside the live one's writes; the
/// served features must equal applying every event exactly once.
/// </summary>
public sealed class SharedStoreProtocolTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly string[] Accounts = ["a", "b", "c", "d"];
    private static readonly string[] Partitions = ["tx/0", "tx/1"];

    private static readonly string[] Features =
    [
        "stats:n_1d", "stats:sum_1d", "stats:merchants_1d", "stats:last3_1d", "stats:p50_1d", "stats:n_1h",
    ];

    [Fact]
    public async Task Crashes_and_a_zombie_replaying_stale_batches_leave_every_feature_equal_to_each_event_applied_once()
    {
        for (var seed = 1; seed <= 30; seed++)
        {
            await RunScenario(seed);
        }
    }

    [Fact]
    public async Task A_row_written_with_its_offsets_is_read_by_serving_and_by_old_format_readers_alike()
    {
        var events = Generate(new Random(5), 40);
        var shared = new InMemoryOnlineStore(shared: true);
        await using (var store = await OpenAsync(new ProcessorStore(shared)))
        {
            await new StreamProcessor(store, "tx", new NoLetters()).ProcessAsync(events);
        }

        // Every tile row carries its record (format 2), and the record names the highest offset of each partition.
        var tiles = new List<KeyValuePair<byte[], byte[]>>();
        await foreach (var row in shared.ScanAsync("stats", []))
        {
            tiles.Add(row);
        }

        Assert.NotEmpty(tiles);
        Assert.All(tiles, t => Assert.Equal(2, t.Value[0]));
        var highest = new Dictionary<string, long>();
        foreach (var t in tiles)
        {
            AppliedOffsets.Split(t.Value, out var record);
            foreach (var (p, o) in record)
            {
                highest[p] = Math.Max(highest.GetValueOrDefault(p, -1), o);
            }
        }

        foreach (var p in Partitions)
        {
            Assert.Equal(events.Where(e => e.Partition == p).Max(e => e.Offset), highest[p]);
        }

        await AssertEqualToExactlyOnce(shared, events, "format 2 rows");

        // An embedded store meeting such a row (moved there) keeps applying on its tiles and drops the record.
        var embedded = new InMemoryOnlineStore();
        await embedded.PutAsync([.. tiles.Select(t => new OnlinePut("stats", t.Key, t.Value))]);
        await using var plain = await OpenAsync(embedded);
        var more = Generate(new Random(6), 10).Select(e => e with { Offset = e.Offset + 1000 }).ToList();
        await new StreamProcessor(plain, "tx", new NoLetters()).ProcessAsync(more);
        await AssertEqualToExactlyOnce(embedded, [.. events, .. more], "format 2 rows updated by an embedded store");
    }

    [Fact]
    public void Applied_offsets_round_trip_and_a_format_1_row_has_an_empty_record()
    {
        var body = new byte[] { 1, 0, 0, 0, 0, 0, 0, 0, 0 };
        Assert.Same(body, AppliedOffsets.Split(body, out var none));
        Assert.Empty(none);
        Assert.Same(body, AppliedOffsets.Join(body, new Dictionary<string, long>()));

        var record = new Dictionary<string, long> { ["tx/1"] = 7, ["tx/0"] = long.MaxValue, ["é"] = -1 };
        var row = AppliedOffsets.Join(body, record);
        Assert.Equal(2, row[0]);
        var back = AppliedOffsets.Split(row, out var read);
        Assert.Equal(body, back);
        Assert.Equal(record.OrderBy(p => p.Key, StringComparer.Ordinal), read.OrderBy(p => p.Key, StringComparer.Ordinal));

        // Equal records give equal bytes whatever the insertion order (a swap compares bytes).
        Assert.Equal(row, AppliedOffsets.Join(body, new Dictionary<string, long> { ["é"] = -1, ["tx/0"] = long.MaxValue, ["tx/1"] = 7 }));
        Assert.Throws<InvalidDataException>(() => AppliedOffsets.Split(row[..^3], out _));
    }

    private static async Task RunScenario(int seed)
    {
        var random = new Random(seed);
        var events = Generate(random, 150);
        var byPartition = Partitions.ToDictionary(p => p, p => events.Where(e => e.Partition == p).OrderBy(e => e.Offset).ToList());
        var shared = new InMemoryOnlineStore(shared: true);
        var zombieStore = new ProcessorStore(shared);
        await using var zombieFeatures = await OpenAsync(zombieStore);
        var zombie = new StreamProcessor(zombieFeatures, "tx", new NoLetters());
        var history = new List<List<SourceEvent>>();

        // A zombie holds batches it read before it lost its partitions and writes one of them at some moment.
        async Task ZombieWrites()
        {
            if (history.Count == 0)
            {
                return;
            }

            var stale = history[random.Next(history.Count)];
            zombieStore.CrashAfterSwaps = random.Next(3) == 0 ? random.Next(0, 6) : null;
            try
            {
                await zombie.ProcessAsync(stale);
            }
            catch (SimulatedCrash)
            {
            }
            finally
            {
                zombieStore.CrashAfterSwaps = null;
            }
        }

        var crashes = 0;
        for (var generation = 0; ; generation++)
        {
            Assert.True(generation < 200, $"seed {seed}: no progress");

            // A new live processor (a restarted process, or the next owner) starts from the stored offsets.
            var live = new ProcessorStore(shared);
            await using var features = await OpenAsync(live);
            var processor = new StreamProcessor(features, "tx", new NoLetters());
            var resume = processor.ResumeFrom(Partitions);
            var position = Partitions.ToDictionary(p => p, p => resume[p] ?? 0);
            if (Partitions.All(p => position[p] >= byPartition[p].Count))
            {
                break;
            }

            var crashed = false;
            while (!crashed && Partitions.Any(p => position[p] < byPartition[p].Count))
            {
                // A poll: a few events of each partition in offset order, the partitions interleaved.
                var batch = new List<SourceEvent>();
                foreach (var p in Partitions)
                {
                    var take = Math.Min(random.Next(0, 25), byPartition[p].Count - (int)position[p]);
                    batch.AddRange(byPartition[p].Skip((int)position[p]).Take(take));
                    position[p] += take;
                }

                if (batch.Count == 0)
                {
                    continue;
                }

                batch = [.. batch.OrderBy(_ => random.Next()).OrderBy(e => e.Partition, StringComparer.Ordinal).ThenBy(e => e.Offset)];
                history.Add(batch);
                if (random.Next(3) == 0)
                {
                    await ZombieWrites();
                }

                live.BeforeSwap = random.Next(3) == 0 ? ZombieWrites : null;
                live.CrashAfterSwaps = random.Next(4) == 0 ? random.Next(0, 12) : null;
                try
                {
                    await processor.ProcessAsync(batch);
                }
                catch (SimulatedCrash)
                {
                    crashed = true;
                    crashes++;
                }
                finally
                {
                    live.BeforeSwap = null;
                }
            }
        }

        await ZombieWrites();
        await AssertEqualToExactlyOnce(shared, events, $"seed {seed} ({crashes} crashes)");
    }

    /// <summary>The served features equal brute force over every event once, and equal the embedded engine fed each event once.</summary>
    private static async Task AssertEqualToExactlyOnce(IOnlineStore online, List<SourceEvent> events, string what)
    {
        await using var actualStore = await OpenAsync(new ProcessorStore(online));
        var reference = new InMemoryOnlineStore();
        await using var referenceStore = await OpenAsync(reference);
        await new StreamProcessor(referenceStore, "tx", new NoLetters()).ProcessAsync(events);
        var actual = await Read(actualStore);
        var expected = await Read(referenceStore);
        var nowMicros = Micros.From(Now);
        for (var r = 0; r < Accounts.Length; r++)
        {
            // Brute force of the counts and the sum (1 h hops for 1 d windows, 1 min hops for 1 h).
            var mine = events.Select(Parse).Where(t => t.Account == Accounts[r]).ToList();
            var day = mine.Where(t => t.Micros >= AggregationEngine.FloorTile(nowMicros, Micros.Of(TimeSpan.FromHours(1))) - Micros.Of(TimeSpan.FromDays(1))).ToList();
            var hour = mine.Where(t => t.Micros >= AggregationEngine.FloorTile(nowMicros, Micros.Of(TimeSpan.FromMinutes(1))) - Micros.Of(TimeSpan.FromHours(1))).ToList();
            Assert.True(day.Count == actual.Columns[1].Values[r].AsInt64(), $"{what}: count of {Accounts[r]}: brute force {day.Count}, served {actual.Columns[1].Values[r].AsInt64()}");
            Assert.Equal(hour.Count, actual.Columns[6].Values[r].AsInt64());
            var sum = day.Sum(t => t.Amount);
            Assert.True(Math.Abs(actual.Columns[2].Values[r].AsFloat64() - sum) <= 1e-9 * Math.Abs(sum), $"{what}: sum of {Accounts[r]}");
            Assert.Equal(day.Select(t => t.Merchant).Distinct().Count(), actual.Columns[3].Values[r].AsInt64());
            Assert.Equal(string.Join(",", day.OrderByDescending(t => t.Micros).Take(3).Select(t => t.Merchant)), AggregateTestKit.Show(actual.Columns[4].Values[r]).Trim('[', ']').Replace(" ", "", StringComparison.Ordinal));

            for (var f = 1; f < actual.Columns.Length; f++)
            {
                var (e, a) = (expected.Columns[f].Values[r], actual.Columns[f].Values[r]);
                var same = e.Kind == ValueKind.Float64 && a.Kind == ValueKind.Float64
                    ? Math.Abs(e.AsFloat64() - a.AsFloat64()) <= 1e-9 * Math.Abs(e.AsFloat64())
                    : e.Equals(a);
                Assert.True(same, $"{what}: {actual.FeatureNames[f]} of {Accounts[r]}: exactly once {AggregateTestKit.Show(e)}, served {AggregateTestKit.Show(a)}");
            }
        }
    }

    private static async Task<OnlineResponse> Read(FeatureStore store) =>
        await store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            Features = Features,
            Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [.. Accounts.Select(FeatureValue.FromString)] },
        });

    private sealed record Tx(string Account, double Amount, string Merchant, long Micros);

    private static Tx Parse(SourceEvent e)
    {
        using var json = System.Text.Json.JsonDocument.Parse(e.Value);
        var root = json.RootElement;
        return new Tx(root.GetProperty("account_id").GetString()!, root.GetProperty("amount").GetDouble(), root.GetProperty("merchant").GetString()!,
            Micros.From(DateTimeOffset.Parse(root.GetProperty("ts").GetString()!, CultureInfo.InvariantCulture)));
    }

    /// <summary>Events over the last 20 hours, each at its own microsecond (so last_n has no ties), spread over two partitions.</summary>
    private static List<SourceEvent> Generate(Random random, int count)
    {
        var offsets = new long[Partitions.Length];
        var used = new HashSet<long>();
        var events = new List<SourceEvent>();
        for (var i = 0; i < count; i++)
        {
            long micros;
            do
            {
                micros = Micros.From(Now) - 1 - random.NextInt64(Micros.Of(TimeSpan.FromHours(20)));
            }
            while (!used.Add(micros));

            var p = random.Next(Partitions.Length);
            var json = string.Create(CultureInfo.InvariantCulture,
                $$"""{"ts":"{{Micros.ToRfc3339(micros)}}","account_id":"{{Accounts[random.Next(Accounts.Length)]}}","merchant":"m{{random.Next(7)}}","amount":{{Math.Round(random.NextDouble() * 300, 2).ToString("R", CultureInfo.InvariantCulture)}}}""");
            events.Add(new SourceEvent(Partitions[p], offsets[p]++, null, Encoding.UTF8.GetBytes(json), null));
        }

        return events;
    }

    private static async Task<FeatureStore> OpenAsync(IOnlineStore online)
    {
        var repo = new RepoBuilder("scaleout")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new KafkaSource("tx", "127.0.0.1:9", "tx")
            {
                TimestampField = "ts",
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
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", Now), 0);
        return await FeatureStore.OpenAsync(registry, online, repo.Config, ".", new FeatureStoreOptions { Clock = new FixedTime(Now) });
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

    private sealed class SimulatedCrash : Exception
    {
        public SimulatedCrash()
            : base("simulated crash")
        {
        }
    }

    /// <summary>
    /// One processor's view of the shared store: it can crash after a number of swaps (the call in progress stores
    /// only its first ones), and run another writer just before its swaps land (a zombie racing it).
    /// </summary>
    private sealed class ProcessorStore(IOnlineStore inner) : IOnlineStore
    {
        public int? CrashAfterSwaps { get; set; }

        public Func<Task>? BeforeSwap { get; set; }

        public bool IsShared => true;

        public ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default) => inner.WriteAsync(writes, cancellationToken);

        public ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default) => inner.ReadAsync(keys, rows, cancellationToken);

        public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default) => inner.DeleteViewAsync(view, cancellationToken);

        public ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default) => inner.PutAsync(puts, cancellationToken);

        public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default) =>
            inner.ScanAsync(@namespace, prefix, cancellationToken);

        public async ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default)
        {
            if (BeforeSwap is { } other)
            {
                BeforeSwap = null;
                await other();
            }

            if (CrashAfterSwaps is { } budget && budget < swaps.Count)
            {
                await inner.SwapAsync([.. swaps.Take(budget)], applied, cancellationToken);
                CrashAfterSwaps = null;
                throw new SimulatedCrash();
            }

            CrashAfterSwaps -= swaps.Count;
            await inner.SwapAsync(swaps, applied, cancellationToken);
        }

        // The shared store outlives each processor.
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
