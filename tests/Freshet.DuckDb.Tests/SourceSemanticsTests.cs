using Freshet.Model;
using Freshet.Values;

namespace Freshet.DuckDb.Tests;

/// <summary>The interval bounds, tie breaking, formats and globs, on small files written by plain DuckDB.</summary>
public sealed class SourceSemanticsTests
{
    private static readonly DateTimeOffset Start = Quickstart.At("2024-05-01T10:00:00Z");
    private static readonly DateTimeOffset End = Quickstart.At("2024-05-01T12:00:00Z");

    private static readonly FeatureView View = new("scores", ["user"], "scores_source", [new Field("score", FeatureType.Of(ScalarKind.Int64))]);
    private static readonly JoinKey[] UserKey = [new("user_id", FeatureType.Of(ScalarKind.Int64))];

    private static FileSource Source(string path, FileFormat format = FileFormat.Parquet, string? created = "created") =>
        new("scores_source", path) { Format = format, TimestampField = "ts", CreatedTimestampField = created };

    private static async Task<Dictionary<long, Dictionary<string, FeatureValue>>> Latest(FileSource source, string repo, int batchSize = 1000)
    {
        var batches = await Quickstart.ReadAsync(View, UserKey, source, repo, Start, End, batchSize);
        return Quickstart.Rows(batches).ToDictionary(r => r["user_id"].AsInt64());
    }

    [Fact]
    public async Task Start_is_inclusive_and_end_is_exclusive()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("bounds.parquet"), """
            SELECT * FROM (VALUES
              (1, 10, TIMESTAMPTZ '2024-05-01 10:00:00+00'),
              (1, 11, TIMESTAMPTZ '2024-05-01 12:00:00+00'),
              (2, 20, TIMESTAMPTZ '2024-05-01 12:00:00+00'),
              (3, 30, TIMESTAMPTZ '2024-05-01 09:59:59.999999+00'),
              (4, 40, TIMESTAMPTZ '2024-05-01 10:00:00+00'),
              (4, 41, TIMESTAMPTZ '2024-05-01 11:59:59.999999+00')
            ) t(user_id, score, ts)
            """);

        var latest = await Latest(Source("bounds.parquet", created: null), dir.Path);

        Assert.Equal([1L, 4L], latest.Keys.Order());
        Assert.Equal(10, latest[1]["score"].AsInt64());
        Assert.Equal(41, latest[4]["score"].AsInt64());
        Assert.Equal(FeatureValue.FromTimestamp(Start), latest[1]["ts"]);
        Assert.Equal(FeatureValue.FromTimestamp(End.AddTicks(-10)), latest[4]["ts"]);
    }

    [Fact]
    public async Task Ties_on_event_time_go_to_the_greatest_created_time()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("ties.parquet"), """
            SELECT * FROM (VALUES
              (1, 1, TIMESTAMP '2024-05-01 11:00:00', TIMESTAMP '2024-05-02 00:00:00'),
              (1, 2, TIMESTAMP '2024-05-01 11:00:00', TIMESTAMP '2024-05-03 00:00:00'),
              (1, 3, TIMESTAMP '2024-05-01 11:00:00', TIMESTAMP '2024-05-01 00:00:00'),
              (2, 4, TIMESTAMP '2024-05-01 11:00:00', NULL),
              (2, 5, TIMESTAMP '2024-05-01 11:00:00', TIMESTAMP '2024-05-01 00:00:00'),
              (3, 6, TIMESTAMP '2024-05-01 11:30:00', TIMESTAMP '2024-05-01 00:00:00'),
              (3, 7, TIMESTAMP '2024-05-01 11:00:00', TIMESTAMP '2024-06-01 00:00:00')
            ) t(user_id, score, ts, created)
            """);

        var latest = await Latest(Source("ties.parquet"), dir.Path);

        Assert.Equal(2, latest[1]["score"].AsInt64());
        Assert.Equal(FeatureValue.FromTimestamp(Quickstart.At("2024-05-03T00:00:00Z")), latest[1]["created"]);
        Assert.Equal(5, latest[2]["score"].AsInt64());
        Assert.Equal(6, latest[3]["score"].AsInt64());
    }

    [Fact]
    public async Task Batches_of_many_keys_hold_at_most_the_batch_size_and_cover_every_key_once()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("many.parquet"), """
            SELECT k AS user_id, k * 10 + h AS score, TIMESTAMPTZ '2024-05-01 10:00:00+00' + to_minutes(h * 20) AS ts
            FROM range(25) a(k), range(4) b(h)
            """);

        var batches = await Quickstart.ReadAsync(View, UserKey, Source("many.parquet", created: null), dir.Path, Start, End, batchSize: 7);

        Assert.Equal([7, 7, 7, 4], batches.Select(b => b.RowCount).Order().Reverse());
        var rows = Quickstart.Rows(batches);
        Assert.Equal(Enumerable.Range(0, 25).Select(k => (long)k), rows.Select(r => r["user_id"].AsInt64()).Order());
        Assert.All(rows, r => Assert.Equal((r["user_id"].AsInt64() * 10) + 3, r["score"].AsInt64()));
    }

    [Fact]
    public async Task Csv_is_read_with_its_header_and_timestamps_without_offset_are_utc()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("scores.csv"), """
            user_id,score,ts,created
            1,5,2024-05-01 10:30:00,2024-05-01 10:30:00
            1,6,2024-05-01 11:15:00,2024-05-01 11:15:00
            2,7,2024-05-01 11:59:00,2024-05-01 11:59:00
            2,8,2024-05-01 12:00:00,2024-05-01 12:00:00
            3,9,2024-05-01 09:00:00,2024-05-01 09:00:00
            """);

        var latest = await Latest(Source("scores.csv", FileFormat.Csv), dir.Path);

        Assert.Equal([1L, 2L], latest.Keys.Order());
        Assert.Equal(6, latest[1]["score"].AsInt64());
        Assert.Equal(FeatureValue.FromTimestamp(Quickstart.At("2024-05-01T11:15:00Z")), latest[1]["ts"]);
        Assert.Equal(7, latest[2]["score"].AsInt64());
    }

    [Fact]
    public async Task Csv_timestamps_with_an_offset_are_converted_to_utc()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("offsets.csv"), """
            user_id,score,ts
            1,5,2024-05-01T14:00:00+02:00
            2,6,2024-05-01T12:30:00+02:00
            """);

        var latest = await Latest(Source("offsets.csv", FileFormat.Csv, created: null), dir.Path);

        Assert.Equal([2L], latest.Keys);
        Assert.Equal(FeatureValue.FromTimestamp(Quickstart.At("2024-05-01T10:30:00Z")), latest[2]["ts"]);
    }

    [Fact]
    public async Task Naive_parquet_timestamps_are_utc()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("naive.parquet"), "SELECT 1 AS user_id, 1 AS score, TIMESTAMP '2024-05-01 10:00:00' AS ts");

        var latest = await Latest(Source("naive.parquet", created: null), dir.Path);

        Assert.Equal(FeatureValue.FromTimestamp(Start), latest[1]["ts"]);
    }

    [Fact]
    public async Task A_glob_reads_every_matching_file()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("parts/a.parquet"), """
            SELECT * FROM (VALUES (1, 1, TIMESTAMPTZ '2024-05-01 11:00:00+00'), (2, 2, TIMESTAMPTZ '2024-05-01 10:30:00+00')) t(user_id, score, ts)
            """);
        PlainDuckDb.WriteParquet(dir.File("parts/b.parquet"), """
            SELECT * FROM (VALUES (1, 3, TIMESTAMPTZ '2024-05-01 10:30:00+00'), (2, 4, TIMESTAMPTZ '2024-05-01 11:00:00+00'), (3, 5, TIMESTAMPTZ '2024-05-01 10:00:00+00')) t(user_id, score, ts)
            """);
        File.WriteAllText(dir.File("parts/notes.txt"), "not parquet");

        var latest = await Latest(Source("parts/*.parquet", created: null), dir.Path);

        Assert.Equal([1L, 2L, 3L], latest.Keys.Order());
        Assert.Equal(1, latest[1]["score"].AsInt64());
        Assert.Equal(4, latest[2]["score"].AsInt64());
        Assert.Equal(5, latest[3]["score"].AsInt64());
    }

    [Fact]
    public async Task Names_and_paths_with_quotes_are_read_as_they_are()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("it's \"here\"/x.parquet"), """
            SELECT 1 AS "user""id", 42 AS "sco'); DROP TABLE x; --", TIMESTAMPTZ '2024-05-01 10:00:00+00' AS ts
            """);
        var view = new FeatureView("odd", ["user"], "odd_source", [new Field("sco'); DROP TABLE x; --", FeatureType.Of(ScalarKind.Int64))]);
        JoinKey[] keys = [new("user\"id", FeatureType.Of(ScalarKind.Int64))];

        var rows = Quickstart.Rows(await Quickstart.ReadAsync(view, keys, Source("it's \"here\"/x.parquet", created: null), dir.Path, Start, End));

        var row = Assert.Single(rows);
        Assert.Equal(42, row["sco'); DROP TABLE x; --"].AsInt64());
        Assert.Equal(1, row["user\"id"].AsInt64());
    }

    [Fact]
    public async Task Lists_are_converted_to_their_declared_type()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("lists.parquet"), """
            SELECT 1 AS user_id, [1, 2, 3] AS score, [0.5, 0.25]::DOUBLE[] AS embedding, ['a', 'b'] AS tags, TIMESTAMPTZ '2024-05-01 10:00:00+00' AS ts
            """);
        var view = new FeatureView("lists", ["user"], "lists_source",
        [
            new Field("score", FeatureType.ListOf(ScalarKind.Int32)),
            new Field("embedding", FeatureType.VectorOf(2)),
            new Field("tags", FeatureType.ListOf(ScalarKind.String)),
        ]);

        var row = Assert.Single(Quickstart.Rows(await Quickstart.ReadAsync(view, UserKey, Source("lists.parquet", created: null), dir.Path, Start, End)));

        Assert.Equal([1, 2, 3], (int[])row["score"].AsList());
        Assert.Equal([0.5f, 0.25f], (float[])row["embedding"].AsList());
        Assert.Equal(ValueKind.Float32List, row["embedding"].Kind);
        Assert.Equal(["a", "b"], (string[])row["tags"].AsList());
    }

    [Fact]
    public async Task Event_times_as_text_or_unix_seconds_are_read_as_instants()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("text.parquet"), """
            SELECT * FROM (VALUES (1, 1, '2024-05-01T11:00:00Z'), (1, 2, '2024-05-01T12:00:00Z'), (2, 3, '2024-05-01 10:00:00')) t(user_id, score, ts)
            """);
        PlainDuckDb.WriteParquet(dir.File("seconds.parquet"), $"""
            SELECT * FROM (VALUES (1, 1, {Start.ToUnixTimeSeconds()}), (1, 2, {End.ToUnixTimeSeconds()}), (2, 3, {Start.ToUnixTimeSeconds() + 60})) t(user_id, score, ts)
            """);

        var text = await Latest(Source("text.parquet", created: null), dir.Path);
        var seconds = await Latest(Source("seconds.parquet", created: null), dir.Path);

        Assert.Equal(1, text[1]["score"].AsInt64());
        Assert.Equal(FeatureValue.FromTimestamp(Start), text[2]["ts"]);
        Assert.Equal(1, seconds[1]["score"].AsInt64());
        Assert.Equal(FeatureValue.FromTimestamp(Start.AddMinutes(1)), seconds[2]["ts"]);
    }

    [Fact]
    public async Task Rows_with_a_null_join_key_or_event_time_are_skipped()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("nulls.parquet"), """
            SELECT * FROM (VALUES
              (1, 1, TIMESTAMPTZ '2024-05-01 10:00:00+00'),
              (1, 2, NULL),
              (NULL, 3, TIMESTAMPTZ '2024-05-01 11:00:00+00')
            ) t(user_id, score, ts)
            """);

        var latest = await Latest(Source("nulls.parquet", created: null), dir.Path);

        Assert.Equal([1L], latest.Keys);
        Assert.Equal(1, latest[1]["score"].AsInt64());
    }

    [Fact]
    public async Task An_entity_key_of_several_join_keys_partitions_by_all_of_them()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("pairs.parquet"), """
            SELECT * FROM (VALUES
              ('a', 1, 1, TIMESTAMPTZ '2024-05-01 10:00:00+00'),
              ('a', 1, 2, TIMESTAMPTZ '2024-05-01 11:00:00+00'),
              ('a', 2, 3, TIMESTAMPTZ '2024-05-01 10:00:00+00'),
              ('b', 1, 4, TIMESTAMPTZ '2024-05-01 10:30:00+00')
            ) t(city, user_id, score, ts)
            """);
        JoinKey[] keys = [new("city", FeatureType.Of(ScalarKind.String)), new("user_id", FeatureType.Of(ScalarKind.Int64))];

        var rows = Quickstart.Rows(await Quickstart.ReadAsync(View, keys, Source("pairs.parquet", created: null), dir.Path, Start, End));

        var scores = rows.ToDictionary(r => (r["city"].AsString(), r["user_id"].AsInt64()), r => r["score"].AsInt64());
        Assert.Equal(new Dictionary<(string, long), long> { [("a", 1)] = 2, [("a", 2)] = 3, [("b", 1)] = 4 }, scores);
    }

    [Fact]
    public async Task Large_batches_grow_to_the_batch_size()
    {
        using var dir = new TempDirectory();
        PlainDuckDb.WriteParquet(dir.File("wide.parquet"), """
            SELECT k AS user_id, k AS score, TIMESTAMPTZ '2024-05-01 10:00:00+00' AS ts FROM range(3000) a(k)
            """);

        var batches = await Quickstart.ReadAsync(View, UserKey, Source("wide.parquet", created: null), dir.Path, Start, End, batchSize: 2500);

        Assert.Equal([2500, 500], batches.Select(b => b.RowCount).OrderDescending());
        Assert.All(Quickstart.Rows(batches), r => Assert.Equal(r["user_id"], r["score"]));
        Assert.Equal(3000, Quickstart.Rows(batches).Select(r => r["user_id"].AsInt64()).Distinct().Count());
    }
}
