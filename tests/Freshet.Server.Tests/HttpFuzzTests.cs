using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Observability;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;
using Xunit.Abstractions;

namespace Freshet.Server.Tests;

/// <summary>
/// The HTTP fuzz campaign (issue 8, docs/serving.md#fuzzing): at least 100,000 malformed or random requests to
/// every HTTP endpoint of a real server (Kestrel on 127.0.0.1) over a repo with a plain view, an aggregation view, an
/// on-demand view, feature services and push sources; no 5xx, every 4xx a JSON error naming the problem, no dropped
/// connection, and afterwards the server still serves the right values. FRESHET_FUZZ_SEED replays a campaign;
/// FRESHET_FUZZ_REQUESTS changes the count per endpoint (100,000 by default, the requirement).
/// </summary>
public sealed class HttpFuzzTests(ITestOutputHelper output)
{
    private static readonly DateTimeOffset T0 = ServerFixture.T0;

    private const long BodyLimit = 8 * 1024 * 1024;

    [Fact]
    public async Task A_hundred_thousand_malformed_requests_per_endpoint_get_no_5xx_and_the_server_still_serves()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("FRESHET_FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next();
        var perEndpoint = int.TryParse(Environment.GetEnvironmentVariable("FRESHET_FUZZ_REQUESTS"), CultureInfo.InvariantCulture, out var n) ? n : 100_000;
        output.WriteLine($"fuzz seed {seed} (replay: FRESHET_FUZZ_SEED={seed}), {perEndpoint} requests per endpoint");

        // FRESHET_FUZZ_ONLY=/push,/health fuzzes only those paths (and skips the giant and truncated bodies): for replays.
        var only = Environment.GetEnvironmentVariable("FRESHET_FUZZ_ONLY")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var endpoints = only is null ? HttpFuzzInputs.Endpoints : [.. HttpFuzzInputs.Endpoints.Where(e => only.Contains(e.Path, StringComparer.Ordinal))];
        await using var server = await FuzzServer.StartAsync();
        using var campaign = new HttpFuzzCampaign(server.Server.HttpPort, seed, connections: 16);
        using var ceiling = new CancellationTokenSource(TimeSpan.FromMinutes(30));
        await server.WriteSentinelsAsync();
        var clock = Stopwatch.StartNew();

        // Giant bodies, a bounded number of times each: within the body limit (the row limits answer) and above it.
        foreach (var endpoint in only is null ? HttpFuzzInputs.Endpoints.Where(e => e.Method == "POST") : [])
        {
            foreach (var (body, name) in GiantBodies(endpoint))
            {
                if (body.Length > BodyLimit)
                {
                    await campaign.SendOversizedAsync(endpoint, body, name, ceiling.Token);
                }
                else
                {
                    await campaign.SendAsync(endpoint, new FuzzRequest("POST", endpoint.Path, "application/json", body, name), name, ceiling.Token);
                }
            }
        }

        // Bodies shorter than their Content-Length, the client gone mid-body.
        var truncated = new Random(seed);
        foreach (var endpoint in only is null ? HttpFuzzInputs.Endpoints.Where(e => e.Method == "POST") : [])
        {
            for (var i = 0; i < 40; i++)
            {
                var valid = Encoding.UTF8.GetBytes(endpoint.ValidBodies[i % endpoint.ValidBodies.Length]);
                var cut = valid[..truncated.Next(valid.Length)];
                await campaign.SendTruncatedAsync(endpoint, cut, valid.Length + truncated.Next(1, 100), $"truncated #{i}", ceiling.Token);
            }
        }

        var giantTime = clock.Elapsed;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        await campaign.RunAsync(endpoints, perEndpoint, unknown: only is null ? perEndpoint / 5 : 0, workers: 16, ceiling.Token);
        output.WriteLine($"fuzz: {HttpFuzzInputs.Endpoints.Sum(e => campaign.Sent(e.Path)) + campaign.Sent(HttpFuzzInputs.UnknownPath.Path)} requests in {clock.Elapsed.TotalSeconds:F0} s " +
            $"(CPU of the campaign {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:F0} s for server and client) " +
            $"(giant and truncated bodies {giantTime.TotalSeconds:F0} s), {campaign.FailureCount} failures, seed {seed}");
        output.WriteLine(campaign.Summary());

        Assert.True(campaign.FailureCount == 0,
            $"{campaign.FailureCount} bad answers (seed {seed}; the first {campaign.Failures.Count}):\n" + string.Join("\n", campaign.Failures) + "\n" + campaign.Summary());
        foreach (var endpoint in endpoints)
        {
            Assert.True(campaign.Sent(endpoint.Path) >= perEndpoint, $"{endpoint.Path}: {campaign.Sent(endpoint.Path)} requests");
        }

        // The server is up, still ready, and serves what was written before the campaign and what is written after.
        Assert.False(server.Server.App.Lifetime.ApplicationStopping.IsCancellationRequested);
        Assert.Equal(200, (await server.GetAsync("/health")).Status);
        Assert.Equal(200, (await server.GetAsync("/ready")).Status);
        await server.AssertSentinelsAsync("sentinel-before");
        await server.WriteSentinelsAsync("sentinel-after");
        await server.AssertSentinelsAsync("sentinel-after");
    }

    private static IEnumerable<(byte[] Body, string Name)> GiantBodies(FuzzEndpoint endpoint)
    {
        switch (endpoint.Path)
        {
            case "/get-online-features":
                yield return (HttpFuzzInputs.GiantEntityArray(1_000_000), "1M entity values (2 MB, over the row limit)");
                yield return (HttpFuzzInputs.GiantEntityArray(10_000), "10k entity values (at the row limit)");
                yield return (HttpFuzzInputs.GiantEntityArray(5_000_000), "5M entity values (10 MB, over the body limit)");
                break;
            case "/push":
                yield return (HttpFuzzInputs.GiantPush(20_000), "20k pushed rows");
                yield return (HttpFuzzInputs.GiantPush(150_000), "150k pushed rows (over the row limit)");
                yield return (HttpFuzzInputs.GiantPush(250_000), "250k pushed rows (over the body limit)");
                break;
            default:
                var list = "[" + string.Join(",", Enumerable.Repeat("\"driver_stats\"", 1_000_000)) + "]";
                var body = endpoint.Path == "/write-to-online-store"
                    ? $$$"""{"feature_view_name":"driver_stats","df":{"driver_id":{{{list}}}}}"""
                    : $$$"""{"start_ts":"2026-01-01T00:00:00Z","end_ts":"2026-01-01T00:00:01Z","feature_views":{{{list}}}}""";
                yield return (Encoding.UTF8.GetBytes(body), "1M-element list (15 MB, over the body limit)");
                var half = "[" + string.Join(",", Enumerable.Repeat("1", 1_000_000)) + "]";
                yield return (Encoding.UTF8.GetBytes(body.Replace(list, half, StringComparison.Ordinal)), "1M-element list of numbers (2 MB)");
                break;
        }
    }

    /// <summary>
    /// The server under fuzz: in-memory online store behind an L1 cache (as the CLI wires it, so /stats/online-store
    /// has tiers), a manual clock, and a small in-memory offline source so that materialization does real but bounded work.
    /// </summary>
    private sealed class FuzzServer : IAsyncDisposable
    {
        private readonly HttpClient _http;

        private FuzzServer(FeatureStore store, RunningServer server)
        {
            Store = store;
            Server = server;
            _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}"), Timeout = TimeSpan.FromSeconds(120) };
        }

        public FeatureStore Store { get; }

        public RunningServer Server { get; }

        public static async Task<FuzzServer> StartAsync()
        {
            var repo = Repo();
            var registry = new InMemoryRegistryStore();
            await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", T0), 0);
            IOnlineStore online = InstrumentedOnlineStore.Wrap(new CachingOnlineStore(InstrumentedOnlineStore.Wrap(new InMemoryOnlineStore(), "l2")), "l1");
            var store = await FeatureStore.OpenAsync(registry, online, repo.Config, ".", new FeatureStoreOptions
            {
                Clock = new ManualClock(T0.AddHours(1)),
                OfflineSource = new SmallOfflineSource(),
            });
            var server = await FreshetServer.StartAsync(store, new FreshetServerOptions
            {
                Port = 0,
                GrpcPort = -1,
                MaxRequestBodyBytes = BodyLimit,
                RegistryPollInterval = TimeSpan.FromMilliseconds(200),
            });
            return new FuzzServer(store, server);
        }

        public static FeatureRepoDefinition Repo() => new RepoBuilder("fuzz_test")
            .Add(new Entity("driver", [new JoinKey("driver_id", FeatureType.Of(ScalarKind.Int64))]))
            .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new FileSource("driver_file", "driver.parquet") { TimestampField = "ts" })
            .Add(new PushSource("driver_push") { TimestampField = "ts", BatchSource = "driver_file" })
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
            .Add(new RequestSource("req") { Schema = [new Field("val_to_add", FeatureType.Of(ScalarKind.Int64)), new Field("factor", FeatureType.Of(ScalarKind.Float64))] })
            .Add(new FeatureView("driver_stats", ["driver"], "driver_push",
            [
                new Field("conv_rate", FeatureType.Of(ScalarKind.Float32)),
                new Field("trips", FeatureType.Of(ScalarKind.Int64)),
                new Field("city", FeatureType.Of(ScalarKind.String)),
                new Field("tags", FeatureType.ListOf(ScalarKind.String)),
            ])
            { Ttl = TimeSpan.FromDays(1) })
            .Add(new FeatureView("last_tx", ["account"], "tx",
            [
                new Field("amount", FeatureType.Of(ScalarKind.Float64)),
                new Field("merchant", FeatureType.Of(ScalarKind.String)),
            ]))
            .Add(new AggregationView("tx_stats", ["account"], "tx",
            [
                new Model.Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)),
                new Model.Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromDays(1)),
                new Model.Aggregation(AggregationFunction.Max, "amount", TimeSpan.FromMinutes(10)),
            ]))
            .Add(new OnDemandView("derived", ["driver_stats", "req"],
            [
                new OnDemandFeature("conv_plus", FeatureType.Of(ScalarKind.Float64), "conv_rate + val_to_add"),
                new OnDemandFeature("busy", FeatureType.Of(ScalarKind.Bool), "trips * factor > 10"),
                new OnDemandFeature("trips_or_zero", FeatureType.Of(ScalarKind.Int64), "coalesce(trips, 0)"),
            ]))
            .Add(new FeatureService("model", ["driver_stats:city", "derived"]))
            .Add(new FeatureService("tx_service", ["tx_stats", "last_tx:amount"]))
            .Build()
            .GetValueOrThrow();

        public async Task<(int Status, string Body)> GetAsync(string path)
        {
            using var response = await _http.GetAsync(path);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        private async Task<JsonNode> PostAsync(string path, string json)
        {
            using var content = new StringContent(json, Encoding.UTF8, "application/json");
            using var response = await _http.PostAsync(path, content);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
            return JsonNode.Parse(text)!;
        }

        /// <summary>Rows no generated request touches: a driver (written through /push) and an account with three transactions.</summary>
        public async Task WriteSentinelsAsync(string account = "sentinel-before")
        {
            var driver = HttpFuzzInputs.SentinelDriver + (account == "sentinel-before" ? 0 : 1);
            await PostAsync("/push", $$$"""{"push_source_name":"driver_push","df":{"driver_id":[{{{driver}}}],"conv_rate":[0.5],"trips":[7],"city":["{{{account}}}"],"tags":[["s"]],"ts":["2026-01-01T00:45:00Z"]}}""");
            await PostAsync("/push", $$$"""{"push_source_name":"tx","df":{"account_id":["{{{account}}}","{{{account}}}","{{{account}}}"],"amount":[1.25,2.5,4],"merchant":["m","m","z"],"ts":["2026-01-01T00:40:00Z","2026-01-01T00:50:00Z","2026-01-01T00:55:00Z"]}}""");
        }

        public async Task AssertSentinelsAsync(string account)
        {
            var driver = HttpFuzzInputs.SentinelDriver + (account == "sentinel-before" ? 0 : 1);
            var d = await PostAsync("/get-online-features", $$$"""{"feature_service":"model","entities":{"driver_id":[{{{driver}}}],"val_to_add":[2],"factor":[2.0]}}""");
            Assert.Equal(["driver_id", "city", "conv_plus", "busy", "trips_or_zero"], d["metadata"]!["feature_names"]!.AsArray().Select(v => v!.GetValue<string>()));
            Assert.Equal(account, d["results"]![1]!["values"]![0]!.GetValue<string>());
            Assert.Equal(2.5, d["results"]![2]!["values"]![0]!.GetValue<double>());
            Assert.True(d["results"]![3]!["values"]![0]!.GetValue<bool>());
            Assert.Equal(7, d["results"]![4]!["values"]![0]!.GetValue<long>());

            var t = await PostAsync("/get-online-features", $$$"""{"features":["tx_stats:count_1h","tx_stats:amount_sum_1d","tx_stats:amount_max_10m","last_tx:merchant"],"entities":{"account_id":["{{{account}}}"]}}""");
            Assert.Equal(3, t["results"]![1]!["values"]![0]!.GetValue<long>());
            Assert.Equal(7.75, t["results"]![2]!["values"]![0]!.GetValue<double>());
            Assert.Equal(4, t["results"]![3]!["values"]![0]!.GetValue<double>());
            Assert.Equal("z", t["results"]![4]!["values"]![0]!.GetValue<string>());
        }

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            await Server.DisposeAsync();
            await Store.DisposeAsync();
        }
    }

    /// <summary>
    /// The offline engine of the fuzz server: three drivers' latest rows, at the start of whatever interval is asked
    /// for. Materialization then runs its real encoder and online writes, in bounded time (DuckDB has its own tests).
    /// </summary>
    private sealed class SmallOfflineSource : IOfflineSource
    {
        public async IAsyncEnumerable<ColumnTable> ReadLatestAsync(FeatureView view, IReadOnlyList<JoinKey> joinKeys, FileSource source, string repoDirectory,
            DateTimeOffset start, DateTimeOffset end, int batchSize, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            yield return new ColumnTable(new Dictionary<string, FeatureValue[]>(StringComparer.Ordinal)
            {
                ["driver_id"] = [FeatureValue.FromInt64(1), FeatureValue.FromInt64(2), FeatureValue.FromInt64(3)],
                ["conv_rate"] = [FeatureValue.FromFloat64(0.1), FeatureValue.FromFloat64(0.2), FeatureValue.Null],
                ["trips"] = [FeatureValue.FromInt64(1), FeatureValue.FromInt64(2), FeatureValue.FromInt64(3)],
                ["city"] = [FeatureValue.FromString("x"), FeatureValue.FromString("y"), FeatureValue.FromString("z")],
                ["tags"] = [FeatureValue.Null, FeatureValue.Null, FeatureValue.Null],
                ["ts"] = [FeatureValue.FromTimestamp(start), FeatureValue.FromTimestamp(start), FeatureValue.FromTimestamp(start)],
            });
        }
    }
}
