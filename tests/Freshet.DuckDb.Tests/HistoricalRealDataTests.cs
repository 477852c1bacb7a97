namespace Freshet.DuckDb.Tests;

/// <summary>
/// Training data from Feast's own example files, checked against an independent SQL computation of the
/// point-in-time rule (a range join with a window, not the ASOF join under test).
/// </summary>
public sealed class HistoricalRealDataTests : IDisposable
{
    private const string SharedData = "/work/shared/data";

    private static readonly string[] ZipFeatures = ["city", "state", "location_type", "tax_returns_filed", "population", "total_wages"];

    private readonly List<HistoricalRepo> _repos = [];

    public void Dispose()
    {
        foreach (var repo in _repos)
        {
            repo.Dispose();
        }
    }

    private HistoricalRepo Repo(string definitions)
    {
        var repo = new HistoricalRepo(definitions);
        _repos.Add(repo);
        return repo;
    }

    /// <summary>
    /// For every entity row (in file order), the source row with the greatest (event, created) time among those with
    /// event time in [T − ttl, T] (no lower bound when ttl is 0) and the same key; nulls when there is none.
    /// </summary>
    private static List<object?[]> Expected(string entities, string source, string key, string created, long ttlSeconds, string[] select, string[] features)
    {
        var lower = ttlSeconds > 0 ? $" AND s.event_timestamp >= e.event_timestamp - INTERVAL {ttlSeconds} SECOND" : "";
        var projected = string.Join(", ", features.Select(f => $"s.{f} AS f_{f}"));
        return PlainDuckDb.Query($"""
            SET TimeZone = 'UTC';
            SELECT {string.Join(", ", select.Select(c => "e." + c))}, {string.Join(", ", features.Select(f => "f_" + f))} FROM (
              SELECT e.*, {projected},
                     row_number() OVER (PARTITION BY e.file_row_number ORDER BY s.event_timestamp DESC NULLS LAST, s.{created} DESC NULLS LAST) AS k
              FROM read_parquet({PlainDuckDb.Quote(entities)}, file_row_number = true) e
              LEFT JOIN read_parquet({PlainDuckDb.Quote(source)}) s
                ON s.{key} = e.{key} AND s.event_timestamp <= e.event_timestamp{lower}) e
            WHERE k = 1 ORDER BY e.file_row_number
            """);
    }

    private static string ZipDefinitions(string ttl) => $$"""
        entities:
          - {name: zipcode, join_keys: [{name: zipcode, type: int64}]}
        sources:
          - name: zipcode_source
            type: file
            path: {{SharedData}}/zipcode_table.parquet
            timestamp_field: event_timestamp
            created_timestamp_field: created_timestamp
        feature_views:
          - name: zipcode_features
            entities: [zipcode]
            source: zipcode_source
            ttl: {{ttl}}
            schema:
              - {name: city, type: string}
              - {name: state, type: string}
              - {name: location_type, type: string}
              - {name: tax_returns_filed, type: int64}
              - {name: population, type: int64}
              - {name: total_wages, type: int64}
        """;

    [Theory]
    [InlineData("3650d", 3650L * 86400)]
    // 2017-01-01 12:00 (every zipcode row) + 1461 days = 2021-01-01 12:00: the loans (Aug 2020 to Aug 2021) fall on both sides.
    [InlineData("1461d", 1461L * 86400)]
    public async Task Credit_risk_training_set_equals_an_independent_point_in_time_computation(string ttl, long ttlSeconds)
    {
        var repo = Repo(ZipDefinitions(ttl));
        var loans = Path.Combine(SharedData, "loan_table.parquet");
        var rows = await repo.RunAsync(loans, [.. ZipFeatures.Select(f => "zipcode_features:" + f)]);
        var expected = Expected(loans, Path.Combine(SharedData, "zipcode_table.parquet"), "zipcode", "created_timestamp", ttlSeconds, ["loan_id", "loan_status", "person_income"], ZipFeatures);

        Assert.Equal(28_638, rows.Count);
        Assert.Equal(expected.Count, rows.Count);
        var matched = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            Assert.Equal(expected[i][0], row["loan_id"]);
            Assert.Equal(expected[i][1], row["loan_status"]);
            Assert.Equal(expected[i][2], row["person_income"]);
            for (var f = 0; f < ZipFeatures.Length; f++)
            {
                Assert.True(Equals(expected[i][3 + f], row[ZipFeatures[f]]), $"row {i} (loan {row["loan_id"]}) {ZipFeatures[f]}: expected {expected[i][3 + f]}, got {row[ZipFeatures[f]]}");
            }

            matched += row["city"] is null ? 0 : 1;
        }

        // Every loan's zipcode row is older than 1461 days for the later loans only.
        if (ttlSeconds == 1461L * 86400)
        {
            Assert.InRange(matched, 1, rows.Count - 1);
        }
        else
        {
            Assert.True(matched > rows.Count * 9 / 10, $"only {matched} loans matched a zipcode");
        }
    }

    [Fact]
    public async Task Driver_stats_at_label_times_before_on_and_between_its_rows()
    {
        var source = Quickstart.ParquetPath;
        var repo = Repo($$"""
            entities:
              - {name: driver, join_keys: [{name: driver_id, type: int64}]}
            sources:
              - {name: driver_stats_source, type: file, path: {{source}}, timestamp_field: event_timestamp, created_timestamp_field: created}
            feature_views:
              - name: driver_hourly_stats
                entities: [driver]
                source: driver_stats_source
                schema:
                  - {name: conv_rate, type: float32}
                  - {name: acc_rate, type: float32}
                  - {name: avg_daily_trips, type: int32}
            """);
        var labels = repo.File("labels.parquet");
        PlainDuckDb.WriteParquet(labels, $"""
            WITH d AS (
              SELECT driver_id, event_timestamp AS t, lead(event_timestamp) OVER (PARTITION BY driver_id ORDER BY event_timestamp) AS next,
                     row_number() OVER (PARTITION BY driver_id ORDER BY event_timestamp) AS i
              FROM (SELECT DISTINCT driver_id, event_timestamp FROM read_parquet({PlainDuckDb.Quote(source)})))
            SELECT * FROM (
              SELECT driver_id, t - INTERVAL 1 MICROSECOND AS event_timestamp, 'before' AS kind, driver_id * 10 + 1 AS label FROM d WHERE i = 1
              UNION ALL SELECT driver_id, t, 'on', driver_id * 10 + 2 FROM d WHERE i IN (2, 40)
              UNION ALL SELECT driver_id, t + (next - t) / 2, 'between', driver_id * 10 + 3 FROM d WHERE i IN (3, 41) AND next IS NOT NULL)
            ORDER BY label DESC, event_timestamp
            """);
        string[] features = ["conv_rate", "acc_rate", "avg_daily_trips"];
        var rows = await repo.RunAsync(labels, [.. features.Select(f => "driver_hourly_stats:" + f)]);
        var expected = Expected(labels, source, "driver_id", "created", 0, ["driver_id", "kind"], features);

        Assert.Equal(expected.Count, rows.Count);
        Assert.True(rows.Count >= 5 * 5, $"only {rows.Count} label rows");
        for (var i = 0; i < rows.Count; i++)
        {
            Assert.Equal(expected[i][0], rows[i]["driver_id"]);
            Assert.Equal(expected[i][1], rows[i]["kind"]);
            for (var f = 0; f < features.Length; f++)
            {
                Assert.Equal(expected[i][2 + f], rows[i][features[f]]);
            }

            // Before a driver's first row: nothing; on or between rows: a row.
            Assert.Equal((string)rows[i]["kind"]! == "before", rows[i]["conv_rate"] is null);
        }

        // "between" takes the earlier row: the same values as the "on" rows' predecessors are checked by Expected;
        // here, the types are the declared ones.
        Assert.IsType<float>(rows.First(r => r["conv_rate"] is not null)["conv_rate"]);
        Assert.IsType<int>(rows.First(r => r["avg_daily_trips"] is not null)["avg_daily_trips"]);
    }
}
