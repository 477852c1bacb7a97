using Freshet.Definitions;
using Freshet.Model;
using Freshet.Registry;

namespace Freshet.Core.Tests;

public sealed class DefinitionRoundTripTests
{
    private static FeatureRepoDefinition Everything() => new RepoBuilder("round_trip")
        .Configure(c => c with { DataDirectory = "state", OnlineStore = new StoreConfig("memory"), Server = new ServerConfig { Port = 7000, GrpcPort = 7001 } })
        .Add(new Entity("account", [new JoinKey("account_id", FeatureType.Of(ScalarKind.String)), new JoinKey("region", FeatureType.Of(ScalarKind.Int32))])
        {
            Description = "An account: with a colon, \"quotes\" and a # hash",
            Owner = "risk@example.com",
            Tags = new SortedDictionary<string, string> { ["pii"] = "false", ["team"] = "risk" },
        })
        .Add(new FileSource("tx_archive", "s3://bucket/tx/*.parquet")
        {
            S3Endpoint = "http://127.0.0.1:5000",
            TimestampField = "ts",
            Schema = [new Field("ts", FeatureType.Of(ScalarKind.Timestamp)), new Field("amount", FeatureType.Of(ScalarKind.Float64)), new Field("merchant", FeatureType.Of(ScalarKind.String)), new Field("tags", FeatureType.ListOf(ScalarKind.String))],
        })
        .Add(new FileSource("profile_csv", "data/profile.csv") { Format = FileFormat.Csv, TimestampField = "ts", CreatedTimestampField = "created" })
        .Add(new KafkaSource("tx", "127.0.0.1:9092", "tx") { BatchSource = "tx_archive", ConsumerGroup = "g1", TimestampField = "ts", Schema = [new Field("amount", FeatureType.Of(ScalarKind.Float64)), new Field("merchant", FeatureType.Of(ScalarKind.String))] })
        .Add(new NatsSource("tx_nats", "nats://127.0.0.1:4222", "tx.>") { Stream = "TX", Durable = "freshet", Schema = [new Field("amount", FeatureType.Of(ScalarKind.Float64))] })
        .Add(new PushSource("profile_push") { BatchSource = "profile_csv" })
        .Add(new RequestSource("req") { Schema = [new Field("amount", FeatureType.Of(ScalarKind.Float64))] })
        .Add(new FeatureView("profile", ["account"], "profile_csv", [new Field("limit", FeatureType.Of(ScalarKind.Float64)) { Description = "credit limit" }, new Field("emb", FeatureType.VectorOf(16)), new Field("photo", FeatureType.Of(ScalarKind.Bytes))])
        {
            Ttl = Durations.Parse("1d12h"),
            Online = false,
        })
        .Add(new AggregationView("tx_stats", ["account"], "tx",
        [
            new Aggregation(AggregationFunction.Count, null, TimeSpan.FromHours(1)),
            new Aggregation(AggregationFunction.LastN, "merchant", TimeSpan.FromDays(1)) { K = 3, Hop = TimeSpan.FromHours(2) },
            new Aggregation(AggregationFunction.ApproxPercentile, "amount", TimeSpan.FromDays(7)) { Percentile = 0.995, Filter = "amount > 0 && merchant != \"x\"", Name = "amount_p995" },
        ])
        {
            BatchSource = "tx_archive",
            AllowedLateness = TimeSpan.FromMinutes(10),
            Hop = TimeSpan.FromHours(1),
        })
        .Add(new OnDemandView("ratio", ["req", "tx_stats"], [new OnDemandFeature("r", FeatureType.Of(ScalarKind.Float64), "amount / coalesce(amount_p995, 1)") { Description = "ratio" }]))
        .Add(new FeatureService("model", ["profile:limit", "tx_stats", "ratio:r"]) { Description = "the model" })
        .Build()
        .GetValueOrThrow();

    private static Dictionary<string, string> Hashes(FeatureRepoDefinition repo) =>
        repo.AllObjects().ToDictionary(o => $"{ObjectKinds.Name(o.Kind)}:{o.Object.Name}", o => SpecJson.Hash(SpecJson.ToNode(o.Kind, o.Object)));

    [Fact]
    public void Definitions_written_as_yaml_load_back_identical()
    {
        var repo = Everything();

        var files = new[]
        {
            new RepoFile("freshet.yaml", DefinitionWriter.Write(repo.Config)),
            new RepoFile("all.yaml", DefinitionWriter.Write(repo)),
        };
        var loaded = RepoLoader.Load(files);

        Assert.True(loaded.IsValid, string.Join("\n", loaded.Diagnostics) + "\n" + files[1].Text);
        Assert.Equal(Hashes(repo), Hashes(loaded.Value!));
        Assert.Equal(repo.Config, loaded.Value!.Config);
    }

    [Fact]
    public void Writing_the_loaded_definitions_again_gives_the_same_text()
    {
        var first = DefinitionWriter.Write(Everything());
        var loaded = RepoLoader.Load([new RepoFile("freshet.yaml", "project: round_trip\n"), new RepoFile("all.yaml", first)]).GetValueOrThrow();

        Assert.Equal(first, DefinitionWriter.Write(loaded));
    }

    [Fact]
    public void The_json_spec_reads_back_into_the_same_definition()
    {
        foreach (var (kind, o) in Everything().AllObjects())
        {
            var node = SpecJson.ToNode(kind, o);
            var back = SpecJson.FromNode(kind, node);
            Assert.Equal(SpecJson.Hash(node), SpecJson.Hash(SpecJson.ToNode(kind, back)));
        }
    }

    [Fact]
    public void The_spec_hash_ignores_tag_order_but_not_content()
    {
        var a = new Entity("e", [new JoinKey("id", FeatureType.Of(ScalarKind.Int64))]) { Tags = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" } };
        var b = a with { Tags = new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" } };
        var c = a with { Tags = new Dictionary<string, string> { ["a"] = "1", ["b"] = "3" } };

        Assert.Equal(SpecJson.Hash(SpecJson.ToNode(ObjectKind.Entity, a)), SpecJson.Hash(SpecJson.ToNode(ObjectKind.Entity, b)));
        Assert.NotEqual(SpecJson.Hash(SpecJson.ToNode(ObjectKind.Entity, a)), SpecJson.Hash(SpecJson.ToNode(ObjectKind.Entity, c)));
    }
}
