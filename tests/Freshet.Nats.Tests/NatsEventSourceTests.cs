using System.Diagnostics;
using System.Text;
using Freshet.Ingestion;
using Freshet.Model;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Freshet.Nats.Tests;

public sealed class NatsEventSourceTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly NatsServer? _server = NatsServer.Executable is null ? null : new NatsServer();
    private readonly Dictionary<string, long> _stored = new(StringComparer.Ordinal);
    private readonly List<SourceEvent> _applied = [];

    public void Dispose() => _server?.Dispose();

    private NatsServer Server => _server!;

    private NatsSource Source(string subject) => new("txns", Server.Url, subject);

    private IReadOnlyDictionary<string, long?> ResumeFrom(IReadOnlyList<string> partitions)
    {
        var result = new Dictionary<string, long?>(StringComparer.Ordinal);
        foreach (var p in partitions)
        {
            result[p] = _stored.TryGetValue(p, out var n) ? n : null;
        }

        return result;
    }

    // Stands in for the processor's atomic write: each event must be the next of its partition.
    private Dictionary<string, long> Store(IEnumerable<SourceEvent> batch)
    {
        foreach (var e in batch)
        {
            var expected = _stored.TryGetValue(e.Partition, out var n) ? n : 1;
            Assert.True(e.Offset == expected, $"{e.Partition}: expected sequence {expected}, got {e.Offset}");
            _stored[e.Partition] = e.Offset + 1;
            _applied.Add(e);
        }

        return new Dictionary<string, long>(_stored, StringComparer.Ordinal);
    }

    private async Task Publish(string subject, int from, int count)
    {
        await using var connection = new NatsConnection(NatsOpts.Default with { Url = Server.Url });
        var js = new NatsJSContext(connection);
        for (var i = from; i < from + count; i++)
        {
            var ack = await js.PublishAsync(subject, Encoding.UTF8.GetBytes($$"""{"account_id":"a{{i % 3}}","seq":{{i}},"ts":{{1767225600 + i}}}"""));
            ack.EnsureSuccess();
        }
    }

    /// <summary>
    /// Polls an empty source until its stream exists: the first poll creates it, and under load that can take
    /// longer than one short poll, after which a publish would find no stream to answer it.
    /// </summary>
    private async Task Started(NatsEventSource source, string subject)
    {
        await using var connection = new NatsConnection(NatsOpts.Default with { Url = Server.Url });
        var js = new NatsJSContext(connection);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            Assert.Empty(await source.PollAsync(1, TimeSpan.FromMilliseconds(200), CancellationToken.None));
            await foreach (var _ in js.ListStreamNamesAsync(subject: subject))
            {
                return;
            }

            Assert.True(clock.Elapsed < Bound, $"the source created no stream for {subject} (last error: {source.LastError?.Message})");
        }
    }

    private async Task PollUntil(NatsEventSource source, int count)
    {
        var clock = Stopwatch.StartNew();
        while (_applied.Count < count)
        {
            Assert.True(clock.Elapsed < Bound, $"timed out with {_applied.Count} of {count} events applied (last error: {source.LastError?.Message})");
            var batch = await source.PollAsync(25, TimeSpan.FromMilliseconds(200), CancellationToken.None);
            await source.AcknowledgeAsync(Store(batch), CancellationToken.None);
        }
    }

    private static int Seq(SourceEvent e) => int.Parse(System.Text.Json.JsonDocument.Parse(e.Value).RootElement.GetProperty("seq").GetRawText(), System.Globalization.CultureInfo.InvariantCulture);

    [NatsFact]
    public async Task Creates_the_stream_and_consumes_every_event_once_in_order()
    {
        await using var source = new NatsEventSource(Source("txns.in"), ResumeFrom);
        Assert.Empty(await source.PollAsync(10, TimeSpan.FromMilliseconds(50), CancellationToken.None));
        Assert.Equal("freshet_txns", source.Stream);

        await Publish("txns.in", 0, 100);
        await PollUntil(source, 100);
        Assert.Empty(await source.PollAsync(10, TimeSpan.FromMilliseconds(300), CancellationToken.None));

        Assert.Equal(Enumerable.Range(0, 100), _applied.Select(Seq));
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), _applied.Select(e => e.Offset));
        Assert.All(_applied, e => Assert.Equal("freshet_txns", e.Partition));
        Assert.All(_applied, e => Assert.NotNull(e.BrokerTimestamp));
    }

    [NatsFact]
    public async Task Resumes_from_the_stored_positions_not_the_consumer_state()
    {
        var source = Source("pay.in") with { Stream = "PAYMENTS", Durable = "pay-proc" };
        await using (var first = new NatsEventSource(source, ResumeFrom))
        {
            await Started(first, "pay.in");
            await Publish("pay.in", 0, 100);

            // Polls and acks to the broker more than it stores before it "crashes".
            var clock = Stopwatch.StartNew();
            var polled = new List<SourceEvent>();
            while (polled.Count < 70)
            {
                Assert.True(clock.Elapsed < Bound, "timed out");
                var batch = await first.PollAsync(20, TimeSpan.FromMilliseconds(200), CancellationToken.None);
                polled.AddRange(batch);
                if (batch.Count > 0)
                {
                    await first.AcknowledgeAsync(new Dictionary<string, long> { ["PAYMENTS"] = batch[^1].Offset + 1 }, CancellationToken.None);
                }
            }

            Store(polled.Take(40));
        }

        await using (var second = new NatsEventSource(source, ResumeFrom))
        {
            await PollUntil(second, 100);
            Assert.Empty(await second.PollAsync(10, TimeSpan.FromMilliseconds(300), CancellationToken.None));
        }

        Assert.Equal(Enumerable.Range(0, 100), _applied.Select(Seq));
    }

    [NatsFact]
    public async Task Consumption_resumes_after_a_server_restart()
    {
        await using var source = new NatsEventSource(Source("clicks.in"), ResumeFrom);
        await Started(source, "clicks.in");
        await Publish("clicks.in", 0, 50);
        await PollUntil(source, 20);

        Server.Kill();
        var clock = Stopwatch.StartNew();
        var down = await source.PollAsync(10, TimeSpan.FromMilliseconds(200), CancellationToken.None);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"a poll against a stopped server took {clock.Elapsed}");
        Store(down);
        Server.Start();

        clock.Restart();
        while (true)
        {
            try
            {
                await Publish("clicks.in", 50, 50);
                break;
            }
            catch (NatsException) when (clock.Elapsed < Bound)
            {
                // JetStream is still recovering its store.
                await Task.Delay(200);
            }
        }

        await PollUntil(source, 100);
        Assert.Empty(await source.PollAsync(10, TimeSpan.FromMilliseconds(300), CancellationToken.None));
        Assert.Equal(Enumerable.Range(0, 100), _applied.Select(Seq));
    }

    [NatsFact]
    public async Task A_named_stream_that_does_not_capture_the_subject_is_a_configuration_error()
    {
        await using (var connection = new NatsConnection(NatsOpts.Default with { Url = Server.Url }))
        {
            var js = new NatsJSContext(connection);
            await js.CreateStreamAsync(new NATS.Client.JetStream.Models.StreamConfig("OTHER", ["other.>"]));
        }

        await using var source = new NatsEventSource(Source("txns.in") with { Stream = "OTHER" }, ResumeFrom);
        var error = await Assert.ThrowsAsync<NatsJSApiException>(async () => await source.PollAsync(1, TimeSpan.FromSeconds(2), CancellationToken.None));
        Assert.Equal(400, error.Error.Code);
    }
}
