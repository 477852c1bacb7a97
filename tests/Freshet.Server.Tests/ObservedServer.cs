using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Freshet.Definitions;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Observability;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;

namespace Freshet.Server.Tests;

/// <summary>
/// A server on 127.0.0.1 with the system clock (freshness is measured against it), its online store wired as the CLI
/// wires it (an instrumented L1 cache over an instrumented in-memory L2) and a dead-letter store, over a push source
/// <c>tx</c> feeding a plain view <c>last_tx</c> and an aggregation view <c>tx_stats</c>.
/// </summary>
internal sealed class ObservedServer : IAsyncDisposable
{
    private ObservedServer(FeatureStore store, RunningServer server, SwitchableStore l2)
    {
        Store = store;
        Server = server;
        L2 = l2;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}"), Timeout = TimeSpan.FromSeconds(100) };
    }

    public FeatureStore Store { get; }

    public RunningServer Server { get; }

    /// <summary>The store behind the cache, which a test can make fail.</summary>
    public SwitchableStore L2 { get; }

    public HttpClient Http { get; }

    public static async Task<ObservedServer> StartAsync(string project, ObservabilityConfig observability, bool apply = true)
    {
        var repo = new RepoBuilder(project)
            .Configure(c => c with { Observability = observability })
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new PushSource("tx")
            {
                TimestampField = "ts",
                Schema =
                [
                    new("account_id", FeatureType.Of(ScalarKind.String)),
                    new("amount", FeatureType.Of(ScalarKind.Float64)),
                    new("ts", FeatureType.Of(ScalarKind.Timestamp)),
                ],
            })
            .Add(new FeatureView("last_tx", ["account"], "tx", [new Field("amount", FeatureType.Of(ScalarKind.Float64))]))
            .Add(new AggregationView("tx_stats", ["account"], "tx",
            [
                new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)),
                new Model.Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromHours(1)),
            ]))
            .Build()
            .GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        if (apply)
        {
            var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
            await registry.CommitAsync(RegistryPlanner.Apply(null, plan, "test", DateTimeOffset.UtcNow), 0);
        }

        var l2 = new SwitchableStore(new InMemoryOnlineStore());
        IOnlineStore online = InstrumentedOnlineStore.Wrap(new CachingOnlineStore(InstrumentedOnlineStore.Wrap(l2, "l2")), "l1");
        var deadLetters = new DeadLetterSink(await OnlineDeadLetterStore.OpenAsync(online));
        var store = await FeatureStore.OpenAsync(registry, online, repo.Config, ".", new FeatureStoreOptions { DeadLetters = deadLetters });
        var server = await FreshetServer.StartAsync(store, new FreshetServerOptions { Port = 0, GrpcPort = 0 });
        return new ObservedServer(store, server, l2);
    }

    /// <summary>Pushes one transaction to <c>tx</c>; returns the status.</summary>
    public async Task<int> PushAsync(string account, double amount, DateTimeOffset ts)
    {
        var amountText = amount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var time = ts.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", System.Globalization.CultureInfo.InvariantCulture);
        var body = "{\"push_source_name\": \"tx\", \"df\": {\"account_id\": [\"" + account + "\"], \"amount\": [" + amountText + "], \"ts\": [\"" + time + "\"]}}";
        using var response = await Http.PostAsync("/push", new StringContent(body, Encoding.UTF8, "application/json"));
        return (int)response.StatusCode;
    }

    public async Task<(int Status, string Body)> GetAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task<(int Status, JsonNode? Body)> PostAsync(string path, string json)
    {
        using var response = await Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public Task<JsonNode?> GetJsonAsync(string path) => Http.GetFromJsonAsync<JsonNode>(path);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        await Store.DisposeAsync();
    }
}

/// <summary>An in-memory store a test can switch off: every call then fails as an unreachable server's would.</summary>
internal sealed class SwitchableStore(IOnlineStore inner) : IOnlineStore
{
    public volatile bool Down;

    public bool IsShared => inner.IsShared;

    public ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default) =>
        Down ? throw Unreachable() : inner.WriteAsync(writes, cancellationToken);

    public ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default) =>
        Down ? throw Unreachable() : inner.ReadAsync(keys, rows, cancellationToken);

    public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default) =>
        Down ? throw Unreachable() : inner.DeleteViewAsync(view, cancellationToken);

    public ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default) =>
        Down ? throw Unreachable() : inner.PutAsync(puts, cancellationToken);

    public ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default) =>
        Down ? throw Unreachable() : inner.SwapAsync(swaps, applied, cancellationToken);

    public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default) =>
        Down ? throw Unreachable() : inner.ScanAsync(@namespace, prefix, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private static IOException Unreachable() => new("connection refused (the test switched the store off)");
}
