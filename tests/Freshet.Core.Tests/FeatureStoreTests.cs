using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Core.Tests;

public sealed class FeatureStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly ManualClock _clock = new(T0.AddHours(1));
    private readonly InMemoryRegistryStore _registry = new();
    private readonly InMemoryOnlineStore _online = new();
    private FeatureStore _store = null!;

    public async Task InitializeAsync()
    {
        var repo = new RepoBuilder("fs")
            .Add(new Entity("driver", [new JoinKey("driver_id", FeatureType.Of(ScalarKind.Int64))]))
            .Add(new Entity("rider", [new JoinKey("rider_id", FeatureType.Of(ScalarKind.String))]))
            .Add(new PushSource("driver_push") { TimestampField = "event_timestamp", CreatedTimestampField = "created" })
            .Add(new PushSource("rider_push") { TimestampField = "ts" })
            .Add(new FeatureView("driver_stats", ["driver"], "driver_push",
                [new Field("conv_rate", FeatureType.Of(ScalarKind.Float32)), new Field("trips", FeatureType.Of(ScalarKind.Int32)), new Field("city", FeatureType.Of(ScalarKind.String))])
            { Ttl = TimeSpan.FromDays(1) })
            .Add(new FeatureView("rider_stats", ["rider"], "rider_push", [new Field("rating", FeatureType.Of(ScalarKind.Float64)), new Field("city", FeatureType.Of(ScalarKind.String))]))
            .Add(new FeatureService("svc", ["driver_stats:conv_rate", "rider_stats"]))
            .Build()
            .GetValueOrThrow();
        var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
        await _registry.CommitAsync(RegistryPlanner.Apply(null, plan, "test", T0), 0);
        _store = await FeatureStore.OpenAsync(_registry, _online, repo.Config, ".", new FeatureStoreOptions { Clock = _clock, MaxEntityRows = 100 });
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private static ColumnTable Rows(params (string Name, FeatureValue[] Values)[] columns) =>
        new(columns.ToDictionary(c => c.Name, c => c.Values));

    private static FeatureValue[] I(params long[] v) => [.. v.Select(FeatureValue.FromInt64)];

    private static FeatureValue[] D(params double[] v) => [.. v.Select(FeatureValue.FromFloat64)];

    private static FeatureValue[] S(params string?[] v) => [.. v.Select(FeatureValue.FromString)];

    private static FeatureValue[] Ts(params DateTimeOffset[] v) => [.. v.Select(FeatureValue.FromTimestamp)];

    private Task<PushResult> PushDrivers(long[] ids, double[] conv, DateTimeOffset[] at, DateTimeOffset[]? created = null) =>
        _store.PushAsync("driver_push", Rows(
            ("driver_id", I(ids)), ("conv_rate", D(conv)), ("trips", I([.. ids.Select(i => i % 100)])), ("city", S([.. ids.Select(i => $"c{i}")])),
            ("event_timestamp", Ts(at)), ("created", created is null ? [.. at.Select(_ => FeatureValue.Null)] : Ts(created))), PushTarget.Online).AsTask();

    private Task<OnlineResponse> Get(string[] features, params (string Name, FeatureValue[] Values)[] entities) =>
        _store.GetOnlineFeaturesAsync(new OnlineRequest { Features = features, Entities = entities.ToDictionary(e => e.Name, e => e.Values) }).AsTask();

    [Fact]
    public async Task Pushed_rows_are_served_with_statuses_and_event_times()
    {
        await PushDrivers([1001, 1002], [0.5, 0.25], [T0, T0.AddMinutes(5)]);

        var r = await Get(["driver_stats:conv_rate", "driver_stats:trips", "driver_stats:city"], ("driver_id", I(1001, 1002, 1003)));

        Assert.Equal(["driver_id", "conv_rate", "trips", "city"], r.FeatureNames);
        Assert.Equal([FieldStatus.Present, FieldStatus.Present, FieldStatus.Present], r.Columns[0].Statuses);
        Assert.Equal(FeatureValue.FromInt64(1002), r.Columns[0].Values[1]);
        Assert.Equal(FeatureValue.FromFloat32(0.5f), r.Columns[1].Values[0]);
        Assert.Equal(FeatureValue.FromInt32(2), r.Columns[2].Values[1]);
        Assert.Equal("c1002", r.Columns[3].Values[1].AsString());
        Assert.Equal([FieldStatus.Present, FieldStatus.Present, FieldStatus.NotFound], r.Columns[1].Statuses);
        Assert.Equal(Micros.From(T0.AddMinutes(5)), r.Columns[1].EventMicros[1]);
        Assert.Equal(0, r.Columns[1].EventMicros[2]);
        Assert.True(r.Columns[1].Values[2].IsNull);
    }

    [Fact]
    public async Task A_view_deleted_from_the_registry_loses_its_online_rows_when_the_store_follows()
    {
        await PushDrivers([1001], [0.5], [T0]);
        await _store.PushAsync("rider_push", Rows(("rider_id", S("r1", "r2")), ("rating", D(4.5, 3.0)), ("city", S("a", "b")), ("ts", Ts(T0, T0))), PushTarget.Online);
        var state = await _registry.LoadAsync();
        var smaller = new RepoBuilder("fs")
            .Add(new Entity("driver", [new JoinKey("driver_id", FeatureType.Of(ScalarKind.Int64))]))
            .Add(new PushSource("driver_push") { TimestampField = "event_timestamp", CreatedTimestampField = "created" })
            .Add(new FeatureView("driver_stats", ["driver"], "driver_push",
                [new Field("conv_rate", FeatureType.Of(ScalarKind.Float32)), new Field("trips", FeatureType.Of(ScalarKind.Int32)), new Field("city", FeatureType.Of(ScalarKind.String))])
            { Ttl = TimeSpan.FromDays(1) })
            .Build()
            .GetValueOrThrow();
        var plan = RegistryPlanner.Plan(state, smaller).GetValueOrThrow();
        await _registry.CommitAsync(RegistryPlanner.Apply(state, plan, "test", T0), state!.Version);

        Assert.True(await _store.RefreshAsync());

        Assert.Equal(0, await _online.DeleteViewAsync("rider_stats"));
        var r = await Get(["driver_stats:conv_rate"], ("driver_id", I(1001)));
        Assert.Equal(FieldStatus.Present, r.Columns[1].Statuses[0]);
        Assert.Equal(1, await _online.DeleteViewAsync("driver_stats"));
    }

    [Fact]
    public async Task An_older_row_never_replaces_a_newer_one()
    {
        await PushDrivers([1001], [0.9], [T0.AddMinutes(10)], [T0.AddMinutes(10)]);
        await PushDrivers([1001], [0.1], [T0], [T0.AddMinutes(30)]);
        await PushDrivers([1001], [0.2], [T0.AddMinutes(10)], [T0.AddMinutes(-1)]);

        var r = await Get(["driver_stats:conv_rate"], ("driver_id", I(1001)));

        Assert.Equal(FeatureValue.FromFloat32(0.9f), r.Columns[1].Values[0]);

        // Same event time, later created time: the newer correction wins.
        await PushDrivers([1001], [0.3], [T0.AddMinutes(10)], [T0.AddMinutes(20)]);
        r = await Get(["driver_stats:conv_rate"], ("driver_id", I(1001)));
        Assert.Equal(FeatureValue.FromFloat32(0.3f), r.Columns[1].Values[0]);
    }

    [Fact]
    public async Task A_row_older_than_the_ttl_is_outside_max_age_and_not_served()
    {
        await PushDrivers([1001], [0.5], [T0]);

        _clock.Now = T0.AddDays(1);
        var fresh = await Get(["driver_stats:conv_rate"], ("driver_id", I(1001)));
        Assert.Equal(FieldStatus.Present, fresh.Columns[1].Statuses[0]);

        _clock.Now = T0.AddDays(1).AddTicks(10);
        var stale = await Get(["driver_stats:conv_rate"], ("driver_id", I(1001)));
        Assert.Equal(FieldStatus.OutsideMaxAge, stale.Columns[1].Statuses[0]);
        Assert.True(stale.Columns[1].Values[0].IsNull);
        Assert.Equal(Micros.From(T0), stale.Columns[1].EventMicros[0]);
    }

    [Fact]
    public async Task A_view_without_ttl_never_expires_and_nulls_are_null_value()
    {
        await _store.PushAsync("rider_push", Rows(("rider_id", S("r1")), ("rating", [FeatureValue.Null]), ("city", S("paris")), ("ts", Ts(T0))), PushTarget.Online);
        _clock.Now = T0.AddYears(3);

        var r = await Get(["rider_stats:rating", "rider_stats:city"], ("rider_id", S("r1")));

        Assert.Equal(FieldStatus.NullValue, r.Columns[1].Statuses[0]);
        Assert.Equal(FieldStatus.Present, r.Columns[2].Statuses[0]);
    }

    [Fact]
    public async Task A_feature_service_reads_several_views_with_full_names()
    {
        await PushDrivers([7], [0.75], [T0]);
        await _store.PushAsync("rider_push", Rows(("rider_id", S("r1")), ("rating", D(4.5)), ("city", S("oslo")), ("ts", Ts(T0))), PushTarget.Online);

        var r = await _store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            FeatureService = "svc",
            FullFeatureNames = true,
            Entities = new Dictionary<string, FeatureValue[]> { ["driver_id"] = I(7), ["rider_id"] = S("r1") },
        });

        Assert.Equal(["driver_id", "rider_id", "driver_stats__conv_rate", "rider_stats__rating", "rider_stats__city"], r.FeatureNames);
        Assert.Equal(4.5, r.Columns[3].Values[0].AsFloat64());
        Assert.Equal("oslo", r.Columns[4].Values[0].AsString());
    }

    [Fact]
    public async Task Same_feature_names_from_two_views_need_full_names()
    {
        var e = await Assert.ThrowsAsync<RequestException>(() => Get(["driver_stats:city", "rider_stats:city"], ("driver_id", I(1)), ("rider_id", S("a"))));

        Assert.Equal("duplicate_feature", e.Code);
        Assert.Contains("full_feature_names", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nope:conv_rate", "unknown_view", "features[0]")]
    [InlineData("driver_stats:nope", "unknown_feature", "features[0]")]
    [InlineData("driver stats", "bad_reference", "features[0]")]
    [InlineData("driver_stats@v9:conv_rate", "unknown_version", "features[0]")]
    public async Task Bad_feature_references_name_the_field(string feature, string code, string field)
    {
        var e = await Assert.ThrowsAsync<RequestException>(() => Get([feature], ("driver_id", I(1))));

        Assert.Equal(code, e.Code);
        Assert.Equal(field, e.Field);
        Assert.Equal(400, e.Status);
    }

    [Fact]
    public async Task Bad_entities_are_reported()
    {
        var missing = await Assert.ThrowsAsync<RequestException>(() => Get(["driver_stats:conv_rate"], ("rider_id", S("x"))));
        Assert.Equal("missing_join_key", missing.Code);
        Assert.Contains("'driver_id'", missing.Message, StringComparison.Ordinal);

        var lengths = await Assert.ThrowsAsync<RequestException>(() => Get(["driver_stats:conv_rate"], ("driver_id", I(1, 2)), ("other", I(1))));
        Assert.Equal("mismatched_lengths", lengths.Code);

        var type = await Assert.ThrowsAsync<RequestException>(() => Get(["driver_stats:conv_rate"], ("driver_id", S("abc"))));
        Assert.Equal("wrong_type", type.Code);
        Assert.Equal("entities.driver_id[0]", type.Field);

        var tooMany = await Assert.ThrowsAsync<RequestException>(() => Get(["driver_stats:conv_rate"], ("driver_id", I([.. Enumerable.Range(0, 101).Select(i => (long)i)]))));
        Assert.Equal(413, tooMany.Status);
    }

    [Fact]
    public async Task A_bad_pushed_row_rejects_the_whole_push()
    {
        var e = await Assert.ThrowsAsync<RequestException>(() => _store.PushAsync("driver_push", Rows(
            ("driver_id", I(1, 2)), ("conv_rate", [FeatureValue.FromFloat64(0.1), FeatureValue.FromString("high")]), ("trips", I(1, 2)), ("city", S("a", "b")),
            ("event_timestamp", Ts(T0, T0)), ("created", Ts(T0, T0))), PushTarget.Online).AsTask());

        Assert.Equal("df.conv_rate[1]", e.Field);
        var r = await Get(["driver_stats:conv_rate"], ("driver_id", I(1)));
        Assert.Equal(FieldStatus.NotFound, r.Columns[1].Statuses[0]);
    }

    [Fact]
    public async Task Plans_are_cached_per_registry_version()
    {
        await Get(["driver_stats:conv_rate"], ("driver_id", I(1)));
        await Get(["driver_stats:conv_rate"], ("driver_id", I(2)));
        Assert.Equal(1, _store.Registry.CachedPlans);

        await Get(["driver_stats:trips"], ("driver_id", I(2)));
        Assert.Equal(2, _store.Registry.CachedPlans);
    }

    [Fact]
    public async Task A_feature_list_changed_after_a_read_gets_its_own_plan()
    {
        await PushDrivers([1], [0.5], [T0]);
        var features = new[] { "driver_stats:conv_rate" };
        var first = await _store.GetOnlineFeaturesAsync(new OnlineRequest { Features = features, Entities = new Dictionary<string, FeatureValue[]> { ["driver_id"] = I(1) } });

        features[0] = "driver_stats:trips";
        var second = await _store.GetOnlineFeaturesAsync(new OnlineRequest { Features = features, Entities = new Dictionary<string, FeatureValue[]> { ["driver_id"] = I(1) } });

        Assert.Equal(["driver_id", "conv_rate"], first.FeatureNames);
        Assert.Equal(["driver_id", "trips"], second.FeatureNames);
        Assert.Equal(2, _store.Registry.CachedPlans);
    }

    [Fact]
    public async Task A_feature_service_and_a_feature_list_do_not_share_a_plan()
    {
        await Get(["driver_stats:conv_rate"], ("driver_id", I(1)));
        var byService = await _store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            FeatureService = "svc",
            Entities = new Dictionary<string, FeatureValue[]> { ["driver_id"] = I(1), ["rider_id"] = S("r") },
        });

        Assert.Contains("rating", byService.FeatureNames);
        Assert.Equal(2, _store.Registry.CachedPlans);
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
