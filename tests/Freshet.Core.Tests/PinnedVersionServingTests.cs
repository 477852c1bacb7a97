using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>
/// <c>view@vN:feature</c> is served from version N's definition (its types, ttl, windows, expressions) over the
/// view's online data, and a rollback committed to the registry is served once the store follows it.
/// </summary>
public sealed class PinnedVersionServingTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly FeatureType Int64 = FeatureType.Of(ScalarKind.Int64);
    private readonly ManualClock _clock = new(T0.AddHours(3));
    private readonly InMemoryRegistryStore _registry = new();
    private readonly InMemoryOnlineStore _online = new();
    private FeatureStore _store = null!;

    /// <summary>
    /// v1: conv_rate float32, trips, ttl 1d; the aggregation view sums over 1h and 1d; the on-demand view doubles.
    /// v2: conv_rate float64, trips gone, ttl 1h; the 1d window gone; the on-demand view triples.
    /// </summary>
    private static FeatureRepoDefinition Repo(int version)
    {
        var v1 = version == 1;
        FeatureView stats = new("driver_stats", ["driver"], "driver_push", v1
            ? [new Field("conv_rate", FeatureType.Of(ScalarKind.Float32)), new Field("trips", FeatureType.Of(ScalarKind.Int32))]
            : [new Field("conv_rate", FeatureType.Of(ScalarKind.Float64))])
        { Ttl = v1 ? TimeSpan.FromDays(1) : TimeSpan.FromHours(1) };
        var sum1h = new Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromHours(1)) { Name = "amount_sum_1h" };
        var sum1d = new Aggregation(AggregationFunction.Sum, "amount", TimeSpan.FromDays(1)) { Name = "amount_sum_1d" };
        return new RepoBuilder("pins")
            .Add(new Entity("driver", [new JoinKey("driver_id", Int64)]))
            .Add(new PushSource("driver_push") { TimestampField = "event_timestamp" })
            .Add(new PushSource("tx_push") { TimestampField = "event_timestamp", Schema = [new Field("driver_id", Int64), new Field("amount", FeatureType.Of(ScalarKind.Float64))] })
            .Add(stats)
            .Add(new AggregationView("driver_tx", ["driver"], "tx_push", v1 ? [sum1h, sum1d] : [sum1h]))
            .Add(new OnDemandView("scaled", ["driver_stats"],
                [new OnDemandFeature("scaled_rate", FeatureType.Of(ScalarKind.Float64), v1 ? "conv_rate * 2" : "conv_rate * 3")]))
            .Build()
            .GetValueOrThrow();
    }

    private async Task ApplyAsync(FeatureRepoDefinition repo)
    {
        var current = await _registry.LoadAsync();
        var plan = RegistryPlanner.Plan(current, repo).GetValueOrThrow();
        await _registry.CommitAsync(RegistryPlanner.Apply(current, plan, "test", _clock.GetUtcNow()), current?.Version ?? 0);
    }

    public async Task InitializeAsync()
    {
        await ApplyAsync(Repo(1));
        _store = await FeatureStore.OpenAsync(_registry, _online, Repo(1).Config, ".", new FeatureStoreOptions { Clock = _clock });

        // Data written under v1, two hours before "now": inside v1's ttl (1d), outside v2's (1h).
        await _store.PushAsync("driver_push", new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["driver_id"] = [FeatureValue.FromInt64(7)],
            ["conv_rate"] = [FeatureValue.FromFloat64(0.25)],
            ["trips"] = [FeatureValue.FromInt64(12)],
            ["event_timestamp"] = [FeatureValue.FromTimestamp(T0.AddHours(1))],
        }), PushTarget.Online);
        await _store.PushAsync("tx_push", new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["driver_id"] = [FeatureValue.FromInt64(7), FeatureValue.FromInt64(7)],
            ["amount"] = [FeatureValue.FromFloat64(10), FeatureValue.FromFloat64(5)],
            ["event_timestamp"] = [FeatureValue.FromTimestamp(T0.AddHours(1)), FeatureValue.FromTimestamp(T0.AddHours(2.5))],
        }), PushTarget.Online);

        await ApplyAsync(Repo(2));
        Assert.True(await _store.RefreshAsync());
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private async Task<OnlineResponse> Get(params string[] features) =>
        await _store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            Features = features,
            Entities = new Dictionary<string, FeatureValue[]> { ["driver_id"] = [FeatureValue.FromInt64(7)] },
            FullFeatureNames = true,
        });

    [Fact]
    public async Task A_pinned_plain_view_is_served_with_its_own_types_and_ttl_next_to_the_current_one()
    {
        var r = await Get("driver_stats@v1:conv_rate", "driver_stats@v1:trips", "driver_stats:conv_rate");

        Assert.Equal(["driver_id", "driver_stats@v1__conv_rate", "driver_stats@v1__trips", "driver_stats__conv_rate"], r.FeatureNames);

        // v1: float32, ttl 1d, so the two-hour-old row is present; its trips were written under v1.
        Assert.Equal(FieldStatus.Present, r.Columns[1].Statuses[0]);
        Assert.Equal(FeatureValue.FromFloat32(0.25f), r.Columns[1].Values[0]);
        Assert.Equal(FeatureValue.FromInt32(12), r.Columns[2].Values[0]);

        // v2 (current): ttl 1h, so the same row is too old to serve.
        Assert.Equal(FieldStatus.OutsideMaxAge, r.Columns[3].Statuses[0]);
    }

    [Fact]
    public async Task A_pinned_aggregation_view_serves_a_window_the_current_version_dropped()
    {
        var r = await Get("driver_tx@v1:amount_sum_1d", "driver_tx:amount_sum_1h");

        Assert.Equal(FeatureValue.FromFloat64(15), r.Columns[1].Values[0]);
        Assert.Equal(FeatureValue.FromFloat64(5), r.Columns[2].Values[0]);

        var current = await Assert.ThrowsAsync<RequestException>(() => Get("driver_tx:amount_sum_1d"));
        Assert.Equal("unknown_feature", current.Code);
    }

    [Fact]
    public async Task A_pinned_on_demand_view_evaluates_its_own_expression()
    {
        _clock.Now = T0.AddHours(1.5); // inside both ttls

        var r = await Get("scaled@v1:scaled_rate", "scaled:scaled_rate");

        Assert.Equal(0.5, r.Columns[1].Values[0].AsFloat64(), 6);
        Assert.Equal(0.75, r.Columns[2].Values[0].AsFloat64(), 6);
    }

    [Fact]
    public async Task A_rollback_is_served_once_the_store_follows_the_registry()
    {
        var before = await Get("driver_stats:conv_rate");
        Assert.Equal(FieldStatus.OutsideMaxAge, before.Columns[1].Statuses[0]);

        var state = (await _registry.LoadAsync())!;
        var rolledBack = RegistryPlanner.Rollback(state, "driver_stats", ObjectKind.FeatureView, 1, "test", _clock.GetUtcNow()).GetValueOrThrow();
        await _registry.CommitAsync(rolledBack, state.Version);
        Assert.True(await _store.RefreshAsync());

        var after = await Get("driver_stats:conv_rate", "driver_stats:trips");
        Assert.Equal(FieldStatus.Present, after.Columns[1].Statuses[0]);
        Assert.Equal(FeatureValue.FromFloat32(0.25f), after.Columns[1].Values[0]);
        Assert.Equal(FeatureValue.FromInt32(12), after.Columns[2].Values[0]);
        Assert.Equal(3, _store.Registry.State.Objects.First(o => o.Name == "driver_stats").Version);
    }

    [Fact]
    public async Task A_pin_to_a_version_keyed_by_other_entities_is_refused_by_name()
    {
        // v3 keys driver_stats by (driver, city): the online data is stored under those keys from now on.
        var v2 = Repo(2);
        var v3 = v2 with
        {
            Entities = [.. v2.Entities, new Entity("city", [new JoinKey("city_id", FeatureType.Of(ScalarKind.String))])],
            FeatureViews = [v2.FeatureViews[0] with { Entities = ["driver", "city"] }],
        };
        await ApplyAsync(v3);
        Assert.True(await _store.RefreshAsync());

        var e = await Assert.ThrowsAsync<RequestException>(() => Get("driver_stats@v1:conv_rate"));

        Assert.Equal("incompatible_version", e.Code);
        Assert.Equal("features[0]", e.Field);
        Assert.Contains("keyed by [driver] but the view's online data by [driver, city]", e.Message, StringComparison.Ordinal);
    }
}
