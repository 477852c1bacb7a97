using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;

namespace Freshet.Server.Tests;

/// <summary>A Freshet server on 127.0.0.1 (free ports) over an in-memory store and registry.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public InMemoryRegistryStore Registry { get; } = new();

    public FeatureStore Store { get; private set; } = null!;

    public RunningServer Server { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public ManualClock Clock { get; } = new(T0.AddHours(1));

    public static FeatureRepoDefinition Repo(bool withRating = false)
    {
        var riderSchema = new List<Field> { new("city", FeatureType.Of(ScalarKind.String)) };
        if (withRating)
        {
            riderSchema.Add(new Field("rating", FeatureType.Of(ScalarKind.Float64)));
        }

        return new RepoBuilder("server_test")
            .Add(new Entity("driver", [new JoinKey("driver_id", FeatureType.Of(ScalarKind.Int64))]))
            .Add(new Entity("rider", [new JoinKey("rider_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new PushSource("driver_stats_push") { TimestampField = "event_timestamp", CreatedTimestampField = "created" })
            .Add(new PushSource("rider_push") { TimestampField = "ts" })
            .Add(new FeatureView("driver_hourly_stats", ["driver"], "driver_stats_push",
            [
                new Field("conv_rate", FeatureType.Of(ScalarKind.Float32)),
                new Field("acc_rate", FeatureType.Of(ScalarKind.Float32)),
                new Field("avg_daily_trips", FeatureType.Of(ScalarKind.Int32)),
                new Field("tags", FeatureType.ListOf(ScalarKind.String)),
                new Field("embedding", FeatureType.VectorOf(3)),
                new Field("photo", FeatureType.Of(ScalarKind.Bytes)),
                new Field("last_seen", FeatureType.Of(ScalarKind.Timestamp)),
            ])
            { Ttl = TimeSpan.FromDays(1) })
            .Add(new FeatureView("rider_stats", ["rider"], "rider_push", riderSchema))
            .Add(new FeatureService("driver_activity", ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate"]))
            .Build()
            .GetValueOrThrow();
    }

    public async Task ApplyAsync(FeatureRepoDefinition repo)
    {
        var current = await Registry.LoadAsync();
        var plan = RegistryPlanner.Plan(current, repo).GetValueOrThrow();
        await Registry.CommitAsync(RegistryPlanner.Apply(current, plan, "test", T0), current?.Version ?? 0);
    }

    public async Task InitializeAsync()
    {
        var repo = Repo();
        await ApplyAsync(repo);
        Store = await FeatureStore.OpenAsync(Registry, new InMemoryOnlineStore(), repo.Config, ".",
            new FeatureStoreOptions { Clock = Clock, MaxEntityRows = 1000, MaxWriteRows = 1000 });
        Server = await FreshetServer.StartAsync(Store, new FreshetServerOptions
        {
            Port = 0,
            GrpcPort = 0,
            MaxRequestBodyBytes = 1024 * 1024,
            RegistryPollInterval = TimeSpan.FromMilliseconds(50),
        });
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Server.HttpPort}") };
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        await Store.DisposeAsync();
    }

    public async Task<(int Status, JsonNode? Body)> PostAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        return await SendAsync(path, content);
    }

    public async Task<(int Status, JsonNode? Body)> PostBytesAsync(string path, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        return await SendAsync(path, content);
    }

    private async Task<(int Status, JsonNode? Body)> SendAsync(string path, HttpContent content)
    {
        using var response = await Http.PostAsync(path, content);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public Task<JsonNode?> GetJsonAsync(string path) => Http.GetFromJsonAsync<JsonNode>(path);
}

public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}
