using Freshet.Model;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.DuckDb.Tests;

/// <summary>Pushed rows archived as Parquet files and read back.</summary>
public sealed class OfflineSinkTests
{
    private static readonly PushSource Push = new("driver_stats_push_source") { TimestampField = "event_timestamp" };

    /// <summary>Rows as a push request brings them: JSON numbers are int64 or float64, timestamps are text.</summary>
    private static ColumnTable PushedRows() => new(new Dictionary<string, FeatureValue[]>
    {
        ["driver_id"] = [FeatureValue.FromInt64(1001), FeatureValue.FromInt64(1002), FeatureValue.FromInt64(1001)],
        ["conv_rate"] = [FeatureValue.FromFloat64(0.5), FeatureValue.FromFloat64(0.25), FeatureValue.FromFloat64(0.75)],
        ["avg_daily_trips"] = [FeatureValue.FromInt64(10), FeatureValue.Null, FeatureValue.FromInt64(30)],
        ["event_timestamp"] =
        [
            FeatureValue.FromString("2024-05-01T10:00:00Z"),
            FeatureValue.FromString("2024-05-01T12:30:00+02:00"),
            FeatureValue.FromString("2024-05-01 11:00:00.123456"),
        ],
    });

    [Fact]
    public async Task Appended_rows_read_back_with_the_same_values()
    {
        using var dir = new TempDirectory();

        var file = await new DuckDbOfflineSink().AppendAsync(Push, PushedRows(), dir.Path);

        Assert.StartsWith(Path.Combine(dir.Path, "offline", "driver_stats_push_source", "part-"), file, StringComparison.Ordinal);
        Assert.EndsWith(".parquet", file, StringComparison.Ordinal);
        var glob = Path.Combine(dir.Path, "offline", "driver_stats_push_source", "*.parquet");
        var rows = PlainDuckDb.Query($"SELECT driver_id, conv_rate, avg_daily_trips, epoch_us(event_timestamp), typeof(event_timestamp) FROM read_parquet({PlainDuckDb.Quote(glob)}) ORDER BY epoch_us(event_timestamp)");
        Assert.Equal(3, rows.Count);
        Assert.Equal([1001L, 0.5, 10L, Micros.From(Quickstart.At("2024-05-01T10:00:00Z")), "TIMESTAMP WITH TIME ZONE"], rows[0]);
        Assert.Equal([1002L, 0.25, null, Micros.From(Quickstart.At("2024-05-01T10:30:00Z")), "TIMESTAMP WITH TIME ZONE"], rows[1]);
        Assert.Equal([1001L, 0.75, 30L, Micros.From(Quickstart.At("2024-05-01T11:00:00.123456Z")), "TIMESTAMP WITH TIME ZONE"], rows[2]);
    }

    [Fact]
    public async Task The_push_source_schema_sets_the_column_types()
    {
        using var dir = new TempDirectory();
        var push = Push with
        {
            Schema = [new Field("driver_id", FeatureType.Of(ScalarKind.Int64)), new Field("conv_rate", FeatureType.Of(ScalarKind.Float32)), new Field("avg_daily_trips", FeatureType.Of(ScalarKind.Int32))],
        };

        var file = await new DuckDbOfflineSink().AppendAsync(push, PushedRows(), dir.Path);

        var types = PlainDuckDb.Query($"DESCRIBE SELECT * FROM read_parquet({PlainDuckDb.Quote(file)})").ToDictionary(r => (string)r[0]!, r => (string)r[1]!);
        Assert.Equal("BIGINT", types["driver_id"]);
        Assert.Equal("FLOAT", types["conv_rate"]);
        Assert.Equal("INTEGER", types["avg_daily_trips"]);
        Assert.Equal("TIMESTAMP WITH TIME ZONE", types["event_timestamp"]);
    }

    [Fact]
    public async Task A_value_that_does_not_fit_the_schema_is_rejected_and_nothing_is_written()
    {
        using var dir = new TempDirectory();
        var push = Push with { Schema = [new Field("avg_daily_trips", FeatureType.Of(ScalarKind.Int32))] };
        var rows = new ColumnTable(new Dictionary<string, FeatureValue[]> { ["avg_daily_trips"] = [FeatureValue.FromString("many")] });

        var e = await Assert.ThrowsAsync<RequestException>(() => new DuckDbOfflineSink().AppendAsync(push, rows, dir.Path));

        Assert.Equal("wrong_type", e.Code);
        Assert.Equal("df.avg_daily_trips[0]", e.Field);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "offline", "driver_stats_push_source")) && Directory.EnumerateFileSystemEntries(Path.Combine(dir.Path, "offline", "driver_stats_push_source")).Any());
    }

    [Fact]
    public async Task Each_append_writes_a_new_uniquely_named_file_and_leaves_no_temporary_file()
    {
        using var dir = new TempDirectory();
        var sameInstant = new FixedClock(Quickstart.At("2024-05-01T10:00:00Z"));
        var sink = new DuckDbOfflineSink(sameInstant);

        var first = await sink.AppendAsync(Push, PushedRows(), dir.Path);
        var second = await sink.AppendAsync(Push, PushedRows(), dir.Path);

        Assert.NotEqual(first, second);
        var entries = Directory.GetFileSystemEntries(Path.Combine(dir.Path, "offline", "driver_stats_push_source")).Order().ToArray();
        Assert.Equal(new[] { first, second }.Order(), entries);
        Assert.All(entries, e => Assert.Matches(@"part-20240501T1000000000000Z-[0-9a-f]{32}\.parquet$", e));
    }

    [Fact]
    public async Task Appended_files_feed_the_offline_source_through_a_glob()
    {
        using var dir = new TempDirectory();
        var sink = new DuckDbOfflineSink();
        await sink.AppendAsync(Push, PushedRows(), dir.Path);
        await sink.AppendAsync(Push, new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["driver_id"] = [FeatureValue.FromInt64(1002)],
            ["conv_rate"] = [FeatureValue.FromFloat64(0.125)],
            ["avg_daily_trips"] = [FeatureValue.FromInt64(40)],
            ["event_timestamp"] = [FeatureValue.FromString("2024-05-01T11:30:00Z")],
        }), dir.Path);
        var view = new FeatureView("driver_hourly_stats_fresh", ["driver"], "driver_stats_push_source",
            [new Field("conv_rate", FeatureType.Of(ScalarKind.Float32)), new Field("avg_daily_trips", FeatureType.Of(ScalarKind.Int32))]);
        var archive = new FileSource("driver_archive", "offline/driver_stats_push_source/*.parquet") { TimestampField = "event_timestamp" };

        var rows = Quickstart.Rows(await Quickstart.ReadAsync(view, Quickstart.DriverKey, archive, dir.Path, DateTimeOffset.UnixEpoch, Quickstart.At("2100-01-01T00:00:00Z")))
            .ToDictionary(r => r["driver_id"].AsInt64());

        Assert.Equal(FeatureValue.FromFloat32(0.75f), rows[1001]["conv_rate"]);
        Assert.Equal(FeatureValue.FromInt32(30), rows[1001]["avg_daily_trips"]);
        Assert.Equal(FeatureValue.FromFloat32(0.125f), rows[1002]["conv_rate"]);
        Assert.Equal(FeatureValue.FromInt32(40), rows[1002]["avg_daily_trips"]);
    }

    [Fact]
    public async Task Lists_bytes_and_all_null_columns_are_written()
    {
        using var dir = new TempDirectory();
        var rows = new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["event_timestamp"] = [FeatureValue.FromTimestamp(Quickstart.At("2024-05-01T10:00:00Z"))],
            ["embedding"] = [FeatureValue.FromList(ValueKind.Float32List, new[] { 0.5f, 0.25f })],
            ["tags"] = [FeatureValue.FromList(ValueKind.StringList, new[] { "a", "b" })],
            ["payload"] = [FeatureValue.FromBytes([1, 2, 3])],
            ["nothing"] = [FeatureValue.Null],
        });

        var file = await new DuckDbOfflineSink().AppendAsync(Push, rows, dir.Path);

        var row = Assert.Single(PlainDuckDb.Query($"SELECT embedding, tags, payload, nothing FROM read_parquet({PlainDuckDb.Quote(file)})"));
        Assert.Equal([0.5f, 0.25f], (List<float>)row[0]!);
        Assert.Equal(["a", "b"], (List<string>)row[1]!);
        Assert.Null(row[3]);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
