using BenchmarkDotNet.Attributes;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Benchmarks;

/// <summary>
/// In-process online reads through <see cref="FeatureStore"/>: the cost of the serving path without HTTP.
/// Scenario (a) 1 entity x 10 features of one view; (b) 100 entities x 50 features over 5 views.
/// </summary>
[MemoryDiagnoser]
public class OnlineReadBenchmarks
{
    private const int Views = 5;
    private const int FeaturesPerView = 10;
    private const int Entities = 1000;
    private FeatureStore _store = null!;
    private OnlineRequest _one = null!;
    private OnlineRequest _hundred = null!;

    [Params("memory")]
    public string Store { get; set; } = "memory";

    [GlobalSetup]
    public async Task Setup()
    {
        var builder = new RepoBuilder("bench").Add(new Entity("user", [new JoinKey("user_id", FeatureType.Of(ScalarKind.Int64))]));
        builder.Add(new PushSource("events") { TimestampField = "ts" });
        for (var v = 0; v < Views; v++)
        {
            var schema = Enumerable.Range(0, FeaturesPerView)
                .Select(f => new Field($"f{v}_{f}", f % 2 == 0 ? FeatureType.Of(ScalarKind.Float32) : FeatureType.Of(ScalarKind.Int64)))
                .ToList();
            builder.Add(new FeatureView($"view{v}", ["user"], "events", schema));
        }

        var repo = builder.Build().GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
        await registry.CommitAsync(RegistryPlanner.Apply(null, plan, "bench", DateTimeOffset.UtcNow), 0);
        _store = await FeatureStore.OpenAsync(registry, new InMemoryOnlineStore(), repo.Config, ".");

        for (var v = 0; v < Views; v++)
        {
            var columns = new Dictionary<string, FeatureValue[]>
            {
                ["user_id"] = [.. Enumerable.Range(0, Entities).Select(i => FeatureValue.FromInt64(i))],
                ["ts"] = [.. Enumerable.Range(0, Entities).Select(_ => FeatureValue.FromTimestamp(DateTimeOffset.UtcNow))],
            };
            for (var f = 0; f < FeaturesPerView; f++)
            {
                columns[$"f{v}_{f}"] = [.. Enumerable.Range(0, Entities).Select(i => f % 2 == 0 ? FeatureValue.FromFloat64(i * 0.5) : FeatureValue.FromInt64(i))];
            }

            await _store.WriteToOnlineStoreAsync($"view{v}", new ColumnTable(columns));
        }

        _one = new OnlineRequest
        {
            Features = [.. Enumerable.Range(0, FeaturesPerView).Select(f => $"view0:f0_{f}")],
            Entities = new Dictionary<string, FeatureValue[]> { ["user_id"] = [FeatureValue.FromInt64(42)] },
        };
        _hundred = new OnlineRequest
        {
            Features = [.. Enumerable.Range(0, Views).SelectMany(v => Enumerable.Range(0, FeaturesPerView).Select(f => $"view{v}:f{v}_{f}"))],
            Entities = new Dictionary<string, FeatureValue[]> { ["user_id"] = [.. Enumerable.Range(0, 100).Select(i => FeatureValue.FromInt64(i * 7))] },
        };
    }

    [GlobalCleanup]
    public async Task Cleanup() => await _store.DisposeAsync();

    [Benchmark(Description = "1 entity x 10 features")]
    public ValueTask<OnlineResponse> OneEntityTenFeatures() => _store.GetOnlineFeaturesAsync(_one);

    [Benchmark(Description = "100 entities x 50 features, 5 views")]
    public ValueTask<OnlineResponse> HundredEntitiesFiftyFeatures() => _store.GetOnlineFeaturesAsync(_hundred);
}
