using Freshet.Definitions;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.DuckDb.Tests;

/// <summary>The quickstart repository materialized and pushed through <see cref="FeatureStore"/> with the DuckDB engine.</summary>
public sealed class FeatureStoreOfflineTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = Quickstart.At("2024-09-10T16:00:00Z");
    private readonly TempDirectory _repo = new();
    private FeatureStore _store = null!;

    public async Task InitializeAsync()
    {
        // A copy of examples/quickstart, so pushes to the offline store do not touch the repository.
        var example = Path.Combine(RepoRoot(), "examples", "quickstart");
        foreach (var yaml in Directory.GetFiles(example, "*.yaml"))
        {
            File.Copy(yaml, _repo.File(Path.GetFileName(yaml)));
        }

        File.Copy(Quickstart.ParquetPath, _repo.File("data/driver_stats.parquet"));
        var repo = RepoLoader.Load(_repo.Path).GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        await registry.CommitAsync(RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", Now), 0);
        _store = await FeatureStore.OpenAsync(registry, new InMemoryOnlineStore(), repo.Config, _repo.Path, new FeatureStoreOptions
        {
            Clock = new FixedClock(Now),
            OfflineSource = new DuckDbOfflineSource(),
            OfflineSink = new DuckDbOfflineSink(),
        });
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _repo.Dispose();
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Freshet.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Freshet.slnx not found above the test output");
    }

    [Fact]
    public async Task Materialize_serves_the_latest_row_of_every_driver()
    {
        var rows = PlainDuckDb.Query($"""
            SELECT driver_id, conv_rate, avg_daily_trips
            FROM read_parquet({PlainDuckDb.Quote(Quickstart.ParquetPath)}) s
            WHERE (driver_id, event_timestamp, created) IN (
              SELECT (driver_id, max_by(event_timestamp, (event_timestamp, created)), max_by(created, (event_timestamp, created)))
              FROM read_parquet({PlainDuckDb.Quote(Quickstart.ParquetPath)}) GROUP BY driver_id)
            """);
        var expected = rows.GroupBy(r => (long)r[0]!).ToDictionary(g => g.Key, g => g.First());

        var results = await _store.MaterializeAsync(DateTimeOffset.UnixEpoch, Now, ["driver_hourly_stats"]);

        Assert.Equal(expected.Count, Assert.Single(results).Rows);
        var ids = expected.Keys.Order().ToArray();
        var response = await _store.GetOnlineFeaturesAsync(new OnlineRequest
        {
            Features = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"],
            Entities = new Dictionary<string, FeatureValue[]> { ["driver_id"] = [.. ids.Select(FeatureValue.FromInt64)] },
        });
        var conv = response.Columns[response.FeatureNames.ToList().IndexOf("conv_rate")];
        var trips = response.Columns[response.FeatureNames.ToList().IndexOf("avg_daily_trips")];
        for (var i = 0; i < ids.Length; i++)
        {
            Assert.Equal(FieldStatus.Present, conv.Statuses[i]);
            Assert.Equal(FeatureValue.FromFloat32((float)expected[ids[i]][1]!), conv.Values[i]);
            Assert.Equal(FeatureValue.FromInt32((int)expected[ids[i]][2]!), trips.Values[i]);
        }
    }

    [Fact]
    public async Task A_push_view_materializes_from_its_batch_source()
    {
        var drivers = PlainDuckDb.Query($"SELECT count(DISTINCT driver_id) FROM read_parquet({PlainDuckDb.Quote(Quickstart.ParquetPath)})");

        var results = await _store.MaterializeAsync(DateTimeOffset.UnixEpoch, Now, ["driver_hourly_stats_fresh"]);

        Assert.Equal((long)drivers[0][0]!, Assert.Single(results).Rows);
    }

    [Fact]
    public async Task Incremental_materialization_reads_only_the_new_interval()
    {
        // driver_hourly_stats_fresh (a push view whose batch source is the Parquet file) has a ttl of one day,
        // so the first run starts at Now - 1d.
        var from = Micros.From(Now.AddDays(-1));
        var to = Micros.From(Now);
        var expected = PlainDuckDb.Query($"""
            SELECT count(DISTINCT driver_id) FROM read_parquet({PlainDuckDb.Quote(Quickstart.ParquetPath)})
            WHERE epoch_us(event_timestamp) >= {from} AND epoch_us(event_timestamp) < {to}
            """);

        Assert.InRange((long)expected[0][0]!, 1, 5);

        var results = await _store.MaterializeIncrementalAsync(Now, ["driver_hourly_stats_fresh"]);

        var result = Assert.Single(results);
        Assert.Equal(Now.AddDays(-1), result.Start);
        Assert.Equal((long)expected[0][0]!, result.Rows);

        // The next run starts where this one ended; the view without a ttl starts at the beginning of time.
        var next = await _store.MaterializeIncrementalAsync(Now.AddHours(1));
        Assert.Equal(Now, next.Single(r => r.View == "driver_hourly_stats_fresh").Start);
        Assert.Equal(DateTimeOffset.UnixEpoch, next.Single(r => r.View == "driver_hourly_stats").Start);
    }

    [Fact]
    public async Task Push_to_offline_writes_a_parquet_file_under_the_data_directory()
    {
        var rows = new ColumnTable(new Dictionary<string, FeatureValue[]>
        {
            ["driver_id"] = [FeatureValue.FromInt64(1001)],
            ["conv_rate"] = [FeatureValue.FromFloat64(0.5)],
            ["acc_rate"] = [FeatureValue.FromFloat64(0.5)],
            ["avg_daily_trips"] = [FeatureValue.FromInt64(7)],
            ["event_timestamp"] = [FeatureValue.FromString("2024-09-10T15:00:00Z")],
        });

        var result = await _store.PushAsync("driver_stats_push_source", rows, PushTarget.Offline);

        Assert.NotNull(result.OfflineFile);
        Assert.StartsWith(Path.Combine(_repo.Path, "data", "offline", "driver_stats_push_source"), result.OfflineFile, StringComparison.Ordinal);
        var back = Assert.Single(PlainDuckDb.Query($"SELECT driver_id, avg_daily_trips FROM read_parquet({PlainDuckDb.Quote(result.OfflineFile)})"));
        Assert.Equal([1001L, 7L], back);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
