using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Freshet.Serving;
using Freshet.Values;
using HdrHistogram;

namespace Freshet.LoadGen;

/// <summary>How one push stream is shaped: rate, warm-up and measured time, and how long a probe waits.</summary>
internal sealed record PushShape(double Rate, TimeSpan Warmup, TimeSpan Duration, TimeSpan Timeout);

/// <summary>
/// Pushes events at a fixed open-loop rate through Freshet's HTTP <c>POST /push</c> and measures each one's
/// <b>freshness</b>: the time from the moment the push request is handed to the HTTP client (<c>t_send</c>) to the
/// completion of the first read that returns it (<c>t_seen</c>). One probe thread reads, back to back, every
/// pushed entity whose event it has not seen yet, in one request (<see cref="FeatureStore.GetOnlineFeaturesAsync"/>
/// in-process, on the store the server serves), yielding the CPU between reads and sleeping when nothing is
/// pending. A push counts as seen by
/// <list type="bullet">
/// <item>the plain view <c>latest</c> once it answers <c>seq</c> at least the pushed one (plain freshness), and</item>
/// <item>the aggregation view <c>tx_stats</c> once it answers a <c>count_1h</c> at least one more than the pushes to
/// that entity acknowledged before this one was sent (aggregate freshness).</item>
/// </list>
/// A read that starts before <c>t_send</c> never counts: a push joins the probe's list after <c>t_send</c>. An
/// acknowledged push not seen within the timeout is counted as <c>not_seen</c>; a push that fails is counted by
/// error kind and leaves the list. Each push owns one slot, so its freshness is recorded at most once, and exactly
/// once when it was acknowledged and seen. Sequence numbers and per-entity counts carry over from one run to the
/// next (the store keeps the events), so one probe serves a whole scenario.
/// </summary>
internal sealed class FreshnessProbe : IDisposable
{
    /// <summary>The push source of scenario <c>d</c>.</summary>
    public const string Source = "tx";

    /// <summary>Entities 1..N take the pushes in turn, so one entity is pushed every N / rate seconds.</summary>
    public const int ProbeEntities = 1_000;

    private readonly int _entities;

    private readonly HttpClient _pushClient;
    private readonly FeatureStore _store;
    private readonly long[] _acked;
    private readonly System.Collections.Concurrent.ConcurrentQueue<Pending> _incoming = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _poller;
    private volatile bool _stopping;
    private long _seq;

    public FreshnessProbe(HttpClient pushClient, FeatureStore store, int entities = ProbeEntities)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(entities);
        _pushClient = pushClient;
        _store = store;
        _entities = entities;
        _acked = new long[entities + 1];
        _poller = new Thread(Poll) { IsBackground = true, Name = "loadgen-freshness-probe" };
        _poller.Start();
    }

    /// <summary>Reads made by the probe so far.</summary>
    public long ProbeReads => Interlocked.Read(ref _probeReads);

    private long _probeReads;

    public async Task<FreshnessResult> RunAsync(PushShape shape, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shape.Rate);
        var warmupCount = (long)Math.Round(shape.Rate * shape.Warmup.TotalSeconds);
        var total = warmupCount + (long)Math.Round(shape.Rate * shape.Duration.TotalSeconds);
        var slots = new PushSlot[total];
        var tasks = new Task[total];
        var ticksPerPush = Stopwatch.Frequency / shape.Rate;
        var firstSeq = Interlocked.Add(ref _seq, total) - total + 1;

        var dispatcher = new Thread(() =>
        {
            var t0 = Stopwatch.GetTimestamp();
            for (long i = 0; i < total; i++)
            {
                var due = t0 + (long)(i * ticksPerPush);
                while (due - Stopwatch.GetTimestamp() > 0)
                {
                    Thread.Sleep(due - Stopwatch.GetTimestamp() > Stopwatch.Frequency / 1000 ? 1 : 0);
                }

                tasks[i] = PushAndProbeAsync(firstSeq + i, due, shape.Timeout, slots, i);
            }
        })
        { IsBackground = true, Name = "loadgen-pusher", Priority = ThreadPriority.AboveNormal };
        dispatcher.Start();
        await Task.Run(dispatcher.Join, cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(tasks).ConfigureAwait(false);

        var result = new FreshnessResult(shape.Rate);
        for (var i = warmupCount; i < total; i++)
        {
            result.Add(slots[i]);
        }

        return result;
    }

    /// <summary>The entity a sequence number is pushed to.</summary>
    public long EntityOf(long seq) => 1 + ((seq - 1) % _entities);

    private async Task PushAndProbeAsync(long seq, long due, TimeSpan timeout, PushSlot[] slots, long i)
    {
        await Task.Yield();
        var entity = EntityOf(seq);
        var expectedCount = Volatile.Read(ref _acked[entity]) + 1;
        var body = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $$$"""{"push_source_name": "{{{Source}}}", "df": {"user_id": [{{{entity}}}], "seq": [{{{seq}}}], "amount": [{{{seq % 100}}}.5], "ts": ["{{{DateTimeOffset.UtcNow:O}}}"]}}"""));
        using var cts = new CancellationTokenSource(timeout);
        var sent = Stopwatch.GetTimestamp();
        var pending = new Pending(entity, seq, expectedCount, sent, sent + (long)(timeout.TotalSeconds * Stopwatch.Frequency));
        var push = PushAsync(body, sent, cts.Token);
        _incoming.Enqueue(pending);
        _wake.Release();
        var (error, ackTicks) = await push.ConfigureAwait(false);
        pending.Failed = error is not null;
        if (error is null)
        {
            Interlocked.Increment(ref _acked[entity]);
        }

        await pending.Done.Task.ConfigureAwait(false);
        slots[i] = new PushSlot
        {
            SendLag = sent - due,
            PushError = error,
            PushTicks = ackTicks,
            PlainTicks = pending.PlainTicks,
            AggregateTicks = pending.AggregateTicks,
        };
    }

    private void Poll()
    {
        var list = new List<Pending>();
        while (!_stopping)
        {
            while (_incoming.TryDequeue(out var p))
            {
                list.Add(p);
            }

            if (list.Count == 0)
            {
                _wake.Wait(100);
                continue;
            }

            var ids = new FeatureValue[list.Count];
            for (var k = 0; k < list.Count; k++)
            {
                ids[k] = FeatureValue.FromInt64(list[k].Entity);
            }

            OnlineResponse? response = null;
            try
            {
                response = _store.GetOnlineFeaturesAsync(new OnlineRequest
                {
                    Features = ["latest:seq", "tx_stats:count_1h"],
                    Entities = new Dictionary<string, FeatureValue[]>(StringComparer.Ordinal) { ["user_id"] = ids },
                }).AsTask().GetAwaiter().GetResult();
                Interlocked.Increment(ref _probeReads);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A failed probe read sees nothing; the pushes stay pending until their deadline.
            }

            var now = Stopwatch.GetTimestamp();
            for (var k = list.Count - 1; k >= 0; k--)
            {
                var p = list[k];
                if (response is not null)
                {
                    if (p.PlainTicks == 0 && AtLeast(response, 1, k, p.Seq))
                    {
                        p.PlainTicks = now - p.Sent;
                    }

                    if (p.AggregateTicks == 0 && AtLeast(response, 2, k, p.ExpectedCount))
                    {
                        p.AggregateTicks = now - p.Sent;
                    }
                }

                if ((p.PlainTicks != 0 && p.AggregateTicks != 0) || p.Failed || now > p.Deadline)
                {
                    list.RemoveAt(k);
                    p.Done.TrySetResult();
                }
            }

            Thread.Yield();
        }

        foreach (var p in list)
        {
            p.Done.TrySetResult();
        }
    }

    private static bool AtLeast(OnlineResponse response, int column, int row, long value)
    {
        var c = response.Columns[column];
        if (c.Statuses[row] != FieldStatus.Present)
        {
            return false;
        }

        var v = c.Values[row];
        return (v.Kind == ValueKind.Int64 ? v.AsInt64() : (long)v.AsFloat64()) >= value;
    }

    private async Task<(string? Error, long Ticks)> PushAsync(byte[] body, long sent, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            using var content = new ByteArrayContent(body);
            content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            using var response = await _pushClient.PostAsync("/push", content, cancellationToken).ConfigureAwait(false);
            await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
            return (response.IsSuccessStatusCode ? null : $"http_{(int)response.StatusCode}", Stopwatch.GetTimestamp() - sent);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ("timeout", 0);
        }
        catch (Exception e) when (e is HttpRequestException or SocketException or IOException)
        {
            return (e is HttpRequestException { HttpRequestError: var kind } && kind != HttpRequestError.Unknown ? $"connection_{kind}" : "connection_error", 0);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return ($"exception_{e.GetType().Name}", 0);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _wake.Release();
        _poller.Join();
        _wake.Dispose();
    }

    /// <summary>A push the probe has not seen yet (Stopwatch ticks; 0 = not yet).</summary>
    private sealed class Pending(long entity, long seq, long expectedCount, long sent, long deadline)
    {
        public long Entity { get; } = entity;

        public long Seq { get; } = seq;

        public long ExpectedCount { get; } = expectedCount;

        public long Sent { get; } = sent;

        public long Deadline { get; } = deadline;

        public long PlainTicks { get; set; }

        public long AggregateTicks { get; set; }

        private volatile bool _failed;

        public bool Failed
        {
            get => _failed;
            set => _failed = value;
        }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>What happened to one push (Stopwatch ticks; 0 = never).</summary>
    internal sealed class PushSlot
    {
        public long SendLag { get; init; }

        public long PlainTicks { get; init; }

        public long AggregateTicks { get; init; }

        public long PushTicks { get; init; }

        public string? PushError { get; init; }
    }
}

/// <summary>
/// Freshness of the pushes of one run: every acknowledged push that was seen adds one value to
/// <see cref="Plain"/> and one to <see cref="Aggregate"/> (microseconds from send to the first read that returned
/// it); acknowledged pushes not seen within the timeout are <see cref="NotSeen"/>.
/// </summary>
internal sealed class FreshnessResult(double rate)
{
    private readonly SortedDictionary<string, long> _errors = new(StringComparer.Ordinal);

    public double Rate { get; } = rate;

    public long Scheduled { get; private set; }

    public long Acked { get; private set; }

    public long NotSeen { get; private set; }

    public LongHistogram Plain { get; } = new(OpenLoopRunner.HighestMicros, 3);

    public LongHistogram Aggregate { get; } = new(OpenLoopRunner.HighestMicros, 3);

    /// <summary>From send to the push's HTTP answer (acknowledged pushes).</summary>
    public LongHistogram PushLatency { get; } = new(OpenLoopRunner.HighestMicros, 3);

    public LongHistogram SendLag { get; } = new(OpenLoopRunner.HighestMicros, 3);

    public IReadOnlyDictionary<string, long> PushErrors => _errors;

    internal void Add(FreshnessProbe.PushSlot slot)
    {
        Scheduled++;
        SendLag.RecordValue(Math.Clamp(Micros(slot.SendLag), 0, OpenLoopRunner.HighestMicros));
        if (slot.PushError is not null)
        {
            _errors[slot.PushError] = _errors.GetValueOrDefault(slot.PushError) + 1;
            return;
        }

        Acked++;
        PushLatency.RecordValue(Math.Clamp(Micros(slot.PushTicks), 1, OpenLoopRunner.HighestMicros));
        if (slot.PlainTicks == 0 || slot.AggregateTicks == 0)
        {
            NotSeen++;
        }

        if (slot.PlainTicks != 0)
        {
            Plain.RecordValue(Math.Clamp(Micros(slot.PlainTicks), 1, OpenLoopRunner.HighestMicros));
        }

        if (slot.AggregateTicks != 0)
        {
            Aggregate.RecordValue(Math.Clamp(Micros(slot.AggregateTicks), 1, OpenLoopRunner.HighestMicros));
        }
    }

    public static double Ms(LongHistogram h, double percentile) => h.TotalCount == 0 ? double.NaN : h.GetValueAtPercentile(percentile) / 1000.0;

    public static double MaxMs(LongHistogram h) => h.TotalCount == 0 ? double.NaN : h.GetMaxValue() / 1000.0;

    private static long Micros(long ticks) => ticks * 1_000_000 / Stopwatch.Frequency;
}
