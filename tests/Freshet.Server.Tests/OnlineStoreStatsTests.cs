using System.Text.Json.Nodes;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;

namespace Freshet.Server.Tests;

/// <summary><c>GET /stats/online-store</c> over a cache in front of a store, end to end through HTTP.</summary>
public sealed class OnlineStoreStatsHttpTests : IAsyncLifetime
{
    private const string Drivers = """
        {"feature_view_name": "driver_hourly_stats",
         "df": {"driver_id": [1001, 1002],
                "conv_rate": [0.7, 0.51],
                "acc_rate": [0.87, 0.11],
                "avg_daily_trips": [12, 7],
                "tags": [["a", "b"], []],
                "embedding": [[0.5, 1, -2.25], [0, 0, 0]],
                "photo": ["AQID", null],
                "last_seen": ["2025-12-31T23:30:00Z", "2025-12-31T23:45:00.123456+00:00"],
                "event_timestamp": ["2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z"],
                "created": ["2025-12-31T23:00:01Z", "2026-01-01T00:00:01Z"]}}
        """;

    private const string Read = """
        {"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001, 1002, 1003]}}
        """;

    private readonly ServerFixture _plain = new();
    private readonly InMemoryRegistryStore _registry = new();
    private FeatureStore _store = null!;
    private RunningServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var repo = ServerFixture.Repo();
        var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
        await _registry.CommitAsync(RegistryPlanner.Apply(null, plan, "test", ServerFixture.T0), 0);
        var cache = new CachingOnlineStore(new InMemoryOnlineStore(), new CachingOnlineStoreOptions { MaxStaleness = TimeSpan.FromHours(1) });
        _store = await FeatureStore.OpenAsync(_registry, cache, repo.Config, ".", new FeatureStoreOptions { Clock = new ManualClock(ServerFixture.T0.AddHours(1)) });
        _server = await FreshetServer.StartAsync(_store, new FreshetServerOptions { Port = 0, GrpcPort = 0 });
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_server.HttpPort}") };
        await _plain.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        await _store.DisposeAsync();
        await _plain.DisposeAsync();
    }

    private async Task<JsonNode> PostAsync(string path, string json)
    {
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(path, content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonNode.Parse(text)!;
    }

    [Fact]
    public async Task Hit_ratio_per_tier_is_readable_over_http()
    {
        await PostAsync("/write-to-online-store", Drivers);
        var first = await PostAsync("/get-online-features", Read);
        var second = await PostAsync("/get-online-features", Read);
        Assert.Equal("""["PRESENT","PRESENT","NOT_FOUND"]""", first["results"]![1]!["statuses"]!.ToJsonString());
        Assert.Equal(first.ToJsonString(), second.ToJsonString());

        var stats = (await _http.GetFromJsonAsyncNode("/stats/online-store"))!;

        Assert.Equal("CachingOnlineStore", stats["store"]!.GetValue<string>());
        var tiers = stats["tiers"]!.AsArray();
        Assert.Equal(["l1", "l2"], tiers.Select(t => t!["tier"]!.GetValue<string>()));
        var l1 = tiers[0]!;
        var l2 = tiers[1]!;

        // The second request is answered from memory, its absent entity included.
        Assert.True(l1["hits"]!.GetValue<long>() >= 3, l1.ToJsonString());
        Assert.Equal(l1["hits"]!.GetValue<long>() + l1["misses"]!.GetValue<long>(), l1["lookups"]!.GetValue<long>());
        Assert.InRange(l1["hit_ratio"]!.GetValue<double>(), 0.3, 1.0);
        Assert.True(l1["entries"]!.GetValue<long>() >= 3);
        Assert.Equal("InMemoryOnlineStore", l2["store"]!.GetValue<string>());
        Assert.Equal(l1["misses"]!.GetValue<long>(), l2["lookups"]!.GetValue<long>());
        Assert.False(l2.AsObject().ContainsKey("entries"));
    }

    [Fact]
    public async Task A_store_without_tiers_reports_an_empty_list()
    {
        var stats = (await _plain.GetJsonAsync("/stats/online-store"))!;

        Assert.Equal("InMemoryOnlineStore", stats["store"]!.GetValue<string>());
        Assert.Empty(stats["tiers"]!.AsArray());
    }
}

/// <summary><c>online_store.cache</c> and <c>online_store.durable</c> in freshet.yaml.</summary>
public sealed class OnlineStoreTiersConfigTests
{
    private static ValidationResult<FeatureRepoDefinition> Load(string yaml) => RepoLoader.Load([new RepoFile(RepoConfig.FileName, yaml)]);

    [Fact]
    public void Cache_and_durable_tier_are_read_from_freshet_yaml()
    {
        var config = Load("""
            project: p
            online_store:
              type: redis
              connection_string: 127.0.0.1:6379
              cache: {max_entries: 5000, max_bytes: 64MB, max_staleness: 500ms}
              durable: {type: postgres, connection_string: "Host=h;Database=d"}
            """).Value!.Config.OnlineStore;

        Assert.Equal(new CacheConfig { MaxEntries = 5000, MaxBytes = 64L << 20, MaxStaleness = TimeSpan.FromMilliseconds(500), Invalidation = "pubsub" }, config.Cache);
        Assert.Equal(new StoreConfig("postgres") { ConnectionString = "Host=h;Database=d" }, config.Durable);

        var defaults = Load("project: p\nonline_store: {type: rocksdb, cache: {}, durable: memory}\n").Value!.Config.OnlineStore;
        Assert.Equal(new CacheConfig(), defaults.Cache);
        Assert.Equal("none", defaults.Cache!.Invalidation);
        Assert.Equal(new StoreConfig("memory"), defaults.Durable);

        var none = Load("project: p\n").Value!.Config.OnlineStore;
        Assert.Null(none.Cache);
        Assert.Null(none.Durable);
    }

    [Fact]
    public void Written_back_and_read_again_the_same()
    {
        var config = new RepoConfig("p")
        {
            OnlineStore = new StoreConfig("rocksdb")
            {
                Cache = new CacheConfig { MaxEntries = 7, MaxBytes = 4096, MaxStaleness = TimeSpan.FromMilliseconds(1500) },
                Durable = new StoreConfig("rocksdb") { Path = "durable" },
            },
        };

        Assert.Equal(config.OnlineStore, Load(DefinitionWriter.Write(config)).Value!.Config.OnlineStore);
    }

    [Theory]
    [InlineData("cache: {max_bytes: lots}", "4:22", "'max_bytes' must be a size above 0 such as 64MB")]
    [InlineData("cache: {max_bytes: 0}", "4:22", "'max_bytes' must be a size above 0")]
    [InlineData("cache: {max_entries: 0}", "4:24", "'max_entries' must be a whole number from 1")]
    [InlineData("cache: {max_staleness: soon}", "4:26", "'max_staleness'")]
    [InlineData("cache: {invalidation: gossip}", "4:25", "unknown invalidation 'gossip'")]
    [InlineData("cache: {invalidation: pubsub}", "4:25", "invalidation 'pubsub' uses the online store's Redis server, but the online store type is 'rocksdb'")]
    [InlineData("cache: {max_entriez: 3}", "4:11", "unknown key 'max_entriez'")]
    [InlineData("durable: {type: cassandra}", "4:19", "durable: unknown type 'cassandra'")]
    [InlineData("durable: {path: x}", "4:12", "durable: 'type' is required")]
    [InlineData("durable: {type: memory, cache: {}}", "4:27", "unknown key 'cache'")]
    public void Bad_cache_or_durable_settings_are_reported_with_their_position(string line, string position, string message)
    {
        var result = Load($"project: p\nonline_store:\n  type: rocksdb\n  {line}\n");

        var error = Assert.Single(result.Diagnostics);
        Assert.Equal($"freshet.yaml:{position}", error.Position!.ToString());
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cache_settings_belong_to_the_online_store_only()
    {
        var error = Assert.Single(Load("project: p\nregistry: {type: file, cache: {}}\n").Diagnostics);
        Assert.Contains("unknown key 'cache'", error.Message, StringComparison.Ordinal);
    }
}

internal static class HttpJson
{
    public static async Task<JsonNode?> GetFromJsonAsyncNode(this HttpClient http, string path) => JsonNode.Parse(await http.GetStringAsync(path));
}
