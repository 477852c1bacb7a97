using System.Text;
using System.Text.RegularExpressions;
using Confluent.Kafka;

namespace Freshet.Kafka.Tests;

/// <summary>
/// librdkafka's in-process mock cluster (3 brokers, real Kafka protocol over TCP on 127.0.0.1): it lives
/// as long as the producer that created it, and topics are auto-created with 4 partitions.
/// </summary>
internal sealed partial class MockCluster : IDisposable
{
    public const int Partitions = 4;

    private readonly IProducer<byte[], byte[]> _producer;

    public MockCluster()
    {
        var address = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var config = new ProducerConfig { BootstrapServers = "unused:9092", Acks = Acks.All };
        config.Set("test.mock.num.brokers", "3");
        _producer = new ProducerBuilder<byte[], byte[]>(config)
            .SetLogHandler((_, m) =>
            {
                var match = Replaced().Match(m.Message);
                if (match.Success)
                {
                    address.TrySetResult(match.Groups[1].Value);
                }
            })
            .Build();
        if (!address.Task.Wait(TimeSpan.FromSeconds(10)))
        {
            _producer.Dispose();
            throw new InvalidOperationException("the mock cluster did not log its bootstrap address");
        }

        BootstrapServers = address.Task.Result;
    }

    public string BootstrapServers { get; }

    /// <summary>Produces <paramref name="perPartition"/> JSON events to every partition; returns their count.</summary>
    public int ProduceJson(string topic, int perPartition, int start = 0)
    {
        var count = 0;
        for (var i = start; i < start + perPartition; i++)
        {
            for (var p = 0; p < Partitions; p++)
            {
                var json = $$"""{"account_id":"a{{p}}","seq":{{i}},"partition":{{p}},"ts":"2026-01-01T00:00:{{i % 60:00}}Z"}""";
                _producer.Produce(new TopicPartition(topic, new Partition(p)), new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes($"a{p}"), Value = Encoding.UTF8.GetBytes(json) });
                count++;
            }
        }

        if (_producer.Flush(TimeSpan.FromSeconds(20)) != 0)
        {
            throw new InvalidOperationException("the mock cluster did not acknowledge every event");
        }

        return count;
    }

    /// <summary>Produces each value to its partition and waits until the cluster acknowledged all of them.</summary>
    public void Produce(string topic, IEnumerable<(int Partition, byte[] Value)> events)
    {
        foreach (var (partition, value) in events)
        {
            _producer.Produce(new TopicPartition(topic, new Partition(partition)), new Message<byte[], byte[]> { Value = value });
        }

        if (_producer.Flush(TimeSpan.FromSeconds(20)) != 0)
        {
            throw new InvalidOperationException("the mock cluster did not acknowledge every event");
        }
    }

    public void Dispose() => _producer.Dispose();

    [GeneratedRegex(@"replaced with (\S+?:\d+)")]
    private static partial Regex Replaced();
}
