using System.Text.RegularExpressions;
using Confluent.Kafka;
using Freshet.Ingestion;
using Freshet.Kafka;
using Freshet.Model;

namespace Freshet.Benchmarks;

/// <summary>
/// librdkafka's mock cluster (3 brokers, the real protocol over TCP on 127.0.0.1) with one producer (<c>acks=all</c>,
/// <c>linger.ms=0</c>) for both topics: <c>tx</c> read by <see cref="KafkaEventSource"/>, <c>raw</c> by a plain consumer
/// with the same group protocol and offset settings.
/// </summary>
internal sealed partial class KafkaLatencyBroker : LatencyBroker
{
    private readonly IProducer<byte[], byte[]> _cluster;
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly string _bootstrap;
    private readonly Dictionary<string, string> _settings;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _consumer;

    private KafkaLatencyBroker(IProducer<byte[], byte[]> cluster, string bootstrap, Dictionary<string, string> settings)
    {
        _cluster = cluster;
        _bootstrap = bootstrap;
        _settings = settings;
        _producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, LingerMs = 0 }).Build();

        // Topics are created on first use; create both before anyone subscribes.
        _producer.Produce("tx", new Message<byte[], byte[]> { Value = "{}"u8.ToArray() });
        _producer.Produce("raw", new Message<byte[], byte[]> { Value = BitConverter.GetBytes(-1L) });
        _producer.Flush(TimeSpan.FromSeconds(30));
    }

    public override DataSource Definition => new KafkaSource("tx", _bootstrap, "tx");

    /// <summary>
    /// Starts the mock cluster: it lives as long as the producer that created it. <paramref name="fetchWaitMs"/>, when
    /// given, sets <c>fetch.wait.max.ms</c> on both consumers: the mock answers a fetch only when that wait ends,
    /// not when a message arrives (a real broker answers at once), so the default 500 ms is most of every sample.
    /// </summary>
    public static KafkaLatencyBroker Start(int? fetchWaitMs)
    {
        var address = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var config = new ProducerConfig { BootstrapServers = "unused:9092" };
        config.Set("test.mock.num.brokers", "3");
        var cluster = new ProducerBuilder<byte[], byte[]>(config)
            .SetLogHandler((_, m) =>
            {
                if (Replaced().Match(m.Message) is { Success: true } match)
                {
                    address.TrySetResult(match.Groups[1].Value);
                }
            })
            .Build();
        if (!address.Task.Wait(TimeSpan.FromSeconds(10)))
        {
            cluster.Dispose();
            throw new InvalidOperationException("the mock cluster did not log its bootstrap address");
        }

        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        if (fetchWaitMs is { } wait)
        {
            settings["fetch.wait.max.ms"] = wait.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return new KafkaLatencyBroker(cluster, address.Task.Result, settings);
    }

    public override IEventSource OpenSource(Func<IReadOnlyList<string>, IReadOnlyDictionary<string, long?>> resumeFrom) =>
        new KafkaEventSource((KafkaSource)Definition, resumeFrom, new KafkaEventSourceOptions { Settings = _settings });

    public override ValueTask SendAsync(bool raw, byte[] payload)
    {
        // Not awaited: the sample ends when the message is seen, and waiting for the ack first would add a round trip.
        _producer.Produce(raw ? "raw" : "tx", new Message<byte[], byte[]> { Value = payload });
        return ValueTask.CompletedTask;
    }

    public override void StartRawConsumer(Action<byte[]> onMessage)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = _bootstrap,
            GroupId = "bench-raw",
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            GroupProtocol = GroupProtocol.Consumer,
        };
        foreach (var (key, value) in _settings)
        {
            config.Set(key, value);
        }

        var token = _stop.Token;
        _consumer = new Thread(() =>
        {
            using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
            consumer.Subscribe("raw");
            while (!token.IsCancellationRequested)
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { Message.Value: { Length: 8 } value })
                {
                    onMessage(value);
                }
            }

            consumer.Close();
        })
        { IsBackground = true, Name = "raw kafka consumer" };
        _consumer.Start();
    }

    public override async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _consumer?.Join(TimeSpan.FromSeconds(30));
        _producer.Dispose();
        _cluster.Dispose();
        _stop.Dispose();
    }

    [GeneratedRegex(@"replaced with (\S+?:\d+)")]
    private static partial Regex Replaced();
}
