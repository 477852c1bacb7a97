using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Protos.Serving;
using Freshet.Protos.Types;
using Freshet.Protos.V1;
using Freshet.Registry;
using Freshet.Serving;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;
using Grpc.Net.Client;
using ProtoValue = Freshet.Protos.Types.Value;

namespace Freshet.Server.Tests;

/// <summary>
/// A server on 127.0.0.1 (free ports, in-memory store, manual clock) over a push source <c>tx</c> that feeds a
/// plain view <c>last_tx</c> and an aggregation view <c>tx_stats</c>, with gRPC clients for push and reads.
/// </summary>
public sealed class PushServerFixture : IAsyncLifetime
{
    public static readonly DateTimeOffset T0 = ServerFixture.T0;

    private readonly TimeSpan _idempotencyWindow;
    private readonly bool _rocksDb;
    private string? _directory;

    /// <summary>A fixture over the in-memory store, or over embedded RocksDB in a temp directory.</summary>
    public PushServerFixture(TimeSpan? idempotencyWindow = null, bool rocksDb = false)
    {
        _idempotencyWindow = idempotencyWindow ?? RepoConfig.DefaultIdempotencyWindow;
        _rocksDb = rocksDb;
    }

    public ManualClock Clock { get; } = new(T0.AddHours(1));

    public FeatureStore Store { get; private set; } = null!;

    public RunningServer Server { get; private set; } = null!;

    public GrpcChannel Channel { get; private set; } = null!;

    public PushService.PushServiceClient Push { get; private set; } = null!;

    public ServingService.ServingServiceClient Serving { get; private set; } = null!;

    public static FeatureRepoDefinition Repo(TimeSpan idempotencyWindow) => new RepoBuilder("push_test")
        .Configure(c => c with { IdempotencyWindow = idempotencyWindow })
        .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
        .Add(new PushSource("tx")
        {
            TimestampField = "ts",
            Schema =
            [
                new("account_id", FeatureType.Of(ScalarKind.String)),
                new("amount", FeatureType.Of(ScalarKind.Float64)),
                new("merchant", FeatureType.Of(ScalarKind.String)),
                new("ts", FeatureType.Of(ScalarKind.Timestamp)),
            ],
        })
        .Add(new FeatureView("last_tx", ["account"], "tx",
        [
            new Field("amount", FeatureType.Of(ScalarKind.Float64)),
            new Field("merchant", FeatureType.Of(ScalarKind.String)),
        ]))
        .Add(new AggregationView("tx_stats", ["account"], "tx",
        [
            new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)),
            new Model.Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromDays(1)),
        ]))
        .Build()
        .GetValueOrThrow();

    public async Task InitializeAsync()
    {
        var repo = Repo(_idempotencyWindow);
        var registry = new InMemoryRegistryStore();
        var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
        await registry.CommitAsync(RegistryPlanner.Apply(null, plan, "test", T0), 0);
        _directory = _rocksDb ? Directory.CreateTempSubdirectory("freshet-push-test-").FullName : null;
        IOnlineStore online = _directory is null ? new InMemoryOnlineStore() : RocksDb.RocksDbOnlineStore.Open(_directory);
        Store = await FeatureStore.OpenAsync(registry, online, repo.Config, ".",
            new FeatureStoreOptions { Clock = Clock, MaxEntityRows = 1000, MaxWriteRows = 1000 });
        Server = await FreshetServer.StartAsync(Store, new FreshetServerOptions { Port = 0, GrpcPort = 0, MaxRequestBodyBytes = 1024 * 1024 });
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{Server.GrpcPort}");
        Push = new PushService.PushServiceClient(Channel);
        Serving = new ServingService.ServingServiceClient(Channel);
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
        await Store.DisposeAsync();
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    /// <summary>One transaction row.</summary>
    public sealed record Tx(string Account, double Amount, DateTimeOffset Ts, string? Key = null, string Merchant = "m");

    /// <summary>A push request of <paramref name="rows"/> to <paramref name="source"/>: typed columns, exact event times.</summary>
    public static PushRequest Request(IReadOnlyList<Tx> rows, string source = "tx", string requestId = "")
    {
        var request = new PushRequest { PushSourceName = source, RequestId = requestId };
        request.Columns.Add("account_id", Column(rows.Select(r => new ProtoValue { StringVal = r.Account })));
        request.Columns.Add("amount", Column(rows.Select(r => new ProtoValue { DoubleVal = r.Amount })));
        request.Columns.Add("merchant", Column(rows.Select(r => new ProtoValue { StringVal = r.Merchant })));
        request.TimestampColumns.Add("ts", new Protos.V1.TimestampList { Val = { rows.Select(r => Timestamp.FromDateTimeOffset(r.Ts)) } });
        if (rows.Any(r => r.Key is not null))
        {
            request.Columns.Add(FeatureStore.IdempotencyKeyColumn, Column(rows.Select(r => r.Key is null ? new ProtoValue() : new ProtoValue { StringVal = r.Key })));
        }

        return request;
    }

    public static RepeatedValue Column(IEnumerable<ProtoValue> values)
    {
        var column = new RepeatedValue();
        column.Val.AddRange(values);
        return column;
    }

    /// <summary>Reads <c>tx_stats:count_1h</c>, <c>tx_stats:amount_sum_1d</c>, <c>last_tx:amount</c> over gRPC.</summary>
    public async Task<GetOnlineFeaturesResponse> ReadAsync(params string[] accounts)
    {
        var request = new GetOnlineFeaturesRequest { Features = new FeatureList { Val = { "tx_stats:count_1h", "tx_stats:amount_sum_1d", "last_tx:amount" } } };
        request.Entities.Add("account_id", Column(accounts.Select(a => new ProtoValue { StringVal = a })));
        return await Serving.GetOnlineFeaturesAsync(request, deadline: DateTime.UtcNow.AddSeconds(30));
    }

    /// <summary>The number of rows in a namespace of the online store.</summary>
    public async Task<int> CountAsync(string ns)
    {
        var n = 0;
        await foreach (var row in Store.Online.ScanAsync(ns, []))
        {
            n++;
        }

        return n;
    }
}
