using Freshet.Model;
using Freshet.Serving;

namespace Freshet.DuckDb.Tests;

/// <summary>Sources that cannot be read give errors naming the view, the column and the file.</summary>
public sealed class SourceErrorTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.UnixEpoch;
    private static readonly DateTimeOffset End = Quickstart.At("2100-01-01T00:00:00Z");

    [Fact]
    public async Task A_missing_feature_column_names_the_view_the_column_and_the_file()
    {
        var view = Quickstart.View(new Field("no_such_feature", FeatureType.Of(ScalarKind.Float64)));

        var e = await Assert.ThrowsAsync<RequestException>(() => Quickstart.ReadAsync(view, Quickstart.DriverKey, Quickstart.Source(Quickstart.ParquetPath), "/", Start, End));

        Assert.Equal("missing_column", e.Code);
        Assert.Equal("driver_hourly_stats.no_such_feature", e.Field);
        Assert.Contains("driver_hourly_stats", e.Message, StringComparison.Ordinal);
        Assert.Contains("'no_such_feature'", e.Message, StringComparison.Ordinal);
        Assert.Contains(Quickstart.ParquetPath, e.Message, StringComparison.Ordinal);
        Assert.Contains("conv_rate", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_created_column_is_an_error()
    {
        var e = await Assert.ThrowsAsync<RequestException>(() =>
            Quickstart.ReadAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source(Quickstart.ParquetPath, created: "created_at"), "/", Start, End));

        Assert.Equal("missing_column", e.Code);
        Assert.Contains("'created_at'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_that_does_not_fit_its_declared_type_names_the_view_the_column_and_the_file()
    {
        using var dir = new TempDirectory();
        var file = dir.File("big.parquet");
        PlainDuckDb.WriteParquet(file, "SELECT 1001::BIGINT AS driver_id, 0.5::DOUBLE AS conv_rate, 0.5::DOUBLE AS acc_rate, 10000000000::BIGINT AS avg_daily_trips, TIMESTAMPTZ '2024-05-01 10:00:00+00' AS event_timestamp");

        var e = await Assert.ThrowsAsync<RequestException>(() =>
            Quickstart.ReadAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source("big.parquet", created: null), dir.Path, Start, End));

        Assert.Equal("wrong_type", e.Code);
        Assert.Equal("driver_hourly_stats.avg_daily_trips", e.Field);
        Assert.Contains("driver_hourly_stats", e.Message, StringComparison.Ordinal);
        Assert.Contains("'avg_daily_trips'", e.Message, StringComparison.Ordinal);
        Assert.Contains(file, e.Message, StringComparison.Ordinal);
        Assert.Contains("int32", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Widening_and_narrowing_that_lose_nothing_are_accepted()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("wide.parquet"), "SELECT 1001::INTEGER AS driver_id, 0.5::DOUBLE AS conv_rate, 0.25::DOUBLE AS acc_rate, 7::BIGINT AS avg_daily_trips, TIMESTAMPTZ '2024-05-01 10:00:00+00' AS event_timestamp");

        var row = Assert.Single(Quickstart.Rows(await Quickstart.ReadAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source("wide.parquet", created: null), dir.Path, Start, End)));

        Assert.Equal(Values.FeatureValue.FromInt64(1001), row["driver_id"]);
        Assert.Equal(Values.FeatureValue.FromFloat32(0.5f), row["conv_rate"]);
        Assert.Equal(Values.FeatureValue.FromInt32(7), row["avg_daily_trips"]);
    }

    [Fact]
    public async Task An_event_time_column_that_is_not_a_time_is_an_error()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("bool.parquet"), "SELECT 1001 AS driver_id, 0.5 AS conv_rate, 0.5 AS acc_rate, 7 AS avg_daily_trips, true AS event_timestamp");

        var e = await Assert.ThrowsAsync<RequestException>(() =>
            Quickstart.ReadAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source("bool.parquet", created: null), dir.Path, Start, End));

        Assert.Equal("wrong_type", e.Code);
        Assert.Contains("'event_timestamp'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_path_that_matches_no_file_is_an_error()
    {
        using var dir = new TempDirectory();

        var e = await Assert.ThrowsAsync<RequestException>(() =>
            Quickstart.ReadAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source("nothing/*.parquet"), dir.Path, Start, End));

        Assert.Equal("source_not_found", e.Code);
        Assert.Contains(Path.Combine(dir.Path, "nothing/*.parquet"), e.Message, StringComparison.Ordinal);
    }
}
