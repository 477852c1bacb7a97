using System.Text;
using System.Text.Json.Nodes;
using Freshet.Online;
using Freshet.Protos.Serving;
using Freshet.Registry;
using Freshet.Serving;
using Grpc.Core;
using Grpc.Net.Client;

namespace Freshet.Server.Tests;

/// <summary>
/// An online store that cannot be reached (<see cref="OnlineStoreUnavailableException"/>, what the Redis store throws
/// while Redis is down) is answered as unavailable: HTTP 503 with a JSON body naming the online store, gRPC UNAVAILABLE,
/// <c>/ready</c> 503; never a 500. When the store answers again, so does the server. The end-to-end outage of a real
/// Redis under load is <c>Freshet.Cli.Tests.RedisOutageTests</c>.
/// </summary>
public sealed class OnlineStoreUnavailableTests : IAsyncLifetime
{
    private const string Push = """{"push_source_name": "rider_push", "df": {"rider_id": ["r1"], "city": ["Oslo"], "ts": ["2026-01-01T00:30:00Z"]}}""";
    private const string Read = """{"features": ["rider_stats:city"], "entities": {"rider_id": ["r1"]}}""";
    private readonly SwitchableStore _online = new();
    private FeatureStore _store = null!;
    private RunningServer _server = null!;
    private HttpClient _http = null!;
    private GrpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        var registry = new InMemoryRegistryStore();
        var repo = ServerFixture.Repo();
        var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
        await registry.CommitAsync(RegistryPlanner.Apply(null, plan, "test", ServerFixture.T0), 0);
        _store = await FeatureStore.OpenAsync(registry, _online, repo.Config, ".",
            new FeatureStoreOptions { Clock = new ManualClock(ServerFixture.T0.AddHours(1)) });
        _server = await FreshetServer.StartAsync(_store, new FreshetServerOptions { Port = 0, GrpcPort = 0 });
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_server.HttpPort}") };
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_server.GrpcPort}");
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        _http.Dispose();
        await _server.DisposeAsync();
        await _store.DisposeAsync();
    }

    [Fact]
    public async Task A_store_that_cannot_be_reached_gives_503_naming_the_online_store_and_unavailable_over_grpc_then_serves_again()
    {
        Assert.Equal(200, (await PostAsync("/push", Push)).Status);

        _online.Down = true;
        foreach (var (path, body) in new[] { ("/push", Push), ("/get-online-features", Read) })
        {
            var (status, json) = await PostAsync(path, body);
            Assert.True(status == 503, $"{path}: {status} {json?.ToJsonString()}");
            Assert.Equal("online_store_unavailable", json!["code"]!.GetValue<string>());
            Assert.Equal("online_store", json["field"]!.GetValue<string>());
            Assert.Contains("test store is down", json["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        using (var ready = await _http.GetAsync("/ready"))
        {
            Assert.Equal(503, (int)ready.StatusCode);
            var json = JsonNode.Parse(await ready.Content.ReadAsStringAsync())!;
            Assert.Contains("online_store", json["failing"]!.AsArray().Select(n => n!.GetValue<string>()));
        }

        var request = new GetOnlineFeaturesRequest { Features = new FeatureList { Val = { "rider_stats:city" } } };
        request.Entities.Add("rider_id", new Freshet.Protos.Types.RepeatedValue { Val = { new Freshet.Protos.Types.Value { StringVal = "r1" } } });
        var client = new ServingService.ServingServiceClient(_channel);
        var e = await Assert.ThrowsAsync<RpcException>(async () => await client.GetOnlineFeaturesAsync(request));
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Equal("online_store_unavailable", e.Trailers.GetValue("freshet-error-code"));

        _online.Down = false;
        var (again, served) = await PostAsync("/get-online-features", Read);
        Assert.Equal(200, again);
        Assert.Equal("Oslo", served!["results"]![1]!["values"]![0]!.GetValue<string>());
        Assert.Equal(200, (await PostAsync("/push", Push)).Status);
    }

    private async Task<(int Status, JsonNode? Body)> PostAsync(string path, string json)
    {
        using var response = await _http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>An in-memory store that throws <see cref="OnlineStoreUnavailableException"/> from every call while <see cref="Down"/>.</summary>
    private sealed class SwitchableStore : IOnlineStore
    {
        private readonly InMemoryOnlineStore _inner = new();

        public volatile bool Down;

        public ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
        {
            ThrowIfDown();
            return _inner.WriteAsync(writes, cancellationToken);
        }

        public ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default)
        {
            ThrowIfDown();
            return _inner.ReadAsync(keys, rows, cancellationToken);
        }

        public ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default)
        {
            ThrowIfDown();
            return _inner.DeleteViewAsync(view, cancellationToken);
        }

        public ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
        {
            ThrowIfDown();
            return ((IOnlineStore)_inner).PutAsync(puts, cancellationToken);
        }

        public IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, CancellationToken cancellationToken = default)
        {
            ThrowIfDown();
            return ((IOnlineStore)_inner).ScanAsync(@namespace, prefix, cancellationToken);
        }

        public ValueTask DisposeAsync() => _inner.DisposeAsync();

        private void ThrowIfDown()
        {
            if (Down)
            {
                throw new OnlineStoreUnavailableException("the test store is down");
            }
        }
    }
}
