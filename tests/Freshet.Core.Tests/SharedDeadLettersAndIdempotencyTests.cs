using System.Globalization;
using System.Text;
using Freshet.Definitions;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>
/// Dead letters and idempotency keys on a shared store (docs/scale-out.md): two "servers" (two
/// <see cref="FeatureStore"/>s, each with its own dead-letter store object) over one
/// <see cref="InMemoryOnlineStore"/> in its shared mode.
/// </summary>
public sealed class SharedDeadLettersAndIdempotencyTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly string[] Accounts = ["a", "b", "c"];

    [Fact]
    public async Task The_same_idempotent_push_sent_concurrently_to_two_servers_is_applied_once()
    {
        var store = new SharedStore(new InMemoryOnlineStore(shared: true));
        var clock = new ManualClock(Now);
        await using var one = await OpenAsync(store, clock);
        await using var two = await OpenAsync(store, clock);
        var random = new Random(11);
        var pushed = new Dictionary<string, (string Account, double Amount)>(StringComparer.Ordinal);
        var accepted = 0;
        for (var round = 0; round < 20; round++)
        {
            // The same request, sometimes with keys of earlier rounds (a retry), to both servers at once; both
            // read the keys before either claims one (the rendezvous), which is when an unguarded check lets both in.
            var keys = Enumerable.Range(0, 6).Select(i => random.Next(3) == 0 && pushed.Count > 0 ? pushed.Keys.ElementAt(random.Next(pushed.Count)) : $"r{round}-{i}").Distinct().ToList();
            foreach (var key in keys)
            {
                pushed.TryAdd(key, (Accounts[random.Next(Accounts.Length)], Math.Round(random.NextDouble() * 100, 2)));
            }

            var rows = Push(keys, pushed);
            store.MeetOnIdempotencyRead(2);
            var first = await Task.WhenAll(
                Task.Run(async () => await TryPushAsync(one, rows)),
                Task.Run(async () => await TryPushAsync(two, rows)));
            store.MeetOnIdempotencyRead(0);

            // A server that found a key claimed by the other's unfinished push applied nothing and answered 409
            // (both may, each holding some keys; each gives its own back); its client retries once both have
            // answered, and the keys the other stored are then duplicates.
            var results = new List<PushResult>();
            for (var s = 0; s < 2; s++)
            {
                results.Add(first[s] ?? await (s == 0 ? one : two).PushAsync("tx", rows, PushTarget.Online));
            }

            accepted += results.Sum(r => r.Rows - r.DuplicatesSkipped);
            Assert.Equal(2 * keys.Count, results.Sum(r => r.Rows));
        }

        Assert.Equal(pushed.Count, accepted);
        await AssertCountsEqualBruteForce(one, pushed.Values);
        await AssertCountsEqualBruteForce(two, pushed.Values);
    }

    /// <summary>A push's result, or null when it was refused with 409 because the other server's push holds one of its keys.</summary>
    private static async Task<PushResult?> TryPushAsync(FeatureStore store, ColumnTable rows)
    {
        try
        {
            return await store.PushAsync("tx", rows, PushTarget.Online);
        }
        catch (RequestException e) when (e.Status == 409)
        {
            Assert.Equal("idempotency_key_in_flight", e.Code);
            return null;
        }
    }

    [Fact]
    public async Task A_claim_whose_server_died_before_applying_is_refused_as_in_flight_until_its_deadline_then_taken_over()
    {
        var store = new SharedStore(new InMemoryOnlineStore(shared: true));
        var clock = new ManualClock(Now);
        var dying = new SharedStore(store);
        var one = await OpenAsync(dying, clock);
        await using var two = await OpenAsync(store, clock);
        var pushed = new Dictionary<string, (string Account, double Amount)>(StringComparer.Ordinal) { ["k1"] = ("a", 5), ["k2"] = ("b", 7) };
        var rows = Push(["k1", "k2"], pushed);

        // Server one claims the keys, then dies at its first tile swap: nothing applied, nothing released.
        dying.DieAtTileSwap = true;
        await Assert.ThrowsAsync<SimulatedDeath>(async () => await one.PushAsync("tx", rows, PushTarget.Online));

        // Before the deadline the keys are in flight: a retry is refused (409), not answered as duplicates, since the
        // dead server's push was never applied and skipping the rows would lose them.
        var early = await Assert.ThrowsAsync<RequestException>(async () => await two.PushAsync("tx", rows, PushTarget.Online));
        Assert.Equal(409, early.Status);
        Assert.Equal("idempotency_key_in_flight", early.Code);
        Assert.Equal("df.idempotency_key[0]", early.Field);
        await AssertCountsEqualBruteForce(two, []);

        clock.Now = Now + FeatureStoreOptionsDefaults.ClaimTimeout + TimeSpan.FromSeconds(1);
        var late = await two.PushAsync("tx", rows, PushTarget.Online);
        Assert.Equal(0, late.DuplicatesSkipped);
        Assert.Equal(2, late.EventsAggregated);
        var again = await two.PushAsync("tx", rows, PushTarget.Online);
        Assert.Equal(2, again.DuplicatesSkipped);
        await AssertCountsEqualBruteForce(two, pushed.Values);
    }

    [Fact]
    public async Task A_push_that_fails_after_claiming_releases_its_keys_so_a_retry_applies_at_once()
    {
        var store = new SharedStore(new InMemoryOnlineStore(shared: true));
        var clock = new ManualClock(Now);
        var failing = new SharedStore(store);
        await using var one = await OpenAsync(failing, clock);
        await using var two = await OpenAsync(store, clock);
        var pushed = new Dictionary<string, (string Account, double Amount)>(StringComparer.Ordinal) { ["k1"] = ("a", 5) };
        var rows = Push(["k1"], pushed);

        failing.FailNextTileSwap = true;
        await Assert.ThrowsAsync<SimulatedDeath>(async () => await one.PushAsync("tx", rows, PushTarget.Online));

        var retry = await two.PushAsync("tx", rows, PushTarget.Online);
        Assert.Equal(0, retry.DuplicatesSkipped);
        await AssertCountsEqualBruteForce(two, pushed.Values);
    }

    [Fact]
    public async Task A_replayed_stream_batch_records_one_dead_letter_per_rejected_event_and_exact_counts()
    {
        var store = new SharedStore(new InMemoryOnlineStore(shared: true));
        var clock = new ManualClock(Now);
        var lettersOne = await OnlineDeadLetterStore.OpenAsync(store, clock);
        var lettersTwo = await OnlineDeadLetterStore.OpenAsync(store, clock);
        await using var one = await OpenAsync(store, clock, new DeadLetterSink(lettersOne, clock));
        await using var two = await OpenAsync(store, clock, new DeadLetterSink(lettersTwo, clock));
        var processorOne = new StreamProcessor(one, "tx", new DeadLetterSink(lettersOne, clock));
        var processorTwo = new StreamProcessor(two, "tx", new DeadLetterSink(lettersTwo, clock));

        // Per partition: good events, undecodable ones (dead letters of no view) and too late ones (of the view).
        var batch = new List<SourceEvent>();
        var good = new List<(string Account, double Amount)>();
        var rejected = 0;
        for (var i = 0; i < 30; i++)
        {
            var partition = $"tx/{i % 2}";
            var offset = (long)(i / 2);
            if (i % 5 == 0)
            {
                batch.Add(new SourceEvent(partition, offset, null, Encoding.UTF8.GetBytes($"not json {i}"), null));
                rejected++;
            }
            else if (i % 7 == 0)
            {
                batch.Add(Event(partition, offset, "a", i, Now.AddDays(-5)));
                rejected++;
            }
            else
            {
                var account = Accounts[i % Accounts.Length];
                batch.Add(Event(partition, offset, account, i, Now.AddMinutes(-i)));
                good.Add((account, i));
            }
        }

        var first = await processorOne.ProcessAsync(batch);
        Assert.Equal(rejected, first.Rejected);

        // The same batch again: by the other processor (a zombie, or a new owner before the offsets moved),
        // by the first after a crash between its letters and its offsets, and once more half written.
        await processorTwo.ProcessAsync(batch);
        await processorOne.ProcessAsync(batch);
        store.DieAtDeadLetterSwap = true;
        await Assert.ThrowsAsync<SimulatedDeath>(async () => await processorTwo.ProcessAsync(batch));
        store.DieAtDeadLetterSwap = false;
        await processorTwo.ProcessAsync(batch);

        foreach (var letters in new[] { lettersOne, lettersTwo })
        {
            var listed = await All(letters);
            Assert.Equal(rejected, listed.Count);
            Assert.Equal(rejected, listed.Select(l => (l.Partition, l.Offset)).Distinct().Count());
            Assert.All(listed, l => Assert.True(l.Id >= OnlineDeadLetterStore.PositionIdBase, $"letter {l.Id} has no position id"));
            Assert.Equal(rejected, await letters.CountAsync("tx"));
            Assert.Equal(rejected, await letters.CountAsync());
            Assert.Equal(0, await letters.CountAsync("other"));
        }

        await AssertCountsEqualBruteForce(one, good);

        // A replayed letter keeps its id: removing it (after `freshet deadletter replay`) through one process is
        // seen by the other's counts and listing.
        var firstLetter = (await All(lettersOne))[0];
        Assert.Equal(1, await lettersTwo.RemoveAsync([firstLetter.Id]));
        Assert.Equal(rejected - 1, await lettersOne.CountAsync("tx"));
        Assert.DoesNotContain(firstLetter.Id, (await All(lettersOne)).Select(l => l.Id));
    }

    [Fact]
    public async Task Push_dead_letters_keep_time_ids_and_two_servers_never_overwrite_each_others()
    {
        var store = new SharedStore(new InMemoryOnlineStore(shared: true));
        var clock = new ManualClock(Now);

        // Both processes hand out the same time ids (one clock, no letters yet): the second to claim one moves on.
        var lettersOne = await OnlineDeadLetterStore.OpenAsync(store, clock);
        var lettersTwo = await OnlineDeadLetterStore.OpenAsync(store, clock);
        await lettersOne.AddAsync([Letter("push", 1), Letter("push", 2)]);
        await lettersTwo.AddAsync([Letter("push", 3), Letter("push", 4)]);

        var listed = await All(lettersOne);
        Assert.Equal([1, 2, 3, 4], listed.Select(l => (int)l.Payload[0]).Order());
        Assert.All(listed, l => Assert.True(l.Id < OnlineDeadLetterStore.PositionIdBase));
        Assert.Equal(4, listed.Select(l => l.Id).Distinct().Count());
        Assert.Equal(4, await lettersTwo.CountAsync("push"));

        // Paging after an id still reaches every letter, whichever process handed it out.
        var paged = new List<DeadLetter>();
        var after = 0L;
        while (true)
        {
            var page = await All(lettersTwo, after, 1);
            if (page.Count == 0)
            {
                break;
            }

            paged.AddRange(page);
            after = page[^1].Id;
        }

        Assert.Equal(listed.Select(l => l.Id), paged.Select(l => l.Id));
    }

    private static DeadLetter Letter(string source, int n) => new(0, source, $"event {n}", DeadLetterCodes.TooLate, Now, [(byte)n]);

    private static async Task<List<DeadLetter>> All(OnlineDeadLetterStore letters, long afterId = 0, int limit = 10_000)
    {
        var list = new List<DeadLetter>();
        await foreach (var letter in letters.ListAsync(null, afterId, limit))
        {
            list.Add(letter);
        }

        return list;
    }

    private static SourceEvent Event(string partition, long offset, string account, double amount, DateTimeOffset at) =>
        new(partition, offset, null, Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $$"""{"ts":"{{Micros.ToRfc3339(Micros.From(at))}}","account_id":"{{account}}","amount":{{amount}}}""")), null);

    private static ColumnTable Push(IReadOnlyList<string> keys, Dictionary<string, (string Account, double Amount)> pushed) =>
        new(new Dictionary<string, FeatureValue[]>
        {
            ["account_id"] = [.. keys.Select(k => FeatureValue.FromString(pushed[k].Account))],
            ["amount"] = [.. keys.Select(k => FeatureValue.FromFloat64(pushed[k].Amount))],
            ["ts"] = [.. keys.Select((_, i) => FeatureValue.FromTimestamp(Now.AddSeconds(-1 - i)))],
            [FeatureStore.IdempotencyKeyColumn] = [.. keys.Select(FeatureValue.FromString)],
        });

    private static async Task AssertCountsEqualBruteForce(FeatureStore store, IEnumerable<(string Account, double Amount)> applied)
    {
        var response = await store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            Features = ["stats:n_1d", "stats:sum_1d"],
            Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [.. Accounts.Select(FeatureValue.FromString)] },
        });
        var all = applied.ToList();
        for (var r = 0; r < Accounts.Length; r++)
        {
            var mine = all.Where(e => e.Account == Accounts[r]).ToList();
            var served = response.Columns[1].Values[r];
            Assert.True((served.IsNull ? 0 : served.AsInt64()) == mine.Count, $"count of {Accounts[r]}: brute force {mine.Count}, served {AggregateTestKit.Show(served)}");
            var sum = response.Columns[2].Values[r];
            Assert.True(Math.Abs((sum.IsNull ? 0 : sum.AsFloat64()) - mine.Sum(e => e.Amount)) <= 1e-9, $"sum of {Accounts[r]}: brute force {mine.Sum(e => e.Amount)}, served {AggregateTestKit.Show(sum)}");
        }
    }

    private static async Task<FeatureStore> OpenAsync(IOnlineStore online, TimeProvider clock, IDeadLetterSink? letters = null)
    {
        var repo = new RepoBuilder("shared")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new KafkaSource("tx", "127.0.0.1:9", "tx")
            {
                TimestampField = "ts",
                Schema =
                [
                    new("account_id", FeatureType.Of(ScalarKind.String)),
                    new("amount", FeatureType.Of(ScalarKind.Float64)),
                    new("ts", FeatureType.Of(ScalarKind.Timestamp)),
                ],
            })
            .Add(new AggregationView("stats", ["account"], "tx",
            [
                new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromDays(1)) { Name = "n_1d" },
                new Model.Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromDays(1)) { Name = "sum_1d" },
            ]))
            .Build()
            .GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", Now), 0);
        var options = new FeatureStoreOptions { Clock = clock, DeadLetters = letters, OwnsOnlineStore = false };
        return await FeatureStore.OpenAsync(registry, online, repo.Config, ".", options);
    }

    private static class FeatureStoreOptionsDefaults
    {
        public static readonly TimeSpan ClaimTimeout = new FeatureStoreOptions().IdempotencyClaimTimeout;
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private sealed class SimulatedDeath : Exception
    {
        public SimulatedDeath()
            : base("simulated death of a server")
        {
        }
    }

    /// <summary>
    /// A shared store that can make two callers meet after reading idempotency keys (so both have read before
    /// either claims), or die: at a tile row swap (every later call fails too), at the next tile row swap only, or
    /// at a dead letter's swap.
    /// </summary>
    private sealed class SharedStore(IOnlineStore inner) : IOnlineStore
    {
        private readonly Lock _gate = new();
        private int _meet;
        private int _arrived;
        private TaskCompletionSource _met = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _dead;

        public bool DieAtTileSwap { get; set; }

        public bool FailNextTileSwap { get; set; }

        public bool DieAtDeadLetterSwap { get; set; }

        public bool IsShared => true;

        public void MeetOnIdempotencyRead(int callers)
        {
            lock (_gate)
            {
                _meet = callers;
                _arrived = 0;
                _met = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        public ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
        {
            Check();
            return inner.WriteAsync(writes, cancellationToken);
        }

        public async ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default)
        {
            Check();
            await inner.ReadAsync(keys, rows, cancellationToken);
            if (keys.Count > 0 && keys[0].View == FeatureStore.IdempotencyNamespace)
            {
                Task wait;
                lock (_gate)
                {
                    if (_meet == 0)
                    {
                        return;
                    }

                    if (++_arrived == _meet)
                    {
                        _met.TrySetResult();
                    }

                    wait = _met.Task;
                }

                await wait.WaitAsync(TimeSpan.FromSeconds(120), cancellationToken);
            }
        }

        public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default)
        {
            Check();
            return inner.DeleteViewAsync(view, cancellationToken);
        }

        public ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
        {
            Check();
            return inner.PutAsync(puts, cancellationToken);
        }

        public ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default)
        {
            Check();
            if (swaps.Count > 0 && swaps[0].Namespace == "stats")
            {
                if (DieAtTileSwap)
                {
                    _dead = true;
                    throw new SimulatedDeath();
                }

                if (FailNextTileSwap)
                {
                    FailNextTileSwap = false;
                    throw new SimulatedDeath();
                }
            }

            if (DieAtDeadLetterSwap && swaps.Count > 0 && swaps[0].Namespace == OnlineDeadLetterStore.Namespace)
            {
                throw new SimulatedDeath();
            }

            return inner.SwapAsync(swaps, applied, cancellationToken);
        }

        public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default)
        {
            Check();
            return inner.ScanAsync(@namespace, prefix, cancellationToken);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private void Check()
        {
            if (_dead)
            {
                throw new SimulatedDeath();
            }
        }
    }
}
