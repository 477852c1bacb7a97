using System.Text;
using Freshet.Governance;
using Freshet.Online;
using Freshet.Protos.Serving;
using Freshet.Protos.V1;
using Freshet.Registry;
using Freshet.Serving;
using Grpc.Net.Client;
using ProtoValue = Freshet.Protos.Types.Value;
using Tx = Freshet.Server.Tests.PushServerFixture.Tx;

namespace Freshet.Server.Tests;

/// <summary>
/// The server records in the audit log (a real file log in a temp directory): every push (HTTP, gRPC, each request
/// of a push stream) with the caller and address, and reads at the sample rate.
/// </summary>
public sealed class AuditTrailServerTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = PushServerFixture.T0;
    private readonly string _dir = Directory.CreateTempSubdirectory("freshet-audit-server-").FullName;
    private FeatureStore _store = null!;

    public async Task InitializeAsync()
    {
        var repo = PushServerFixture.Repo(TimeSpan.FromHours(1));
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", T0), 0);
        _store = await FeatureStore.OpenAsync(registry, new InMemoryOnlineStore(), repo.Config, ".",
            new FeatureStoreOptions { Clock = new ManualClock(T0.AddHours(1)), MaxEntityRows = 1000, MaxWriteRows = 1000 });
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<List<AuditRecord>> RecordsAsync(FileAuditLog log)
    {
        var records = new List<AuditRecord>();
        await foreach (var r in log.ReadAsync())
        {
            records.Add(r);
        }

        return records;
    }

    private static GetOnlineFeaturesRequest Read(string account)
    {
        var request = new GetOnlineFeaturesRequest { Features = new FeatureList { Val = { "last_tx:amount" } } };
        request.Entities.Add("account_id", PushServerFixture.Column([new ProtoValue { StringVal = account }]));
        return request;
    }

    [Fact]
    public async Task Pushes_are_recorded_with_caller_and_address_and_each_stream_request_once()
    {
        await using var log = new FileAuditLog(_dir);
        await using var server = await FreshetServer.StartAsync(_store, new FreshetServerOptions { Port = 0, GrpcPort = 0, AuditLog = log, AuditReadSampleRate = 0 });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}") };
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{server.GrpcPort}");
        var push = new PushService.PushServiceClient(channel);

        var body = """{"push_source_name": "tx", "to": "online", "df": {"account_id": ["a"], "amount": [1.5], "merchant": ["m"], "ts": ["2026-01-01T00:30:00Z"]}}""";
        using (var response = await http.PostAsync("/push", new StringContent(body, Encoding.UTF8, "application/json")))
        {
            Assert.Equal(200, (int)response.StatusCode);
        }

        // Refused by the request itself (an unknown push source): stated its access, so recorded with its status.
        using (var response = await http.PostAsync("/push", new StringContent(body.Replace("\"tx\"", "\"nope\"", StringComparison.Ordinal), Encoding.UTF8, "application/json")))
        {
            Assert.Equal(400, (int)response.StatusCode);
        }

        await push.PushAsync(PushServerFixture.Request([new Tx("b", 2, T0.AddMinutes(40))]));

        using (var stream = push.PushStream())
        {
            await stream.RequestStream.WriteAsync(PushServerFixture.Request([new Tx("c", 3, T0.AddMinutes(41))], requestId: "r1"));
            await stream.RequestStream.WriteAsync(new PushRequest { RequestId = "bad" });
            await stream.RequestStream.WriteAsync(PushServerFixture.Request([new Tx("d", 4, T0.AddMinutes(42))], requestId: "r3"));
            await stream.RequestStream.CompleteAsync();
            var acks = 0;
            while (await stream.ResponseStream.MoveNext(CancellationToken.None))
            {
                acks++;
            }

            Assert.Equal(3, acks);
        }

        // Reads at rate 0 are not recorded.
        var serving = new ServingService.ServingServiceClient(channel);
        for (var i = 0; i < 5; i++)
        {
            await serving.GetOnlineFeaturesAsync(Read("a"));
        }

        var records = await RecordsAsync(log);
        Assert.Equal(["/push", "/push", "/freshet.v1.PushService/Push", "/freshet.v1.PushService/PushStream", "/freshet.v1.PushService/PushStream"],
            records.Select(r => r.Entry.Details["endpoint"]));
        Assert.All(records, r =>
        {
            Assert.Equal("anonymous", r.Entry.Actor);
            Assert.Equal("write_online", r.Entry.Action);
            Assert.Equal("127.0.0.1", r.Entry.Remote);
            Assert.Equal("1", r.Entry.Details["registry_version"]);
        });
        Assert.Equal(["200", "400", "OK", "OK", "OK"], records.Select(r => r.Entry.Status));
        Assert.Equal([new AuditObject("push_source", "tx"), new AuditObject("feature_view", "last_tx"), new AuditObject("aggregation_view", "tx_stats")], records[0].Entry.Objects);
        Assert.True((await log.VerifyAsync()).IsValid);
    }

    [Fact]
    public async Task Reads_at_sample_rate_one_are_all_recorded_over_http_and_grpc()
    {
        await using var log = new FileAuditLog(_dir);
        await using var server = await FreshetServer.StartAsync(_store, new FreshetServerOptions { Port = 0, GrpcPort = 0, AuditLog = log, AuditReadSampleRate = 1 });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}") };
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{server.GrpcPort}");
        var serving = new ServingService.ServingServiceClient(channel);
        for (var i = 0; i < 3; i++)
        {
            await serving.GetOnlineFeaturesAsync(Read("a"));
            using var response = await http.PostAsync("/get-online-features",
                new StringContent("""{"features": ["last_tx:amount"], "entities": {"account_id": ["a"]}}""", Encoding.UTF8, "application/json"));
            Assert.Equal(200, (int)response.StatusCode);
        }

        // Metadata reads are not recorded.
        using (await http.GetAsync("/freshness"))
        {
        }

        var records = await RecordsAsync(log);
        Assert.Equal(6, records.Count);
        Assert.All(records, r =>
        {
            Assert.Equal("read_online", r.Entry.Action);
            Assert.Equal([new AuditObject("feature_view", "last_tx")], r.Entry.Objects);
        });
        Assert.Equal(3, records.Count(r => r.Entry.Details["endpoint"] == "/get-online-features"));
    }
}
