using Freshet.Serving;

namespace Freshet.DuckDb.Tests;

/// <summary>Feast's point-in-time rule for plain views (DESIGN §3), one edge at a time, over small Parquet files.</summary>
public sealed class HistoricalPlainViewTests : IDisposable
{
    private const string Definitions = """
        entities:
          - {name: user, join_keys: [{name: user_id, type: int64}]}
          - {name: shop, join_keys: [{name: shop_id, type: string}]}
        sources:
          - name: scores
            type: file
            path: data/scores.parquet
            timestamp_field: ts
            created_timestamp_field: created
          - name: shops
            type: file
            path: data/shops.csv
            format: csv
            timestamp_field: ts
        feature_views:
          - name: user_scores
            entities: [user]
            source: scores
            schema:
              - {name: score, type: int64}
              - {name: tier, type: string}
          - name: user_scores_1h
            entities: [user]
            source: scores
            ttl: 1h
            schema:
              - {name: score, type: int64}
          - name: shop_stats
            entities: [shop]
            source: shops
            schema:
              - {name: rating, type: float32}
        feature_services:
          - name: model
            features: [user_scores:score, shop_stats:rating]
        """;

    private readonly HistoricalRepo _repo = new(Definitions);

    public HistoricalPlainViewTests()
    {
        // user 1: rows at 10:00 (two created times, and a null created), 11:00; user 2: one row at 10:30.
        PlainDuckDb.WriteParquet(_repo.File("data/scores.parquet"), """
            SELECT * FROM (VALUES
              (1::BIGINT, TIMESTAMP '2024-05-01 10:00:00', TIMESTAMP '2024-05-01 10:05:00', 10::BIGINT, 'a'),
              (1::BIGINT, TIMESTAMP '2024-05-01 10:00:00', TIMESTAMP '2024-05-01 10:09:00', 11::BIGINT, 'b'),
              (1::BIGINT, TIMESTAMP '2024-05-01 10:00:00', NULL, 12::BIGINT, 'c'),
              (1::BIGINT, TIMESTAMP '2024-05-01 11:00:00', TIMESTAMP '2024-05-01 11:00:00', 20::BIGINT, 'd'),
              (2::BIGINT, TIMESTAMP '2024-05-01 10:30:00', TIMESTAMP '2024-05-01 10:30:00', 30::BIGINT, NULL)
            ) AS t(user_id, ts, created, score, tier)
            """);
        File.WriteAllText(_repo.File("data/shops.csv"), "shop_id,ts,rating\ns1,2024-05-01T09:00:00Z,4.5\ns1,2024-05-01T12:00:00Z,3.25\n");
    }

    public void Dispose() => _repo.Dispose();

    private string Entities(string values, string name = "entities.parquet")
    {
        var path = _repo.File(name);
        PlainDuckDb.WriteParquet(path, $"SELECT * FROM (VALUES {values}) AS t(user_id, event_timestamp, label)");
        return path;
    }

    [Fact]
    public async Task A_row_at_exactly_T_matches_and_the_greatest_created_time_wins_a_tie()
    {
        var rows = await _repo.RunAsync(Entities("(1::BIGINT, TIMESTAMPTZ '2024-05-01 10:00:00+00', 'x')"), ["user_scores:score", "user_scores:tier"]);
        var row = Assert.Single(rows);
        // Three rows at 10:00: created 10:05, 10:09 and null; the null loses, 10:09 wins.
        Assert.Equal(11L, row["score"]);
        Assert.Equal("b", row["tier"]);
    }

    [Fact]
    public async Task Latest_row_at_or_before_T_is_joined_and_nothing_before_the_first_row_gives_nulls()
    {
        var rows = await _repo.RunAsync(Entities("""
            (1::BIGINT, TIMESTAMPTZ '2024-05-01 09:59:59.999999+00', 'before'),
            (1::BIGINT, TIMESTAMPTZ '2024-05-01 10:59:59+00', 'between'),
            (1::BIGINT, TIMESTAMPTZ '2024-05-01 11:00:00+00', 'on'),
            (1::BIGINT, TIMESTAMPTZ '2030-01-01 00:00:00+00', 'long after'),
            (3::BIGINT, TIMESTAMPTZ '2024-05-01 12:00:00+00', 'unknown user'),
            (NULL, TIMESTAMPTZ '2024-05-01 12:00:00+00', 'null key')
            """), ["user_scores:score", "user_scores:tier"]);
        Assert.Equal(["before", "between", "on", "long after", "unknown user", "null key"], rows.Select(r => r["label"]));
        Assert.Equal(new object?[] { null, 11L, 20L, 20L, null, null }, rows.Select(r => r["score"]));
        // A matched row whose feature is null stays null.
        var late = await _repo.RunAsync(Entities("(2::BIGINT, TIMESTAMPTZ '2024-05-01 11:00:00+00', 'y')"), ["user_scores:tier", "user_scores:score"]);
        Assert.Null(late[0]["tier"]);
        Assert.Equal(30L, late[0]["score"]);
    }

    [Fact]
    public async Task Ttl_keeps_a_row_exactly_ttl_old_and_drops_one_a_microsecond_older()
    {
        var rows = await _repo.RunAsync(Entities("""
            (1::BIGINT, TIMESTAMPTZ '2024-05-01 11:00:00+00', 'on'),
            (1::BIGINT, TIMESTAMPTZ '2024-05-01 10:59:00+00', 'inside'),
            (1::BIGINT, TIMESTAMPTZ '2024-05-01 12:00:00+00', 'exactly ttl'),
            (1::BIGINT, TIMESTAMPTZ '2024-05-01 12:00:00.000001+00', 'just beyond'),
            (2::BIGINT, TIMESTAMPTZ '2024-05-01 11:30:00.000001+00', 'beyond')
            """), ["user_scores_1h:score", "user_scores:score"], fullNames: true);
        Assert.Equal(new object?[] { 20L, 11L, 20L, null, null }, rows.Select(r => r["user_scores_1h__score"]));
        // Without a ttl the same rows match.
        Assert.Equal(new object?[] { 20L, 11L, 20L, 20L, 30L }, rows.Select(r => r["user_scores__score"]));
    }

    [Fact]
    public async Task Duplicate_entity_rows_keep_their_order_and_every_column_passes_through()
    {
        var path = _repo.File("labels.parquet");
        PlainDuckDb.WriteParquet(path, """
            SELECT * FROM (VALUES
              (2::BIGINT, TIMESTAMPTZ '2024-05-01 12:00:00+00', 0.5::DOUBLE, true, 'z'),
              (1::BIGINT, TIMESTAMPTZ '2024-05-01 10:30:00+00', 1.5::DOUBLE, false, 'y'),
              (1::BIGINT, TIMESTAMPTZ '2024-05-01 10:30:00+00', 2.5::DOUBLE, NULL, 'x'),
              (2::BIGINT, TIMESTAMPTZ '2024-05-01 09:00:00+00', 3.5::DOUBLE, true, 'w')
            ) AS t(user_id, event_timestamp, amount, is_fraud, note)
            """);
        var rows = await _repo.RunAsync(path, ["user_scores:score"]);
        Assert.Equal(["user_id", "event_timestamp", "amount", "is_fraud", "note", "score"], rows[0].Keys);
        Assert.Equal(["z", "y", "x", "w"], rows.Select(r => r["note"]));
        Assert.Equal(new object?[] { 0.5, 1.5, 2.5, 3.5 }, rows.Select(r => r["amount"]));
        Assert.Equal(new object?[] { true, false, null, true }, rows.Select(r => r["is_fraud"]));
        Assert.Equal(new object?[] { 30L, 11L, 11L, null }, rows.Select(r => r["score"]));
        var output = Directory.GetFiles(_repo.File("out"), "*.parquet").Single();
        Assert.Equal(HistoricalRepo.Types(path)["amount"], HistoricalRepo.Types(output)["amount"]);
        Assert.Equal("TIMESTAMP WITH TIME ZONE", HistoricalRepo.Types(output)["event_timestamp"]);
    }

    [Fact]
    public async Task Several_views_with_different_keys_join_in_one_run_from_a_csv_entity_file()
    {
        var path = _repo.File("entities.csv");
        File.WriteAllText(path, "user_id,shop_id,event_timestamp,label\n1,s1,2024-05-01T10:30:00Z,1\n2,s1,2024-05-01T13:00:00+01:00,0\n1,s2,2024-05-01T12:00:00Z,1\n");
        var rows = await _repo.RunAsync(path, null, service: "model");
        Assert.Equal(new object?[] { 11L, 30L, 20L }, rows.Select(r => r["score"]));
        // 13:00+01:00 is 12:00 UTC: the 12:00 rating.
        Assert.Equal(new object?[] { 4.5f, 3.25f, null }, rows.Select(r => r["rating"]));
        var output = Directory.GetFiles(_repo.File("out"), "*.parquet").Single();
        var types = HistoricalRepo.Types(output);
        Assert.Equal("BIGINT", types["score"]);
        Assert.Equal("FLOAT", types["rating"]);
    }

    [Fact]
    public async Task Output_types_are_the_declared_ones_even_when_the_source_differs()
    {
        // rating is DOUBLE in the CSV and float32 in the view; score is BIGINT and int64.
        var rows = await _repo.RunAsync(Entities("(1::BIGINT, TIMESTAMPTZ '2024-05-01 10:30:00+00', 'x')"), ["user_scores:score", "user_scores:tier"], fullNames: true);
        Assert.IsType<long>(rows[0]["user_scores__score"]);
        Assert.IsType<string>(rows[0]["user_scores__tier"]);
    }

    [Fact]
    public async Task Missing_join_key_or_time_column_names_the_file_and_the_column()
    {
        var noKey = _repo.File("nokey.parquet");
        PlainDuckDb.WriteParquet(noKey, "SELECT 1::BIGINT AS uid, TIMESTAMP '2024-05-01 10:00:00' AS event_timestamp");
        var e = await Assert.ThrowsAsync<RequestException>(() => _repo.RunAsync(noKey, ["user_scores:score"]));
        Assert.Equal("entities.user_id", e.Field);
        Assert.Contains(noKey, e.Message, StringComparison.Ordinal);
        Assert.Contains("'user_id'", e.Message, StringComparison.Ordinal);

        var noTime = _repo.File("notime.parquet");
        PlainDuckDb.WriteParquet(noTime, "SELECT 1::BIGINT AS user_id, TIMESTAMP '2024-05-01 10:00:00' AS ts");
        e = await Assert.ThrowsAsync<RequestException>(() => _repo.RunAsync(noTime, ["user_scores:score"]));
        Assert.Equal("entities.event_timestamp", e.Field);
        Assert.Contains(noTime, e.Message, StringComparison.Ordinal);

        e = await Assert.ThrowsAsync<RequestException>(() => _repo.RunAsync(_repo.File("absent.parquet"), ["user_scores:score"]));
        Assert.Equal("source_not_found", e.Code);
    }

    [Theory]
    [InlineData("nope:score", null, "unknown_view")]
    [InlineData("user_scores:nope", null, "unknown_feature")]
    [InlineData(null, "nope", "unknown_feature_service")]
    public async Task Unknown_references_are_request_errors(string? feature, string? service, string code)
    {
        var entities = Entities("(1::BIGINT, TIMESTAMPTZ '2024-05-01 10:30:00+00', 'x')");
        var e = await Assert.ThrowsAsync<RequestException>(() => _repo.RunAsync(entities, feature is null ? null : [feature], service));
        Assert.Equal(code, e.Code);
    }

    [Fact]
    public async Task Spills_under_a_small_memory_limit_and_gives_the_same_result()
    {
        var values = string.Join(", ", Enumerable.Range(0, 200).Select(i => $"({1 + (i % 3)}::BIGINT, TIMESTAMPTZ '2024-05-01 10:00:00+00' + INTERVAL {i} MINUTE, 'r{i}')"));
        var entities = Entities(values);
        var temp = _repo.File("spill");
        var small = await _repo.RunAsync(entities, ["user_scores:score"], options: new DuckDbHistoricalOptions { MemoryLimit = "64MB", TempDirectory = temp, Threads = 1 });
        var plain = await _repo.RunAsync(entities, ["user_scores:score"]);
        Assert.Equal(plain.Select(r => r["score"]), small.Select(r => r["score"]));
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"r{i}"), small.Select(r => r["label"]));
    }
}
