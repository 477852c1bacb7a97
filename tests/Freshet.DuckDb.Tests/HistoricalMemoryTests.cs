using Freshet.Serving;

namespace Freshet.DuckDb.Tests;

/// <summary>
/// Training data under DuckDB memory limits: an aggregation view is sorted in key-hash buckets that fit the limit
/// (same result as one sort without a limit), and running out of memory anyway is one clear error.
/// </summary>
public sealed class HistoricalMemoryTests : IDisposable
{
    private const string Definitions = """
        entities:
          - {name: account, join_keys: [{name: account_id, type: string}]}
        sources:
          - name: txn_archive
            type: file
            path: data/txns.parquet
            timestamp_field: ts
            schema: &txn
              - {name: ts, type: timestamp}
              - {name: account_id, type: string}
              - {name: merchant_id, type: string}
              - {name: amount, type: float64}
          - name: txns
            type: push
            batch_source: txn_archive
            timestamp_field: ts
            schema: *txn
        aggregation_views:
          - name: stats
            entities: [account]
            source: txns
            aggregations:
              - {function: count, window: 1h}
              - {function: sum, column: amount, window: 24h}
              - {function: count_distinct, column: merchant_id, window: 24h}
              - {function: last_n, column: merchant_id, window: 1d, k: 3}
              - {function: first, column: ts, window: 6h}
        """;

    private readonly HistoricalRepo _repo = new(Definitions);

    public void Dispose() => _repo.Dispose();

    /// <summary>400,000 events over 4,000 accounts in two days of June 2024, and 40,000 labels; every value a hash of the row number.</summary>
    private string Data()
    {
        PlainDuckDb.WriteParquet(_repo.File("data/txns.parquet"), """
            SELECT TIMESTAMP '2024-06-01' + to_microseconds(CAST(hash(i, 1) % 172800000000 AS BIGINT)) AS ts,
                   'a' || (hash(i, 2) % 4000) AS account_id, 'm' || (hash(i, 3) % 50) AS merchant_id,
                   CAST(hash(i, 4) % 100000 AS DOUBLE) / 100 AS amount
            FROM range(400000) t(i)
            """);
        var entities = _repo.File("labels.parquet");
        PlainDuckDb.WriteParquet(entities, """
            SELECT 'a' || (hash(i, 5) % 4100) AS account_id,
                   TIMESTAMPTZ '2024-06-01 00:00:00+00' + to_microseconds(CAST(hash(i, 6) % 190000000000 AS BIGINT)) AS event_timestamp,
                   i AS label
            FROM range(40000) t(i)
            """);
        return entities;
    }

    [Fact]
    public async Task Aggregation_under_a_small_memory_limit_is_sorted_in_buckets_and_equals_one_sort_without_a_limit()
    {
        var entities = Data();
        var temp = _repo.File("spill");
        var small = await _repo.RunAsync(entities, ["stats"], options: new DuckDbHistoricalOptions { MemoryLimit = "48MB", TempDirectory = temp });
        var whole = await _repo.RunAsync(entities, ["stats"], options: new DuckDbHistoricalOptions { AggregationBuckets = 1 });
        Assert.Equal(40_000, small.Count);
        Assert.Equal(whole.Count, small.Count);
        var nonNull = 0;
        for (var i = 0; i < whole.Count; i++)
        {
            Assert.Equal((long)i, Convert.ToInt64(small[i]["label"], System.Globalization.CultureInfo.InvariantCulture));
            foreach (var (name, value) in whole[i])
            {
                var other = small[i][name];
                Assert.True(Same(value, other), $"row {i}, {name}: {Show(value)} without a limit, {Show(other)} under 48MB");
                nonNull += value is null ? 0 : 1;
            }
        }

        // Not vacuous: most labels have events before them.
        Assert.True(nonNull > whole.Count * 5, $"only {nonNull} non-null values");

        // The run's working directory (and its spilled rows) is gone.
        Assert.Empty(Directory.GetFileSystemEntries(temp));
    }

    [Fact]
    public async Task Running_out_of_memory_is_one_error_naming_the_limit_and_what_to_change()
    {
        var entities = Data();
        var temp = _repo.File("spill");
        var output = _repo.File("out/never.parquet");
        var e = await Assert.ThrowsAsync<RequestException>(() => new DuckDbHistoricalRetrieval(new DuckDbHistoricalOptions { MemoryLimit = "1MB", TempDirectory = temp })
            .GetHistoricalFeaturesAsync(_repo.Registry, _repo.Path, new HistoricalRequest { EntitiesPath = entities, OutputPath = output, Features = ["stats"] }));
        Assert.Equal(DuckDbHistoricalRetrieval.OutOfMemoryCode, e.Code);
        Assert.Equal("memory_limit", e.Field);
        Assert.Contains("ran out of memory in 'entities'", e.Message, StringComparison.Ordinal);
        Assert.Contains("memory limit 1MB", e.Message, StringComparison.Ordinal);
        Assert.Contains("--memory-limit", e.Message, StringComparison.Ordinal);
        Assert.Contains("--temp-directory", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFileSystemEntries(temp));
    }

    [Theory]
    [InlineData("953.6 MiB", 953.6 * 1024 * 1024)]
    [InlineData("1.8 GiB", 1.8 * 1024 * 1024 * 1024)]
    [InlineData("512 bytes", 512.0)]
    [InlineData("2 GB", 2e9)]
    public void DuckDb_sizes_read_as_bytes(string size, double bytes) => Assert.Equal(bytes, DuckDbHistoricalRetrieval.Bytes(size)!.Value, 3);

    [Theory]
    [InlineData("")]
    [InlineData("lots")]
    [InlineData("12 parsecs")]
    public void Sizes_that_are_not_sizes_read_as_unknown(string size) => Assert.Null(DuckDbHistoricalRetrieval.Bytes(size));

    private static bool Same(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (System.Collections.IEnumerable x, System.Collections.IEnumerable y) when a is not string => x.Cast<object?>().SequenceEqual(y.Cast<object?>()),
        (double x, double y) => Math.Abs(x - y) <= 1e-9 * Math.Max(1, Math.Abs(x)),
        _ => Equals(a, b),
    };

    private static string Show(object? v) => v is System.Collections.IEnumerable e and not string ? "[" + string.Join(", ", e.Cast<object?>()) + "]" : v?.ToString() ?? "null";
}
