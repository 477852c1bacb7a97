using System.Text;
using BenchmarkDotNet.Attributes;
using Freshet.Protos.Types;
using Freshet.Protos.V1;
using Freshet.Server;
using Freshet.Serving;
using Freshet.Values;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using ProtoValue = Freshet.Protos.Types.Value;

namespace Freshet.Benchmarks;

/// <summary>
/// The same rows pushed to an in-process <see cref="FreshetServer"/> on 127.0.0.1 three ways: <c>POST /push</c>
/// (one keep-alive <see cref="HttpClient"/>, one request after the other), the unary gRPC <c>Push</c> (one call
/// after the other) and one gRPC <c>PushStream</c> with the requests pipelined (written while acks are read).
/// One invocation pushes <see cref="Messages"/> messages of <see cref="RowsPerMessage"/> rows of the streaming
/// scenario (10,000 events over 1,000 accounts); every answer is checked. Times are per row.
/// </summary>
[MemoryDiagnoser]
public class PushTransportBenchmarks
{
    private const int Messages = 100;
    private const int RowsPerMessage = 100;
    private const int Entities = 1_000;

    private FeatureStore _store = null!;
    private RunningServer _server = null!;
    private HttpClient _http = null!;
    private GrpcChannel _channel = null!;
    private PushService.PushServiceClient _client = null!;
    private byte[][] _json = null!;
    private PushRequest[] _proto = null!;
    private string? _directory;

    /// <summary>The online store: memory or RocksDB (temp directory).</summary>
    [Params("memory", "rocksdb")]
    public string Store { get; set; } = "memory";

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _store = await StreamingScenario.OpenAsync(StreamingScenario.OpenOnline(Store, ref _directory));
        _server = await FreshetServer.StartAsync(_store, new FreshetServerOptions { Port = 0, GrpcPort = 0 });
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_server.HttpPort}") };
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_server.GrpcPort}");
        _client = new PushService.PushServiceClient(_channel);

        var rows = StreamingScenario.Rows(Messages * RowsPerMessage, Entities, DateTimeOffset.UtcNow, 20261129);
        var ids = rows.Column("account_id")!;
        var amounts = rows.Column("amount")!;
        var times = rows.Column("ts")!;
        _json = new byte[Messages][];
        _proto = new PushRequest[Messages];
        for (var m = 0; m < Messages; m++)
        {
            var range = Enumerable.Range(m * RowsPerMessage, RowsPerMessage).ToList();
            _json[m] = Encoding.UTF8.GetBytes(
                "{\"push_source_name\":\"tx\",\"df\":{\"account_id\":[" + string.Join(',', range.Select(i => $"\"{ids[i].AsString()}\""))
                + "],\"amount\":[" + string.Join(',', range.Select(i => amounts[i].AsFloat64().ToString("R", System.Globalization.CultureInfo.InvariantCulture)))
                + "],\"ts\":[" + string.Join(',', range.Select(i => $"\"{Micros.ToRfc3339(times[i].TimestampMicros)}\"")) + "]}}");
            var request = new PushRequest { PushSourceName = StreamingScenario.Source };
            request.Columns.Add("account_id", new RepeatedValue { Val = { range.Select(i => new ProtoValue { StringVal = ids[i].AsString() }) } });
            request.Columns.Add("amount", new RepeatedValue { Val = { range.Select(i => new ProtoValue { DoubleVal = amounts[i].AsFloat64() }) } });
            request.TimestampColumns.Add("ts", new Protos.V1.TimestampList { Val = { range.Select(i => Timestamp.FromDateTimeOffset(Micros.ToDateTimeOffset(times[i].TimestampMicros))) } });
            _proto[m] = request;
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _channel.Dispose();
        _http.Dispose();
        await _server.DisposeAsync();
        await _store.DisposeAsync();
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Benchmark(Baseline = true, Description = "HTTP POST /push", OperationsPerInvoke = Messages * RowsPerMessage)]
    public async Task HttpPush()
    {
        foreach (var body in _json)
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new("application/json");
            using var response = await _http.PostAsync("/push", content);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"push answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
        }
    }

    [Benchmark(Description = "gRPC Push (unary)", OperationsPerInvoke = Messages * RowsPerMessage)]
    public async Task GrpcUnary()
    {
        foreach (var request in _proto)
        {
            Check(await _client.PushAsync(request));
        }
    }

    [Benchmark(Description = "gRPC PushStream (pipelined)", OperationsPerInvoke = Messages * RowsPerMessage)]
    public async Task GrpcStream()
    {
        using var call = _client.PushStream();
        var writer = Task.Run(async () =>
        {
            foreach (var request in _proto)
            {
                await call.RequestStream.WriteAsync(request);
            }

            await call.RequestStream.CompleteAsync();
        });
        var acks = 0;
        await foreach (var ack in call.ResponseStream.ReadAllAsync())
        {
            Check(ack);
            acks++;
        }

        await writer;
        if (acks != Messages)
        {
            throw new InvalidOperationException($"{acks} acks for {Messages} requests");
        }
    }

    private static void Check(PushAck ack)
    {
        if (ack.Error is not null || ack.EventsAggregated != RowsPerMessage)
        {
            throw new InvalidOperationException($"push not applied: {ack}");
        }
    }
}
