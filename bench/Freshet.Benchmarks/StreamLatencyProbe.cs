using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.RocksDb;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Benchmarks;

/// <summary>
/// Broker → visible latency (<c>-- stream-latency kafka|nats [samples] [max-pause-ms] [kafka fetch.wait.max.ms]</c>): a <see cref="StreamProcessor"/>
/// runs <see cref="StreamProcessor.RunAsync"/> in process over embedded RocksDB, reading the broker through Freshet's
/// event source. One sample sends one event (a random one of 1,000 accounts, event time 1 ms before now) to the broker
/// and reads <c>tx_stats:count_1h</c> through <see cref="FeatureStore.GetOnlineFeaturesAsync"/> until the account's count
/// includes it. Interleaved with it, in the same run and through the same broker and producer, the baseline sample sends
/// one message to a second topic (or subject) that a plain client consumer reads: raw produce → consume. Samples are
/// paced, not a flood: after each send a pause drawn uniformly from 0 to max-pause ms (default 50), so that sends do not
/// lock onto the phase of a consumer's poll cycle (a fixed pause would always send at the same point of it).
/// </summary>
internal static class StreamLatencyProbe
{
    private const int Entities = 1_000;
    private const int Warmup = 200;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(240);

    public static async Task<int> RunAsync(string[] args)
    {
        var kind = args.Length > 1 ? args[1] : "kafka";
        var samples = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1_000;
        var maxPause = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 50;
        var pauses = new Random(7);
        Console.WriteLine($"load average before: {LoadAverage()}");
        await using LatencyBroker broker = kind switch
        {
            "kafka" => KafkaLatencyBroker.Start(args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : null),
            "nats" => await NatsLatencyBroker.StartAsync(),
            _ => throw new ArgumentException($"unknown broker '{kind}': expected kafka or nats"),
        };

        var directory = Directory.CreateTempSubdirectory("freshet-bench-").FullName;
        var online = RocksDbOnlineStore.Open(directory);
        var deadLetters = new DeadLetterSink(await OnlineDeadLetterStore.OpenAsync(online));
        var store = await StreamingScenario.OpenAsync(online, broker.Definition, deadLetters);
        var processor = new StreamProcessor(store, broker.Definition.Name, deadLetters);
        var source = broker.OpenSource(processor.ResumeFrom);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => processor.RunAsync(source, 1000, null, stop.Token));

        // The baseline consumer stamps each message's arrival by its sequence number.
        var arrived = new long[Warmup + samples + 1];
        broker.StartRawConsumer(payload =>
        {
            var id = BinaryPrimitives.ReadInt64LittleEndian(payload);
            if (id >= 0 && id < arrived.Length)
            {
                Volatile.Write(ref arrived[id], Stopwatch.GetTimestamp());
            }
        });

        try
        {
            var counts = new long[Entities];
            var random = new Random(20261129);
            var freshet = new List<long>(samples);
            var raw = new List<long>(samples);
            var reads = 0L;
            var total = Stopwatch.StartNew();
            for (var i = 0; i < Warmup + samples && total.Elapsed < Budget; i++)
            {
                // The first samples wait for the consumers to join and for the topics to exist.
                var limit = i < Warmup ? TimeSpan.FromSeconds(60) : TimeSpan.FromSeconds(5);

                var entity = random.Next(Entities);
                var expected = ++counts[entity];
                var ts = ((DateTimeOffset.UtcNow.AddMilliseconds(-1) - DateTimeOffset.UnixEpoch).Ticks / 10 / 1e6).ToString("F6", CultureInfo.InvariantCulture);
                var json = Encoding.UTF8.GetBytes($$"""{"account_id":"acct{{entity}}","amount":1.5,"ts":{{ts}}}""");
                var request = new OnlineRequest
                {
                    Features = ["tx_stats:count_1h"],
                    Entities = new Dictionary<string, FeatureValue[]> { ["account_id"] = [FeatureValue.FromString($"acct{entity}")] },
                };

                var start = Stopwatch.GetTimestamp();
                await broker.SendAsync(raw: false, json);
                while (true)
                {
                    reads++;
                    var response = await store.GetOnlineFeaturesAsync(request);
                    if (response.Columns[1].Statuses[0] == FieldStatus.Present && response.Columns[1].Values[0].AsInt64() >= expected)
                    {
                        break;
                    }

                    Fail(start, limit, $"event {i} not visible (count {response.Columns[1].Values[0]}, expected {expected})");

                    // Reads spin, but give the core away to the processor and client threads whenever they are runnable.
                    Thread.Yield();
                }

                if (i >= Warmup)
                {
                    freshet.Add(Stopwatch.GetTimestamp() - start);
                }

                await Task.Delay(pauses.Next(maxPause + 1));

                var id = new byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(id, i);
                start = Stopwatch.GetTimestamp();
                await broker.SendAsync(raw: true, id);
                while (Volatile.Read(ref arrived[i]) == 0)
                {
                    Fail(start, limit, $"raw message {i} not consumed");
                    Thread.Yield();
                }

                if (i >= Warmup)
                {
                    raw.Add(Volatile.Read(ref arrived[i]) - start);
                }

                await Task.Delay(pauses.Next(maxPause + 1));
            }

            Console.WriteLine($"{kind}{(args.Length > 4 ? $" (fetch.wait.max.ms={args[4]})" : "")}: {freshet.Count} samples per path after {Warmup} warm-up, pause 0-{maxPause} ms after each send, {reads} feature reads, {total.Elapsed.TotalSeconds:F1} s");
            var a = Summary($"{kind} -> visible (StreamProcessor, RocksDB)", freshet);
            var b = Summary($"{kind} produce -> consume (raw client)", raw);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio visible / raw: p50 {a[0] / b[0]:F2}  p90 {a[1] / b[1]:F2}  p99 {a[2] / b[2]:F2}"));
            Console.WriteLine($"load average after: {LoadAverage()}");
            return 0;
        }
        finally
        {
            await stop.CancelAsync();
            await run;
            await source.DisposeAsync();
            await store.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static void Fail(long start, TimeSpan limit, string what)
    {
        if (Stopwatch.GetElapsedTime(start) > limit)
        {
            throw new TimeoutException($"{what} after {limit.TotalSeconds} s");
        }
    }

    /// <summary>Prints p50, p90, p99, p99.9 and max (nearest rank) and returns p50, p90, p99 in ms.</summary>
    private static double[] Summary(string label, List<long> ticks)
    {
        ticks.Sort();
        double Ms(long t) => t * 1000.0 / Stopwatch.Frequency;
        double At(double q) => Ms(ticks[Math.Min(ticks.Count - 1, (int)Math.Ceiling(q * ticks.Count) - 1)]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}: p50 {At(0.50):F3} ms  p90 {At(0.90):F3} ms  p99 {At(0.99):F3} ms  p99.9 {At(0.999):F3} ms  max {Ms(ticks[^1]):F3} ms"));
        return [At(0.50), At(0.90), At(0.99)];
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
}

/// <summary>A broker for <see cref="StreamLatencyProbe"/>: Freshet's source over one topic, a plain consumer over another.</summary>
internal abstract class LatencyBroker : IAsyncDisposable
{
    /// <summary>The source definition Freshet reads (name <c>tx</c>).</summary>
    public abstract DataSource Definition { get; }

    /// <summary>Freshet's event source for <see cref="Definition"/>.</summary>
    public abstract IEventSource OpenSource(Func<IReadOnlyList<string>, IReadOnlyDictionary<string, long?>> resumeFrom);

    /// <summary>Sends one message to Freshet's topic, or to the baseline's when <paramref name="raw"/>, with the same producer.</summary>
    public abstract ValueTask SendAsync(bool raw, byte[] payload);

    /// <summary>Starts the baseline consumer, which calls <paramref name="onMessage"/> as each message arrives.</summary>
    public abstract void StartRawConsumer(Action<byte[]> onMessage);

    public abstract ValueTask DisposeAsync();
}
