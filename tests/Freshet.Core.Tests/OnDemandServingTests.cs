using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>On-demand features served online: request fields and other views' features, nulls, errors.</summary>
public sealed class OnDemandServingTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly InMemoryRegistryStore _registry = new();
    private FeatureStore _store = null!;

    public async Task InitializeAsync()
    {
        var repo = new RepoBuilder("odv")
            .Add(new Entity("driver", [new JoinKey("driver_id", FeatureType.Of(ScalarKind.Int64))]))
            .Add(new PushSource("driver_push") { TimestampField = "ts" })
            .Add(new RequestSource("req") { Schema = [new Field("val_to_add", FeatureType.Of(ScalarKind.Int64)), new Field("factor", FeatureType.Of(ScalarKind.Float64))] })
            .Add(new FeatureView("stats", ["driver"], "driver_push",
                [new Field("conv_rate", FeatureType.Of(ScalarKind.Float32)), new Field("trips", FeatureType.Of(ScalarKind.Int32)), new Field("city", FeatureType.Of(ScalarKind.String))])
            { Ttl = TimeSpan.FromHours(2) })
            .Add(new OnDemandView("derived", ["stats", "req"],
            [
                new OnDemandFeature("conv_plus", FeatureType.Of(ScalarKind.Float64), "conv_rate + val_to_add"),
                new OnDemandFeature("busy", FeatureType.Of(ScalarKind.Bool), "trips * factor > 10"),
                new OnDemandFeature("trips_or_zero", FeatureType.Of(ScalarKind.Int64), "coalesce(trips, 0)"),
            ]))
            .Add(new FeatureService("model", ["stats:city", "derived"]))
            .Build()
            .GetValueOrThrow();
        var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
        await _registry.CommitAsync(RegistryPlanner.Apply(null, plan, "test", T0), 0);
        _store = await FeatureStore.OpenAsync(_registry, new InMemoryOnlineStore(), repo.Config, ".", new FeatureStoreOptions { Clock = new FixedClock(T0.AddHours(1)) });
        await _store.PushAsync("driver_push", new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["driver_id"] = [FeatureValue.FromInt64(1), FeatureValue.FromInt64(2), FeatureValue.FromInt64(3)],
            ["conv_rate"] = [FeatureValue.FromFloat64(0.5), FeatureValue.FromFloat64(0.25), FeatureValue.FromFloat64(0.75)],
            ["trips"] = [FeatureValue.FromInt64(4), FeatureValue.FromInt64(30), FeatureValue.Null],
            ["city"] = [FeatureValue.FromString("a"), FeatureValue.FromString("b"), FeatureValue.FromString("c")],
            ["ts"] = [FeatureValue.FromTimestamp(T0), FeatureValue.FromTimestamp(T0), FeatureValue.FromTimestamp(T0.AddHours(-5))],
        }), PushTarget.Online);
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private static Dictionary<string, FeatureValue[]> Entities(long[] ids, long[] add, double[] factor) => new()
    {
        ["driver_id"] = [.. ids.Select(v => FeatureValue.FromInt64(v))],
        ["val_to_add"] = [.. add.Select(v => FeatureValue.FromInt64(v))],
        ["factor"] = [.. factor.Select(v => FeatureValue.FromFloat64(v))],
    };

    [Fact]
    public async Task On_demand_features_combine_request_fields_with_features_that_were_not_requested()
    {
        var r = await _store.GetOnlineFeaturesAsync(new OnlineRequest { FeatureService = "model", Entities = Entities([1, 2, 3, 9], [10, 20, 30, 40], [2, 0.5, 1, 1]) });

        Assert.Equal(["driver_id", "city", "conv_plus", "busy", "trips_or_zero"], r.FeatureNames);
        Assert.Equal(5, r.Columns.Length);
        Assert.Equal(FeatureValue.FromFloat64(0.5f + 10.0), r.Columns[2].Values[0]);
        Assert.Equal(FeatureValue.FromFloat64(0.25f + 20.0), r.Columns[2].Values[1]);
        Assert.Equal(FeatureValue.FromBool(false), r.Columns[3].Values[0]);
        Assert.Equal(FeatureValue.FromBool(true), r.Columns[3].Values[1]);
        Assert.Equal(FeatureValue.FromInt64(30), r.Columns[4].Values[1]);

        // Driver 3's row is older than the 2h ttl: its features are no input, so conv_plus is null and coalesce gives 0.
        Assert.Equal(FieldStatus.OutsideMaxAge, r.Columns[1].Statuses[2]);
        Assert.Equal(FieldStatus.NullValue, r.Columns[2].Statuses[2]);
        Assert.Equal(FeatureValue.FromInt64(0), r.Columns[4].Values[2]);
        Assert.Equal(FieldStatus.Present, r.Columns[4].Statuses[2]);

        // Driver 9 does not exist: the same.
        Assert.Equal(FieldStatus.NotFound, r.Columns[1].Statuses[3]);
        Assert.Equal(FieldStatus.NullValue, r.Columns[2].Statuses[3]);
        Assert.Equal(FeatureValue.FromInt64(0), r.Columns[4].Values[3]);
    }

    [Fact]
    public async Task A_missing_request_field_is_a_request_error_naming_it()
    {
        var entities = Entities([1], [10], [1]);
        entities.Remove("val_to_add");

        var e = await Assert.ThrowsAsync<RequestException>(() => _store.GetOnlineFeaturesAsync(new OnlineRequest { Features = ["derived:conv_plus"], Entities = entities }).AsTask());

        Assert.Equal("missing_request_field", e.Code);
        Assert.Contains("'val_to_add'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_field_of_the_wrong_type_is_a_request_error_naming_the_row()
    {
        var entities = Entities([1, 2], [10, 20], [1, 1]);
        entities["val_to_add"] = [FeatureValue.FromInt64(1), FeatureValue.FromString("many")];

        var e = await Assert.ThrowsAsync<RequestException>(() => _store.GetOnlineFeaturesAsync(new OnlineRequest { Features = ["derived:conv_plus"], Entities = entities }).AsTask());

        Assert.Equal("entities.val_to_add[1]", e.Field);
    }

    [Fact]
    public async Task Requested_inputs_are_served_once_and_full_names_apply_to_on_demand_features()
    {
        var r = await _store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            Features = ["derived:conv_plus", "stats:conv_rate"],
            Entities = Entities([1], [1], [1]),
            FullFeatureNames = true,
        });

        Assert.Equal(["driver_id", "derived__conv_plus", "stats__conv_rate"], r.FeatureNames);
        Assert.Equal(FeatureValue.FromFloat32(0.5f), r.Columns[2].Values[0]);
        Assert.Equal(FeatureValue.FromFloat64(1.5), r.Columns[1].Values[0]);
    }
}

/// <summary>A clock that stays where it is set.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
