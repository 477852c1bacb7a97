using Freshet.Values;

namespace Freshet.DuckDb.Tests;

/// <summary>The source against the quickstart's real Parquet file, checked against an expectation computed apart.</summary>
public sealed class QuickstartSourceTests
{
    private sealed record DriverRow(long DriverId, long EventMicros, long CreatedMicros, float ConvRate, float AccRate, int AvgDailyTrips);

    /// <summary>Every row of the file through plain DuckDB; the latest-per-driver choice is then made here in LINQ.</summary>
    private static List<DriverRow> AllRows() =>
    [
        .. PlainDuckDb.Query($"SELECT driver_id, epoch_us(event_timestamp), epoch_us(created), conv_rate, acc_rate, avg_daily_trips FROM read_parquet({PlainDuckDb.Quote(Quickstart.ParquetPath)})")
            .Select(r => new DriverRow((long)r[0]!, (long)r[1]!, (long)r[2]!, (float)r[3]!, (float)r[4]!, (int)r[5]!)),
    ];

    private static Dictionary<long, DriverRow> ExpectedLatest(DateTimeOffset start, DateTimeOffset end)
    {
        var from = Micros.From(start);
        var to = Micros.From(end);
        return AllRows()
            .Where(r => r.EventMicros >= from && r.EventMicros < to)
            .GroupBy(r => r.DriverId)
            .ToDictionary(g => g.Key, g => g.OrderByDescending(r => r.EventMicros).ThenByDescending(r => r.CreatedMicros).First());
    }

    private static async Task AssertLatest(DateTimeOffset start, DateTimeOffset end)
    {
        var expected = ExpectedLatest(start, end);
        Assert.NotEmpty(expected);

        var batches = await Quickstart.ReadAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source("data/driver_stats.parquet"), AppContext.BaseDirectory, start, end);
        var rows = Quickstart.Rows(batches);

        Assert.Equal(expected.Count, rows.Count);
        var counted = await new DuckDbOfflineSource().CountLatestAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source("data/driver_stats.parquet"), AppContext.BaseDirectory, start, end);
        Assert.Equal(expected.Count, counted);
        foreach (var row in rows)
        {
            Assert.Equal(ValueKind.Int64, row["driver_id"].Kind);
            var want = expected[row["driver_id"].AsInt64()];
            Assert.Equal(FeatureValue.FromFloat32(want.ConvRate), row["conv_rate"]);
            Assert.Equal(FeatureValue.FromFloat32(want.AccRate), row["acc_rate"]);
            Assert.Equal(FeatureValue.FromInt32(want.AvgDailyTrips), row["avg_daily_trips"]);
            Assert.Equal(FeatureValue.FromTimestampMicros(want.EventMicros), row["event_timestamp"]);
            Assert.Equal(FeatureValue.FromTimestampMicros(want.CreatedMicros), row["created"]);
        }
    }

    [Fact]
    public Task Full_interval_gives_the_latest_row_of_every_driver() =>
        AssertLatest(DateTimeOffset.UnixEpoch, Quickstart.At("2100-01-01T00:00:00Z"));

    [Fact]
    public Task Narrow_interval_gives_the_latest_row_inside_it() =>
        AssertLatest(Quickstart.At("2024-09-02T20:00:00Z"), Quickstart.At("2024-09-02T23:00:00Z"));

    [Fact]
    public async Task Interval_with_no_rows_gives_no_batches()
    {
        var batches = await Quickstart.ReadAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source(Quickstart.ParquetPath), "/",
            Quickstart.At("1990-01-01T00:00:00Z"), Quickstart.At("1991-01-01T00:00:00Z"));

        Assert.Empty(batches);
    }

    [Fact]
    public async Task Batches_hold_at_most_the_batch_size_and_cover_every_driver_once()
    {
        var start = DateTimeOffset.UnixEpoch;
        var end = Quickstart.At("2100-01-01T00:00:00Z");
        var expected = ExpectedLatest(start, end);

        var batches = await Quickstart.ReadAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source(Quickstart.ParquetPath), "/", start, end, batchSize: 2);

        Assert.All(batches, b => Assert.InRange(b.RowCount, 1, 2));
        Assert.Equal((expected.Count + 1) / 2, batches.Count);
        var drivers = Quickstart.Rows(batches).Select(r => r["driver_id"].AsInt64()).ToList();
        Assert.Equal(expected.Keys.Order(), drivers.Order());
    }

    [Fact]
    public async Task Rows_feed_the_online_encoder_of_the_view()
    {
        // The same encoder FeatureStore.MaterializeAsync applies to each batch.
        var view = Quickstart.View();
        var source = Quickstart.Source(Quickstart.ParquetPath);
        var encoder = new Freshet.Serving.ViewRowEncoder(view, Quickstart.DriverKey, source);
        var batches = await Quickstart.ReadAsync(view, Quickstart.DriverKey, source, "/", DateTimeOffset.UnixEpoch, Quickstart.At("2100-01-01T00:00:00Z"));

        var writes = batches.SelectMany(b => encoder.Encode(b, view.Name)).ToList();

        Assert.Equal(ExpectedLatest(DateTimeOffset.UnixEpoch, Quickstart.At("2100-01-01T00:00:00Z")).Count, writes.Count);
    }

    [Fact]
    public async Task Cancelling_between_batches_stops_the_read()
    {
        using var cancel = new CancellationTokenSource();
        var batches = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var batch in new DuckDbOfflineSource().ReadLatestAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source(Quickstart.ParquetPath), "/",
                DateTimeOffset.UnixEpoch, Quickstart.At("2100-01-01T00:00:00Z"), 1, cancel.Token))
            {
                batches++;
                await cancel.CancelAsync();
            }
        });

        Assert.Equal(1, batches);
    }
}
