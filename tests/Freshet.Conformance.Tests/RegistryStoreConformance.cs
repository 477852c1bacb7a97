using Freshet.Definitions;
using Freshet.Model;
using Freshet.Registry;

namespace Freshet.Conformance.Tests;

/// <summary>
/// The contract of <see cref="IRegistryStore"/>, run against every back end: what is committed loads back
/// unchanged, and a commit planned against a stale version is refused, never lost.
/// </summary>
public abstract class RegistryStoreConformance : IAsyncLifetime
{
    private IRegistryStore? _store;

    protected IRegistryStore Store => _store ?? throw new InvalidOperationException("not initialized");

    /// <summary>A new, empty store for one test.</summary>
    protected abstract Task<IRegistryStore> CreateStoreAsync();

    /// <summary>A second handle on the same store (another process would open one).</summary>
    protected abstract IRegistryStore OpenAgain();

    public async Task InitializeAsync() => _store = await CreateStoreAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    internal static FeatureRepoDefinition Repo(string ttl = "1d", string convRateType = "float32") => new RepoBuilder("conformance")
        .Add(new Entity("driver", [new JoinKey("driver_id", FeatureType.Of(ScalarKind.Int64))]) { Description = "a driver", Tags = new SortedDictionary<string, string> { ["team"] = "rides" } })
        .Add(new FileSource("driver_stats", "data/driver_stats.parquet") { TimestampField = "event_timestamp", CreatedTimestampField = "created" })
        .Add(new KafkaSource("trips", "127.0.0.1:9092", "trips") { BatchSource = "driver_stats", Schema = [new Field("fare", FeatureType.Of(ScalarKind.Float64))] })
        .Add(new RequestSource("req") { Schema = [new Field("x", FeatureType.Of(ScalarKind.Int64))] })
        .Add(new FeatureView("driver_hourly_stats", ["driver"], "driver_stats",
            [new Field("conv_rate", FeatureType.Parse(convRateType)), new Field("embedding", FeatureType.VectorOf(8)), new Field("recent", FeatureType.ListOf(ScalarKind.String))])
        { Ttl = Durations.Parse(ttl) })
        .Add(new AggregationView("trip_stats", ["driver"], "trips",
            [new Aggregation(AggregationFunction.Sum, "fare", TimeSpan.FromHours(24)), new Aggregation(AggregationFunction.ApproxPercentile, "fare", TimeSpan.FromHours(1)) { Percentile = 0.99, Filter = "fare > 0" }])
        { AllowedLateness = TimeSpan.FromMinutes(5) })
        .Add(new OnDemandView("scaled", ["driver_hourly_stats", "req"], [new OnDemandFeature("y", FeatureType.Of(ScalarKind.Float64), "conv_rate * x")]))
        .Add(new FeatureService("svc", ["driver_hourly_stats:conv_rate", "trip_stats", "scaled:y"]))
        .Build()
        .GetValueOrThrow();

    internal static RegistryState Applied(RegistryState? current, FeatureRepoDefinition repo, string by = "tester")
    {
        var plan = RegistryPlanner.Plan(current, repo).GetValueOrThrow();
        return RegistryPlanner.Apply(current, plan, by, new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero).AddSeconds(plan.BaseVersion));
    }

    [Fact]
    public async Task An_empty_store_loads_nothing()
    {
        Assert.Null(await Store.LoadAsync());
    }

    [Fact]
    public async Task A_committed_state_loads_back_with_every_object_and_spec()
    {
        var state = Applied(null, Repo());

        await Store.CommitAsync(state, 0);
        var loaded = await OpenAgain().LoadAsync();

        Assert.NotNull(loaded);
        Assert.Equal(1, loaded.Version);
        Assert.Equal("conformance", loaded.Project);
        Assert.Equal(state.Objects.Count, loaded.Objects.Count);
        foreach (var o in state.Objects)
        {
            var l = loaded.Find(o.Kind, o.Name);
            Assert.NotNull(l);
            Assert.Equal(o.Latest.SpecHash, l.Latest.SpecHash);
            Assert.Equal(o.Latest.AppliedAt, l.Latest.AppliedAt);
            Assert.Equal("tester", l.Latest.AppliedBy);

            // The spec reads back into the same definition: its hash, recomputed, is the stored one.
            Assert.Equal(o.Latest.SpecHash, SpecJson.Hash(SpecJson.ToNode(l.Kind, l.Current()!)));
        }

        var view = (FeatureView)loaded.Find(ObjectKind.FeatureView, "driver_hourly_stats")!.Current()!;
        Assert.Equal(TimeSpan.FromDays(1), view.Ttl);
        Assert.Equal(FeatureType.VectorOf(8), view.Schema[1].Type);
        var agg = (AggregationView)loaded.Find(ObjectKind.AggregationView, "trip_stats")!.Current()!;
        Assert.Equal(0.99, agg.Aggregations[1].Percentile);
        Assert.Equal("fare > 0", agg.Aggregations[1].Filter);
        var kafka = (KafkaSource)loaded.Find(ObjectKind.Source, "trips")!.Current()!;
        Assert.Equal("driver_stats", kafka.BatchSource);
    }

    [Fact]
    public async Task History_accumulates_across_commits()
    {
        var v1 = Applied(null, Repo());
        await Store.CommitAsync(v1, 0);
        var v2 = Applied(v1, Repo(ttl: "2d"));
        await Store.CommitAsync(v2, 1);

        var loaded = (await OpenAgain().LoadAsync())!;

        Assert.Equal(2, loaded.Version);
        var history = loaded.Find(ObjectKind.FeatureView, "driver_hourly_stats")!.History;
        Assert.Equal([1, 2], history.Select(h => h.Version));
        Assert.Equal([ChangeType.Create, ChangeType.Update], history.Select(h => h.Change));
        Assert.Equal([1L, 2L], history.Select(h => h.RegistryVersion));
        Assert.Equal(TimeSpan.FromDays(1), ((FeatureView)loaded.Find(ObjectKind.FeatureView, "driver_hourly_stats")!.At(1)!).Ttl);
        Assert.Single(loaded.Find(ObjectKind.Entity, "driver")!.History);
    }

    [Fact]
    public async Task A_commit_planned_against_a_stale_version_is_refused()
    {
        var v1 = Applied(null, Repo());
        await Store.CommitAsync(v1, 0);
        var mine = Applied(v1, Repo(ttl: "2d"), "me");
        var theirs = Applied(v1, Repo(ttl: "3d"), "them");
        await OpenAgain().CommitAsync(theirs, 1);

        var e = await Assert.ThrowsAsync<RegistryConflictException>(async () => await Store.CommitAsync(mine, 1));

        Assert.Equal(1, e.ExpectedVersion);
        Assert.Equal(2, e.ActualVersion);
        var loaded = (await Store.LoadAsync())!;
        Assert.Equal("them", loaded.UpdatedBy);
        Assert.Equal(TimeSpan.FromDays(3), ((FeatureView)loaded.Find(ObjectKind.FeatureView, "driver_hourly_stats")!.Current()!).Ttl);
    }

    [Fact]
    public async Task A_first_commit_must_expect_version_zero()
    {
        var v1 = Applied(null, Repo());

        await Assert.ThrowsAsync<RegistryConflictException>(async () => await Store.CommitAsync(v1, 5));
        Assert.Null(await Store.LoadAsync());
    }

    [Fact]
    public async Task Concurrent_commits_from_one_version_let_exactly_one_win()
    {
        var v1 = Applied(null, Repo());
        await Store.CommitAsync(v1, 0);
        var candidates = Enumerable.Range(2, 8).Select(d => Applied(v1, Repo(ttl: $"{d}d"), $"writer{d}")).ToList();

        var results = await Task.WhenAll(candidates.Select(async c =>
        {
            try
            {
                await OpenAgain().CommitAsync(c, 1);
                return c.UpdatedBy;
            }
            catch (RegistryConflictException)
            {
                return null;
            }
        }));

        var winners = results.Where(w => w is not null).ToList();
        Assert.Single(winners);
        var loaded = (await Store.LoadAsync())!;
        Assert.Equal(2, loaded.Version);
        Assert.Equal(winners[0], loaded.UpdatedBy);
    }
}

public sealed class InMemoryRegistryStoreConformance : RegistryStoreConformance
{
    private readonly InMemoryRegistryStore _store = new();

    protected override Task<IRegistryStore> CreateStoreAsync() => Task.FromResult<IRegistryStore>(_store);

    protected override IRegistryStore OpenAgain() => _store;
}

public sealed class FileRegistryStoreConformance : RegistryStoreConformance
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-registry-" + Guid.NewGuid().ToString("N"));

    protected override Task<IRegistryStore> CreateStoreAsync() => Task.FromResult<IRegistryStore>(new FileRegistryStore(_dir));

    protected override IRegistryStore OpenAgain() => new FileRegistryStore(_dir);

    public override Task DisposeAsync()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }

        return Task.CompletedTask;
    }
}
