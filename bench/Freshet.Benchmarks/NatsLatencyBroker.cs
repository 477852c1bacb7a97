using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Nats;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Freshet.Benchmarks;

/// <summary>
/// A real <c>nats-server -js</c> (from PATH) on 127.0.0.1 and a free port, with two file-backed streams: <c>TX</c>
/// (subject <c>tx.in</c>) read by <see cref="NatsEventSource"/>, <c>RAW</c> (<c>raw.in</c>) read by a plain durable
/// pull consumer (<c>ConsumeAsync</c>, the client's continuous pull). Both are sent with an acknowledged JetStream
/// publish on one connection. The server is killed by PID at the end.
/// </summary>
internal sealed class NatsLatencyBroker : LatencyBroker
{
    private readonly Process _server;
    private readonly string _storeDir;
    private readonly string _url;
    private readonly NatsConnection _connection;
    private readonly NatsJSContext _js;
    private readonly CancellationTokenSource _stop = new();
    private Task? _consumer;

    private NatsLatencyBroker(Process server, string storeDir, string url)
    {
        _server = server;
        _storeDir = storeDir;
        _url = url;
        _connection = new NatsConnection(NatsOpts.Default with { Url = url });
        _js = new NatsJSContext(_connection);
    }

    public override DataSource Definition => new NatsSource("tx", _url, "tx.in") { Stream = "TX" };

    public static async Task<NatsLatencyBroker> StartAsync()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var storeDir = Directory.CreateTempSubdirectory("freshet-bench-nats-").FullName;
        var info = new ProcessStartInfo("nats-server") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-js", "-a", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-sd", storeDir })
        {
            info.ArgumentList.Add(arg);
        }

        var server = Process.Start(info) ?? throw new InvalidOperationException("nats-server did not start (apt-get install nats-server)");
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        var broker = new NatsLatencyBroker(server, storeDir, $"nats://127.0.0.1:{port}");
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await broker._connection.ConnectAsync();
                break;
            }
            catch (NatsException) when (clock.Elapsed < TimeSpan.FromSeconds(15))
            {
                await Task.Delay(100);
            }
        }

        await broker._js.CreateStreamAsync(new StreamConfig("TX", ["tx.in"]) { Storage = StreamConfigStorage.File });
        await broker._js.CreateStreamAsync(new StreamConfig("RAW", ["raw.in"]) { Storage = StreamConfigStorage.File });
        return broker;
    }

    public override IEventSource OpenSource(Func<IReadOnlyList<string>, IReadOnlyDictionary<string, long?>> resumeFrom) =>
        new NatsEventSource((NatsSource)Definition, resumeFrom);

    public override async ValueTask SendAsync(bool raw, byte[] payload)
    {
        var ack = await _js.PublishAsync(raw ? "raw.in" : "tx.in", payload);
        ack.EnsureSuccess();
    }

    public override void StartRawConsumer(Action<byte[]> onMessage)
    {
        var token = _stop.Token;
        _consumer = Task.Run(async () =>
        {
            var consumer = await _js.CreateOrUpdateConsumerAsync("RAW", new ConsumerConfig("bench-raw") { AckPolicy = ConsumerConfigAckPolicy.None }, token);
            try
            {
                await foreach (var msg in consumer.ConsumeAsync(NatsRawSerializer<byte[]>.Default, cancellationToken: token))
                {
                    if (msg.Data is { Length: 8 } value)
                    {
                        onMessage(value);
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }
        });
    }

    public override async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_consumer is not null)
        {
            await _consumer;
        }

        await _connection.DisposeAsync();
        if (!_server.HasExited)
        {
            _server.Kill();
            await _server.WaitForExitAsync();
        }

        _server.Dispose();
        _stop.Dispose();
        Directory.Delete(_storeDir, recursive: true);
    }
}
