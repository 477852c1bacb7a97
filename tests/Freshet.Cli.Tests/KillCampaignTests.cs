using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Freshet.Cli.Tests;

/// <summary>
/// Issue 8's SIGKILL campaign: `freshet serve` on the embedded store (RocksDB) takes a steady stream of pushes to a
/// plain view and an aggregation view (windowed count and sum) and is SIGKILLed 20 times, restarted after each: a
/// quarter each between pushes, with a push's body half uploaded, at a random 0-24 ms after a push went out, and after a
/// push was applied and answered but the answer dropped (a lost ack), at seeded random times. The client re-sends every
/// push it saw no 200 for, with the same <c>idempotency_key</c> per row. After each restart every acknowledged event is
/// served (and nothing never sent); a re-sent push is applied wholly or skipped wholly, and one whose answer was lost is
/// skipped; at the end the counts and sums equal brute force over all events exactly, and the plain view serves the
/// newest row of each account. <c>FRESHET_KILL_SEED</c> repeats a run's events and kill moments.
/// </summary>
public sealed class KillCampaignTests(ITestOutputHelper output) : IDisposable
{
    private const int Kills = 20;
    private const int Accounts = 40;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    /// <summary>One pushed event; <see cref="Seq"/> is unique and is also its idempotency key.</summary>
    private sealed record Txn(long Seq, string Account, double Amount, long Micros)
    {
        public string Ts => DateTimeOffset.UnixEpoch.AddTicks(Micros * 10).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
    }

    /// <summary>What the served values are checked against: brute force over a set of events.</summary>
    private sealed record Expected(long Count, double Sum, Txn? Newest);

    private const string Settings = """
        project: kill_campaign
        data_directory: data
        online_store:
          type: rocksdb
        registry:
          type: file
        auth:
          enabled: false
        """;

    private const string Definitions = """
        entities:
          - name: account
            join_keys:
              - {name: account_id, type: string}
        sources:
          - name: txns
            type: push
            timestamp_field: ts
            schema:
              - {name: ts, type: timestamp}
              - {name: account_id, type: string}
              - {name: amount, type: float64}
              - {name: seq, type: int64}
        feature_views:
          - name: last_txn
            entities: [account]
            source: txns
            schema:
              - {name: amount, type: float64}
              - {name: seq, type: int64}
        aggregation_views:
          - name: txn_stats
            entities: [account]
            source: txns
            aggregations:
              - {function: count, window: 1d}
              - {function: sum, column: amount, window: 1d}
        """;

    [Fact]
    public async Task Pushes_acknowledged_before_any_of_20_sigkills_are_served_and_resent_ones_count_once()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("FRESHET_KILL_SEED"), CultureInfo.InvariantCulture, out var given)
            ? given
            : Random.Shared.Next();
        output.WriteLine($"seed {seed} (FRESHET_KILL_SEED={seed} repeats the events and kill moments)");
        var random = new Random(seed);
        var events = new Random(random.Next());
        _repo.Write("freshet.yaml", Settings);
        _repo.Write("campaign.yaml", Definitions);
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());

        // Event times 1 min to 6 h before the start: every one is inside the 1-day window (hop 1 h) for the whole
        // test, so the served count and sum are plain totals. Times are unique per account, so "newest" is one row.
        var start = DateTimeOffset.UtcNow;
        var startMicros = (start - DateTimeOffset.UnixEpoch).Ticks / 10;
        var usedTimes = new HashSet<(string, long)>();
        long nextSeq = 0;
        List<Txn> NextBatch(int size)
        {
            var batch = new List<Txn>(size);
            while (batch.Count < size)
            {
                var account = $"acct{events.Next(Accounts)}";
                var micros = startMicros - 60_000_000 - events.NextInt64(6L * 3_600_000_000);
                if (usedTimes.Add((account, micros)))
                {
                    batch.Add(new Txn(nextSeq++, account, events.Next(1, 10_000), micros));
                }
            }

            return batch;
        }

        var sent = new List<Txn>();
        var acked = new List<Txn>();
        var pending = new List<List<Txn>>();
        var lostAcks = new HashSet<List<Txn>>(ReferenceEqualityComparer.Instance);
        var stats = new CampaignStats();
        var clock = Stopwatch.StartNew();

        // Each kind of moment a quarter of the time, in a seeded order.
        var moments = Enumerable.Range(0, Kills).Select(i => (KillMoment)(i % 4)).ToArray();
        random.Shuffle(moments);

        for (var kill = 0; kill < Kills; kill++)
        {
            var starting = Stopwatch.StartNew();
            await using var server = await ServerProcess.StartAsync(_repo.Dir);
            stats.Starts++;
            stats.Starting += starting.Elapsed;
            await ResendPendingAsync(server, pending, lostAcks, acked, stats);
            await AssertAckedAreServedAsync(server, acked, sent, $"after restart {kill} (seed {seed})");

            // The random draws come before the pusher starts: it owns the events' Random while it runs.
            var moment = moments[kill];
            var delay = TimeSpan.FromMilliseconds(random.Next(100, 1000));
            var afterSend = random.Next(0, 25);
            var gate = new PushGate();
            var pushing = Task.Run(() => PushUntilRefusedAsync(server, gate, moment is KillMoment.MidUpload or KillMoment.AfterSend, NextBatch, random.Next(), sent, acked, pending, lostAcks, stats));
            await gate.FirstAck.Task.WaitAsync(Bound);
            await Task.Delay(delay);
            var request = moment switch
            {
                KillMoment.BetweenPushes => await gate.Park().WaitAsync(Bound),
                KillMoment.MidUpload => await gate.StallNextUpload().WaitAsync(Bound),
                KillMoment.AckLost => await gate.LoseNextAck().WaitAsync(Bound),
                _ => await gate.RequestSent(afterSend).WaitAsync(Bound),
            };
            var unanswered = !request.IsCompleted;
            await server.KillAsync(entireProcessTree: false);
            gate.Release();
            await pushing.WaitAsync(Bound);
            switch (moment)
            {
                case KillMoment.BetweenPushes:
                    stats.KilledBetween++;
                    break;
                case KillMoment.MidUpload:
                    Assert.True(request.IsFaulted, $"a push whose body was half sent at the kill ended {request.Status}");
                    stats.KilledMidUpload++;
                    break;
                case KillMoment.AckLost:
                    stats.KilledAckLost++;
                    break;
                case KillMoment.AfterSend when unanswered && request.IsFaulted:
                    stats.KilledBeforeAnswer++;
                    break;
                default:
                    stats.KilledAfterAnswer++;
                    break;
            }
        }

        // The last restart: re-send what is still unacknowledged, then everything sent must be served exactly once.
        await using (var server = await ServerProcess.StartAsync(_repo.Dir))
        {
            stats.Starts++;
            await ResendPendingAsync(server, pending, lostAcks, acked, stats);
            Assert.Empty(pending);
            Assert.Equal(sent.Count, acked.Count);
            var problems = await MismatchesAsync(server, Expect(sent));
            Assert.True(problems.Count == 0, $"seed {seed}, {stats}:\n{string.Join('\n', problems.Take(30))}");
        }

        output.WriteLine($"{stats}; {sent.Count} events over {Accounts} accounts in {clock.Elapsed.TotalSeconds:F0} s");
        Assert.True(sent.Count >= 500, $"only {sent.Count} events were sent (seed {seed})");
    }

    /// <summary>Counts of what the campaign did, printed at the end and in failure messages.</summary>
    private sealed class CampaignStats
    {
        public int Starts { get; set; }

        public int Pushes { get; set; }

        public int KilledBetween { get; set; }

        public int KilledMidUpload { get; set; }

        public int KilledBeforeAnswer { get; set; }

        public int KilledAfterAnswer { get; set; }

        public int KilledAckLost { get; set; }

        public TimeSpan Starting { get; set; }

        public int Resent { get; set; }

        public int ResentAlreadyApplied { get; set; }

        public override string ToString() =>
            $"{Starts} starts ({Starting.TotalSeconds:F0} s waiting for them), {Pushes} pushes acknowledged; kills: {KilledBetween} between pushes, " +
            $"{KilledMidUpload} mid-upload, {KilledBeforeAnswer} after a push was sent and before its answer, " +
            $"{KilledAfterAnswer} aimed there that came after the answer, {KilledAckLost} after an answer that was dropped; " +
            $"{Resent} pushes re-sent of which {ResentAlreadyApplied} had been applied before the kill (rows skipped as duplicates)";
    }

    /// <summary>Where a kill lands relative to the pushes.</summary>
    private enum KillMoment
    {
        /// <summary>The pusher is parked after an ack: nothing is on the wire.</summary>
        BetweenPushes,

        /// <summary>Half of a push's body is sent and the rest held back: the server has an incomplete request.</summary>
        MidUpload,

        /// <summary>0-24 ms after a push went out: while the server applies it, answers it, or just after.</summary>
        AfterSend,

        /// <summary>After a push was applied and answered, but its answer is dropped as if lost on the way back.</summary>
        AckLost,
    }

    /// <summary>How the test's kill is synchronized with the pusher. Each wait gives the request the kill aims at.</summary>
    private sealed class PushGate
    {
        private readonly Lock _lock = new();
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource<Task>? _sent;
        private int _sentDelayMs;
        private TaskCompletionSource<Task>? _parked;
        private TaskCompletionSource<Task>? _stalled;
        private TaskCompletionSource<Task>? _ackLost;

        public TaskCompletionSource FirstAck { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The pusher's next request, <paramref name="delayMs"/> ms after it went out.</summary>
        public Task<Task> RequestSent(int delayMs)
        {
            lock (_lock)
            {
                _sentDelayMs = delayMs;
                return (_sent = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }

        /// <summary>The last answered request, once the pusher waits for <see cref="Release"/> after its next ack.</summary>
        public Task<Task> Park()
        {
            lock (_lock)
            {
                return (_parked = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }

        /// <summary>The pusher's next request, once half its body is sent and the rest waits for <see cref="Release"/>.</summary>
        public Task<Task> StallNextUpload()
        {
            lock (_lock)
            {
                return (_stalled = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }

        /// <summary>The pusher's next answered request, once it has dropped the answer and waits for <see cref="Release"/>.</summary>
        public Task<Task> LoseNextAck()
        {
            lock (_lock)
            {
                return (_ackLost = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }

        public void Release() => _released.TrySetResult();

        /// <summary>Called by the pusher after a 200: true when it must drop the answer (then it has waited for the release).</summary>
        public async Task<bool> DropsAckAsync(Task answered)
        {
            TaskCompletionSource<Task>? lost;
            lock (_lock)
            {
                (lost, _ackLost) = (_ackLost, null);
            }

            if (lost is null)
            {
                return false;
            }

            lost.TrySetResult(answered);
            await _released.Task;
            return true;
        }

        /// <summary>The body of the pusher's next request: stalled halfway when the test asked so.</summary>
        public HttpContent Body(string json, out TaskCompletionSource<Task>? stalled)
        {
            lock (_lock)
            {
                (stalled, _stalled) = (_stalled, null);
            }

            var bytes = System.Text.Encoding.UTF8.GetBytes(json);
            return stalled is null ? new ByteArrayContent(bytes) { Headers = { ContentType = new("application/json") } } : new StalledContent(bytes, _released.Task);
        }

        /// <summary>Called by the pusher just after it starts a request.</summary>
        public void Sending(Task request, HttpContent content, TaskCompletionSource<Task>? stalled)
        {
            TaskCompletionSource<Task>? sent;
            int delay;
            lock (_lock)
            {
                (sent, _sent, delay) = (_sent, null, _sentDelayMs);
            }

            if (sent is not null)
            {
                _ = Task.Delay(delay).ContinueWith(_ => sent.TrySetResult(request), TaskScheduler.Default);
            }

            if (stalled is not null)
            {
                _ = ((StalledContent)content).HalfSent.ContinueWith(_ => stalled.TrySetResult(request), TaskScheduler.Default);
            }
        }

        /// <summary>Called by the pusher after an ack: parks it when the test asked so.</summary>
        public async Task AfterAckAsync(Task answered)
        {
            FirstAck.TrySetResult();
            TaskCompletionSource<Task>? parked;
            lock (_lock)
            {
                (parked, _parked) = (_parked, null);
            }

            if (parked is not null)
            {
                parked.TrySetResult(answered);
                await _released.Task;
            }
        }
    }

    /// <summary>A JSON body that sends its first half, then waits for a release before the rest (Content-Length is the whole).</summary>
    private sealed class StalledContent : HttpContent
    {
        private readonly byte[] _bytes;
        private readonly Task _released;
        private readonly TaskCompletionSource _halfSent = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public StalledContent(byte[] bytes, Task released)
        {
            _bytes = bytes;
            _released = released;
            Headers.ContentType = new("application/json");
        }

        /// <summary>Completes once the first half of the body is written.</summary>
        public Task HalfSent => _halfSent.Task;

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            var half = _bytes.Length / 2;
            await stream.WriteAsync(_bytes.AsMemory(0, half));
            await stream.FlushAsync();
            _halfSent.TrySetResult();
            await _released;
            await stream.WriteAsync(_bytes.AsMemory(half));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _bytes.Length;
            return true;
        }
    }

    /// <summary>
    /// Pushes batches with a short pause between them until the server stops answering. A 200 acknowledges the batch;
    /// a broken or refused connection leaves it pending for the next server; any other answer fails the test.
    /// </summary>
    private static async Task PushUntilRefusedAsync(ServerProcess server, PushGate gate, bool large, Func<int, List<Txn>> nextBatch, int seed,
        List<Txn> sent, List<Txn> acked, List<List<Txn>> pending, HashSet<List<Txn>> lostAcks, CampaignStats stats)
    {
        var random = new Random(seed);
        while (true)
        {
            var batch = nextBatch(large ? random.Next(50, 200) : random.Next(1, 40));
            sent.AddRange(batch);
            using var content = gate.Body(PushBody(batch), out var stalled);
            var request = PostAsync(server.Http, content);
            gate.Sending(request, content, stalled);
            int status;
            JsonNode? answer;
            try
            {
                (status, answer) = await request;
            }
            catch (HttpRequestException)
            {
                pending.Add(batch);
                return;
            }

            Assert.True(status == 200, $"push answered {status}: {answer?.ToJsonString()}");
            Assert.True(answer!["rows"]!.GetValue<int>() == batch.Count && answer["events_aggregated"]!.GetValue<int>() == batch.Count
                && answer["duplicates_skipped"]!.GetValue<int>() == 0, $"a first push of {batch.Count} rows: {answer.ToJsonString()}");
            if (await gate.DropsAckAsync(request))
            {
                // The client never saw this 200: it re-sends the batch, and the server must skip every row of it.
                pending.Add(batch);
                lostAcks.Add(batch);
                continue;
            }

            acked.AddRange(batch);
            stats.Pushes++;
            await gate.AfterAckAsync(request);
            await Task.Delay(random.Next(5, 25));
        }
    }

    private static async Task<(int Status, JsonNode? Body)> PostAsync(HttpClient http, HttpContent content)
    {
        using var response = await http.PostAsync("/push", content);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>Re-sends each pending batch, rows and keys unchanged, until it is acknowledged.</summary>
    private static async Task ResendPendingAsync(ServerProcess server, List<List<Txn>> pending, HashSet<List<Txn>> lostAcks, List<Txn> acked, CampaignStats stats)
    {
        foreach (var batch in pending)
        {
            var (status, answer) = await server.PostAsync("/push", PushBody(batch));
            Assert.True(status == 200, $"re-sent push answered {status}: {answer?.ToJsonString()}");
            var applied = answer!["events_aggregated"]!.GetValue<int>();
            var skipped = answer["duplicates_skipped"]!.GetValue<int>();
            Assert.True(applied + skipped == batch.Count, $"re-sent push of {batch.Count} rows: {answer.ToJsonString()}");
            // A batch is one atomic write of its tiles and keys: applied wholly before the kill, or not at all.
            Assert.True(skipped == 0 || skipped == batch.Count, $"a re-sent push was half applied before the kill: {answer.ToJsonString()}");
            Assert.True(!lostAcks.Contains(batch) || skipped == batch.Count, $"a push answered 200 before the kill was applied again: {answer.ToJsonString()}");
            stats.Resent++;
            if (skipped > 0)
            {
                stats.ResentAlreadyApplied++;
            }

            acked.AddRange(batch);
        }

        pending.Clear();
    }

    private static string PushBody(List<Txn> batch)
    {
        var df = new JsonObject
        {
            ["account_id"] = new JsonArray([.. batch.Select(t => (JsonNode)t.Account)]),
            ["amount"] = new JsonArray([.. batch.Select(t => (JsonNode)t.Amount)]),
            ["seq"] = new JsonArray([.. batch.Select(t => (JsonNode)t.Seq)]),
            ["ts"] = new JsonArray([.. batch.Select(t => (JsonNode)t.Ts)]),
            ["idempotency_key"] = new JsonArray([.. batch.Select(t => (JsonNode)$"e{t.Seq}")]),
        };
        return new JsonObject { ["push_source_name"] = "txns", ["to"] = "online", ["df"] = df }.ToJsonString();
    }

    private static Dictionary<string, Expected> Expect(IEnumerable<Txn> events)
    {
        var expected = Enumerable.Range(0, Accounts).ToDictionary(i => $"acct{i}", _ => new Expected(0, 0, null), StringComparer.Ordinal);
        foreach (var t in events)
        {
            var e = expected[t.Account];
            expected[t.Account] = new Expected(e.Count + 1, e.Sum + t.Amount, e.Newest is null || t.Micros > e.Newest.Micros ? t : e.Newest);
        }

        return expected;
    }

    /// <summary>
    /// After a restart, before the pending pushes are re-sent: every acknowledged event is served (count and sum at
    /// least the acknowledged ones', the plain row at least as new as the newest acknowledged), and no more than was sent.
    /// </summary>
    private static async Task AssertAckedAreServedAsync(ServerProcess server, List<Txn> acked, List<Txn> sent, string when)
    {
        var low = Expect(acked);
        var high = Expect(sent);
        var served = await ReadAsync(server);
        var bySeq = sent.ToDictionary(t => t.Seq);
        var problems = new List<string>();
        foreach (var (account, s) in served)
        {
            if (s.Count < low[account].Count || s.Count > high[account].Count || s.Sum < low[account].Sum || s.Sum > high[account].Sum)
            {
                problems.Add($"{account}: served count {s.Count} sum {s.Sum}, acknowledged {low[account].Count}/{low[account].Sum}, sent {high[account].Count}/{high[account].Sum}");
            }

            var newestAcked = low[account].Newest;
            var row = s.Newest is null ? null : bySeq.GetValueOrDefault(s.Newest.Seq);
            if (s.Newest is not null && (row is null || row.Account != account || row.Amount != s.Newest.Amount))
            {
                problems.Add($"{account}: plain row seq {s.Newest.Seq} amount {s.Newest.Amount} was never sent");
            }
            else if (newestAcked is not null && (row is null || row.Micros < newestAcked.Micros))
            {
                problems.Add($"{account}: plain row seq {row?.Seq.ToString(CultureInfo.InvariantCulture) ?? "none"} is older than acknowledged seq {newestAcked.Seq}");
            }
        }

        Assert.True(problems.Count == 0, $"{when}:\n{string.Join('\n', problems.Take(30))}");
    }

    private static async Task<List<string>> MismatchesAsync(ServerProcess server, Dictionary<string, Expected> expected)
    {
        var problems = new List<string>();
        foreach (var (account, s) in await ReadAsync(server))
        {
            var e = expected[account];
            if (s.Count != e.Count || s.Sum != e.Sum)
            {
                problems.Add($"{account}: served count {s.Count} sum {s.Sum}, brute force {e.Count} {e.Sum}");
            }

            if (s.Newest?.Seq != e.Newest?.Seq || s.Newest?.Amount != e.Newest?.Amount)
            {
                problems.Add($"{account}: plain row seq {s.Newest?.Seq} amount {s.Newest?.Amount}, newest sent seq {e.Newest?.Seq} amount {e.Newest?.Amount}");
            }
        }

        return problems;
    }

    /// <summary>The served count, sum and plain row (its seq and amount; its time is not served) of every account.</summary>
    private static async Task<Dictionary<string, Expected>> ReadAsync(ServerProcess server)
    {
        var ids = Enumerable.Range(0, Accounts).Select(i => $"acct{i}").ToList();
        var request = new JsonObject
        {
            ["features"] = new JsonArray("txn_stats:count_1d", "txn_stats:amount_sum_1d", "last_txn:amount", "last_txn:seq"),
            ["entities"] = new JsonObject { ["account_id"] = new JsonArray([.. ids.Select(id => (JsonNode)id)]) },
        };
        var (status, body) = await server.PostAsync("/get-online-features", request.ToJsonString());
        Assert.True(status == 200, body?.ToJsonString());
        var results = body!["results"]!.AsArray();
        var served = new Dictionary<string, Expected>(StringComparer.Ordinal);
        for (var i = 0; i < ids.Count; i++)
        {
            var count = results[1]!["values"]![i] is { } c ? c.GetValue<long>() : 0;
            var sum = results[2]!["values"]![i] is { } s ? s.GetValue<double>() : 0;
            Txn? newest = null;
            if (results[4]!["statuses"]![i]!.GetValue<string>() == "PRESENT")
            {
                newest = new Txn(results[4]!["values"]![i]!.GetValue<long>(), ids[i], results[3]!["values"]![i]!.GetValue<double>(), long.MaxValue);
            }

            served[ids[i]] = new Expected(count, sum, newest);
        }

        return served;
    }
}
