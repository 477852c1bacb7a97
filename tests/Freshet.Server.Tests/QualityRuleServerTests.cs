using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Freshet.Definitions;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Online;
using Freshet.Protos.V1;
using Freshet.Registry;
using Freshet.Serving;
using Grpc.Net.Client;

namespace Freshet.Server.Tests;

/// <summary>
/// Data-quality rules through the server (docs/quality.md#rules): a row that breaks a rule is named in the answer's
/// row errors (gRPC <c>PushAck.row_errors</c>, HTTP <c>row_errors</c>) and kept as a dead letter; the other rows apply.
/// </summary>
public sealed class QualityRuleServerTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = ServerFixture.T0;
    private readonly InMemoryOnlineStore _online = new();
    private OnlineDeadLetterStore _letters = null!;
    private FeatureStore _store = null!;
    private RunningServer _server = null!;
    private GrpcChannel _channel = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var repo = new RepoBuilder("quality_server")
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new PushSource("tx")
            {
                TimestampField = "ts",
                Schema =
                [
                    new("account_id", FeatureType.Of(ScalarKind.String)),
                    new("amount", FeatureType.Of(ScalarKind.Float64)) { Rules = new FieldRules { Min = 0 } },
                    new("merchant", FeatureType.Of(ScalarKind.String)),
                    new("ts", FeatureType.Of(ScalarKind.Timestamp)),
                ],
            })
            .Add(new FeatureView("last_tx", ["account"], "tx",
            [
                new Field("amount", FeatureType.Of(ScalarKind.Float64)),
                new Field("merchant", FeatureType.Of(ScalarKind.String)) { Rules = new FieldRules { MaxLength = 3 } },
            ]))
            .Add(new AggregationView("tx_stats", ["account"], "tx", [new Model.Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromDays(1))]))
            .Build()
            .GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", T0), 0);
        _letters = await OnlineDeadLetterStore.OpenAsync(_online);
        _store = await FeatureStore.OpenAsync(registry, _online, repo.Config, ".",
            new FeatureStoreOptions { Clock = new ManualClock(T0.AddHours(1)), DeadLetters = new DeadLetterSink(_letters) });
        _server = await FreshetServer.StartAsync(_store, new FreshetServerOptions { Port = 0, GrpcPort = 0 });
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_server.GrpcPort}");
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_server.HttpPort}") };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        _channel.Dispose();
        await _server.DisposeAsync();
        await _store.DisposeAsync();
    }

    private async Task<List<DeadLetter>> Letters()
    {
        var list = new List<DeadLetter>();
        await foreach (var l in _letters.ListAsync())
        {
            list.Add(l);
        }

        return list;
    }

    [Fact]
    public async Task A_grpc_push_names_the_broken_rule_in_its_row_errors()
    {
        var client = new PushService.PushServiceClient(_channel);
        var at = T0.AddMinutes(30);
        var ack = await client.PushAsync(PushServerFixture.Request(
        [
            new PushServerFixture.Tx("a", 10, at),
            new PushServerFixture.Tx("b", -5, at),
            new PushServerFixture.Tx("c", 1, at, Merchant: "toolong"),
        ]));

        // The source's rule on amount guards both views that read it; the view's rule on merchant guards last_tx.
        Assert.Equal(1, ack.OnlineRowsApplied);
        Assert.Equal(2, ack.EventsAggregated);
        Assert.Equal(3, ack.EventsRejected);
        Assert.Equal(
            ["1 last_tx rule_violation amount.min: -5 < 0", "1 tx_stats rule_violation amount.min: -5 < 0", "2 last_tx rule_violation merchant.max_length: 7 characters > 3"],
            ack.RowErrors.Select(e => $"{e.Row} {e.View} {e.Code} {e.Message}").Order());
        var letters = await Letters();
        Assert.Equal(["last_tx:amount.min: -5 < 0", "last_tx:merchant.max_length: 7 characters > 3", "tx_stats:amount.min: -5 < 0"], letters.Select(l => $"{l.View}:{l.Reason}").Order());
    }

    [Fact]
    public async Task An_http_push_and_write_name_the_broken_rule_and_apply_the_good_rows()
    {
        var push = await _http.PostAsync("/push", new StringContent("""
            {"push_source_name": "tx", "to": "online",
             "df": {"account_id": ["a", "b"], "amount": [-1.5, 2.0], "merchant": ["m", "m"], "ts": ["2026-01-01T00:30:00Z", "2026-01-01T00:30:00Z"]}}
            """));
        var body = JsonNode.Parse(await push.Content.ReadAsStringAsync())!;
        Assert.True(push.StatusCode == HttpStatusCode.OK, body.ToJsonString());
        Assert.Equal(1, body["events_aggregated"]!.GetValue<int>());
        Assert.Equal(2, body["events_rejected"]!.GetValue<int>());
        Assert.Equal(
            ["0 last_tx rule_violation amount.min: -1.5 < 0", "0 tx_stats rule_violation amount.min: -1.5 < 0"],
            body["row_errors"]!.AsArray().Select(e => $"{e!["row"]} {e["view"]} {e["code"]} {e["message"]}").Order());

        var write = await _http.PostAsync("/write-to-online-store", new StringContent("""
            {"feature_view_name": "last_tx",
             "df": {"account_id": ["x", "y"], "amount": [1.0, 2.0], "merchant": ["ok", "much too long"], "ts": ["2026-01-01T00:30:00Z", "2026-01-01T00:30:00Z"]}}
            """));
        var written = JsonNode.Parse(await write.Content.ReadAsStringAsync())!;
        Assert.True(write.StatusCode == HttpStatusCode.OK, written.ToJsonString());
        Assert.Equal(1, written["online_rows_applied"]!.GetValue<int>());
        Assert.Equal(1, written["rows_rejected"]!.GetValue<int>());
        Assert.Equal("merchant.max_length: 13 characters > 3", written["row_errors"]![0]!["message"]!.GetValue<string>());

        var letters = await Letters();
        Assert.Equal(3, letters.Count);
        Assert.Contains(letters, l => l is { View: "last_tx", Source: "tx", Code: "rule_violation" } && l.Reason.StartsWith("merchant.max_length", StringComparison.Ordinal));

        var read = await _http.PostAsJsonAsync("/get-online-features", new { features = new[] { "last_tx:merchant" }, entities = new { account_id = new[] { "x", "y" } } });
        var values = JsonNode.Parse(await read.Content.ReadAsStringAsync())!["results"]![1]!;
        Assert.Equal("ok", values["values"]![0]!.GetValue<string>());
        Assert.Equal("NOT_FOUND", values["statuses"]![1]!.GetValue<string>());
    }
}
