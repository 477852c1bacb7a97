using Freshet.Model;
using Freshet.Serving;
using Freshet.Testing;
using Freshet.Values;

namespace Freshet.DuckDb.Tests;

/// <summary>
/// <c>s3://</c> sources against a real moto_server: the same files read from the bucket and from disk give the
/// same latest rows; objects are downloaded once per ETag; S3 problems are one-line errors naming the source.
/// </summary>
[Collection(MotoCollection.Name)]
public sealed class S3SourceTests(MotoServer moto) : IDisposable
{
    private static readonly DateTimeOffset Start = DateTimeOffset.UnixEpoch;
    private static readonly DateTimeOffset End = Quickstart.At("2100-01-01T00:00:00Z");

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string CacheDirectory => Path.Combine(_dir.Path, "cache");

    private S3ObjectCache Cache(string? endpoint = null) =>
        new(new S3Settings { EndpointUrl = endpoint ?? moto.Endpoint, Credentials = MotoServer.Credentials }, CacheDirectory);

    private async Task<List<Dictionary<string, FeatureValue>>> ReadAsync(S3ObjectCache? cache, FileSource source, FeatureView? view = null)
    {
        var reader = cache is null ? new DuckDbOfflineSource() : new DuckDbOfflineSource(cache);
        var rows = new List<ColumnTable>();
        await foreach (var batch in reader.ReadLatestAsync(view ?? Quickstart.View(), Quickstart.DriverKey, source, _dir.Path, Start, End, batchSize: 2))
        {
            rows.Add(batch);
        }

        return [.. Quickstart.Rows(rows).OrderBy(r => r["driver_id"].AsInt64())];
    }

    /// <summary>Splits the quickstart file into <paramref name="count"/> files by row, so each driver's rows spread over them.</summary>
    private List<string> Split(string directory, int count, Func<int, string> name)
    {
        var files = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var file = _dir.File(Path.Combine(directory, name(i)));
            PlainDuckDb.WriteParquet(file, $"SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER () AS rn FROM read_parquet({PlainDuckDb.Quote(Quickstart.ParquetPath)})) WHERE rn % {count} = {i}");
            files.Add(file);
        }

        return files;
    }

    private async Task UploadAsync(string bucket, string localDirectory)
    {
        var root = Path.Combine(_dir.Path, localDirectory);
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            await moto.PutFileAsync(bucket, localDirectory + "/" + Path.GetRelativePath(root, file).Replace('\\', '/'), file);
        }
    }

    [Fact]
    public async Task An_s3_parquet_file_materializes_the_same_rows_as_the_local_file()
    {
        var bucket = await moto.CreateBucketAsync();
        await moto.PutFileAsync(bucket, "driver_stats.parquet", Quickstart.ParquetPath);
        using var cache = Cache();

        var fromS3 = await ReadAsync(cache, Quickstart.Source($"s3://{bucket}/driver_stats.parquet"));
        var local = await ReadAsync(null, Quickstart.Source(Quickstart.ParquetPath));

        Assert.NotEmpty(local);
        Assert.Equal(local, fromS3);
        Assert.Equal(1, cache.Downloads);
    }

    [Fact]
    public async Task An_s3_glob_over_several_files_reads_the_same_rows_as_the_local_glob_and_downloads_only_matches()
    {
        var bucket = await moto.CreateBucketAsync();
        Split("parts", 3, i => $"part-{i}.parquet");
        File.WriteAllText(_dir.File("parts/readme.txt"), "not a match for *.parquet");
        File.WriteAllText(_dir.File("parts/deeper/part-9.parquet"), "not a match for parts/*.parquet: * stays within a segment");
        await UploadAsync(bucket, "parts");
        using var cache = Cache();

        var fromS3 = await ReadAsync(cache, Quickstart.Source($"s3://{bucket}/parts/*.parquet"));
        var local = await ReadAsync(null, Quickstart.Source("parts/*.parquet"));

        Assert.Equal(await ReadAsync(null, Quickstart.Source(Quickstart.ParquetPath)), local);
        Assert.Equal(local, fromS3);
        Assert.Equal(3, cache.Downloads);
    }

    [Fact]
    public async Task A_recursive_s3_glob_reads_the_same_rows_as_the_local_recursive_glob()
    {
        var bucket = await moto.CreateBucketAsync();
        var names = new[] { "p0.parquet", "a/p1.parquet", "a/b/p2.parquet", "c/p3.parquet" };
        Split("tree", names.Length, i => names[i]);
        await UploadAsync(bucket, "tree");
        using var cache = Cache();

        var fromS3 = await ReadAsync(cache, Quickstart.Source($"s3://{bucket}/tree/**/p?.parquet"));
        var local = await ReadAsync(null, Quickstart.Source("tree/**/p?.parquet"));

        Assert.Equal(await ReadAsync(null, Quickstart.Source(Quickstart.ParquetPath)), local);
        Assert.Equal(local, fromS3);
        Assert.Equal(names.Length, cache.Downloads);

        var count = await new DuckDbOfflineSource(cache).CountLatestAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source($"s3://{bucket}/tree/**/p?.parquet"), _dir.Path, Start, End);
        Assert.Equal(local.Count, count);
    }

    [Fact]
    public async Task Hive_style_directories_in_keys_add_their_columns_as_for_local_files()
    {
        var bucket = await moto.CreateBucketAsync();
        Split("hive", 3, i => $"fleet={i + 7}/part.parquet");
        await UploadAsync(bucket, "hive");
        using var cache = Cache();
        var view = Quickstart.View(new Field("fleet", FeatureType.Of(ScalarKind.Int64)));

        var fromS3 = await ReadAsync(cache, Quickstart.Source($"s3://{bucket}/hive/*/*.parquet"), view);
        var local = await ReadAsync(null, Quickstart.Source("hive/*/*.parquet"), view);

        Assert.Equal(local, fromS3);
        Assert.All(fromS3, row => Assert.InRange(row["fleet"].AsInt64(), 7, 9));
    }

    [Fact]
    public async Task A_csv_source_on_s3_reads_like_the_local_csv()
    {
        var bucket = await moto.CreateBucketAsync();
        var csv = _dir.File("csv/driver_stats.csv");
        PlainDuckDb.Execute($"COPY (SELECT * FROM read_parquet({PlainDuckDb.Quote(Quickstart.ParquetPath)})) TO {PlainDuckDb.Quote(csv)} (FORMAT csv, HEADER)");
        await moto.PutFileAsync(bucket, "csv/driver_stats.csv", csv);
        using var cache = Cache();

        var fromS3 = await ReadAsync(cache, Quickstart.Source($"s3://{bucket}/csv/driver_stats.csv", FileFormat.Csv));
        var local = await ReadAsync(null, Quickstart.Source("csv/driver_stats.csv", FileFormat.Csv));

        Assert.NotEmpty(local);
        Assert.Equal(local, fromS3);
    }

    [Fact]
    public async Task A_second_read_downloads_nothing_and_a_new_cache_over_the_same_directory_reuses_the_files()
    {
        var bucket = await moto.CreateBucketAsync();
        Split("parts", 2, i => $"part-{i}.parquet");
        await UploadAsync(bucket, "parts");
        var source = Quickstart.Source($"s3://{bucket}/parts/*.parquet");
        using var cache = Cache();

        var first = await ReadAsync(cache, source);
        Assert.Equal((2, 0), (cache.Downloads, cache.CacheHits));
        var second = await ReadAsync(cache, source);
        Assert.Equal((2, 2), (cache.Downloads, cache.CacheHits));
        Assert.Equal(first, second);

        using var reopened = Cache();
        Assert.Equal(first, await ReadAsync(reopened, source));
        Assert.Equal((0, 2), (reopened.Downloads, reopened.CacheHits));

        // Each read's mirror is gone when the read is.
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(CacheDirectory, "mirrors")));
    }

    [Fact]
    public async Task A_changed_object_is_downloaded_again_and_its_new_rows_are_read()
    {
        var bucket = await moto.CreateBucketAsync();
        var v1 = _dir.File("v1.parquet");
        var v2 = _dir.File("v2.parquet");
        PlainDuckDb.WriteParquet(v1, "SELECT 1001::BIGINT AS driver_id, 0.25::DOUBLE AS conv_rate, 0.5::DOUBLE AS acc_rate, 7 AS avg_daily_trips, TIMESTAMPTZ '2024-05-01 10:00:00+00' AS event_timestamp");
        PlainDuckDb.WriteParquet(v2, "SELECT 1001::BIGINT AS driver_id, 0.75::DOUBLE AS conv_rate, 0.5::DOUBLE AS acc_rate, 9 AS avg_daily_trips, TIMESTAMPTZ '2024-05-02 10:00:00+00' AS event_timestamp");
        var source = Quickstart.Source($"s3://{bucket}/stats/latest.parquet", created: null);
        using var cache = Cache();

        await moto.PutFileAsync(bucket, "stats/latest.parquet", v1);
        Assert.Equal(FeatureValue.FromInt32(7), Assert.Single(await ReadAsync(cache, source))["avg_daily_trips"]);
        await moto.PutFileAsync(bucket, "stats/latest.parquet", v2);
        var row = Assert.Single(await ReadAsync(cache, source));

        Assert.Equal(FeatureValue.FromInt32(9), row["avg_daily_trips"]);
        Assert.Equal(FeatureValue.FromFloat32(0.75f), row["conv_rate"]);
        Assert.Equal(2, cache.Downloads);

        // The older version is not kept next to the new one.
        Assert.Single(Directory.EnumerateFiles(Path.Combine(CacheDirectory, "objects"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task An_object_deleted_from_the_bucket_is_no_longer_read()
    {
        var bucket = await moto.CreateBucketAsync();
        Split("parts", 2, i => $"part-{i}.parquet");
        await UploadAsync(bucket, "parts");
        var source = Quickstart.Source($"s3://{bucket}/parts/*.parquet");
        using var cache = Cache();
        Assert.Equal(await ReadAsync(null, Quickstart.Source("parts/*.parquet")), await ReadAsync(cache, source));

        await moto.DeleteAsync(bucket, "parts/part-1.parquet");

        Assert.Equal(await ReadAsync(null, Quickstart.Source("parts/part-0.parquet")), await ReadAsync(cache, source));
    }

    [Fact]
    public async Task A_multi_megabyte_object_reads_like_the_local_file()
    {
        var bucket = await moto.CreateBucketAsync();
        var file = _dir.File("big/stats.parquet");
        PlainDuckDb.WriteParquet(file, """
            SELECT 1000 + i % 5000 AS driver_id, (i % 997) / 997.0 AS conv_rate, (i % 13) / 13.0 AS acc_rate, (i % 101)::INTEGER AS avg_daily_trips,
                   TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS event_timestamp, TIMESTAMPTZ '2024-06-01 00:00:00+00' - to_seconds(i) AS created,
                   md5(i::VARCHAR) AS padding
            FROM range(300000) t(i)
            """);
        Assert.True(new FileInfo(file).Length > 4_000_000, $"only {new FileInfo(file).Length} bytes");
        await moto.PutFileAsync(bucket, "big/stats.parquet", file);
        using var cache = Cache();

        var fromS3 = await ReadAsync(cache, Quickstart.Source($"s3://{bucket}/big/stats.parquet"));

        Assert.Equal(5000, fromS3.Count);
        Assert.Equal(await ReadAsync(null, Quickstart.Source("big/stats.parquet")), fromS3);
    }

    [Fact]
    public async Task Concurrent_reads_of_one_glob_through_one_cache_agree_and_leave_no_mirror()
    {
        var bucket = await moto.CreateBucketAsync();
        Split("parts", 4, i => $"part-{i}.parquet");
        await UploadAsync(bucket, "parts");
        using var cache = new S3ObjectCache(new S3Settings { EndpointUrl = moto.Endpoint, Credentials = MotoServer.Credentials, MaxConcurrentDownloads = 2 }, CacheDirectory);
        var source = Quickstart.Source($"s3://{bucket}/parts/*.parquet");

        var reads = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => ReadAsync(cache, source))));

        var local = await ReadAsync(null, Quickstart.Source("parts/*.parquet"));
        Assert.All(reads, rows => Assert.Equal(local, rows));
        Assert.Equal(4 * 4, cache.Downloads + cache.CacheHits);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(CacheDirectory, "mirrors")));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(CacheDirectory, "objects"), "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_source_s3_endpoint_overrides_the_settings()
    {
        var bucket = await moto.CreateBucketAsync();
        await moto.PutFileAsync(bucket, "driver_stats.parquet", Quickstart.ParquetPath);
        using var cache = Cache(endpoint: $"http://127.0.0.1:{MotoServer.FreePort()}");
        var source = Quickstart.Source($"s3://{bucket}/driver_stats.parquet") with { S3Endpoint = moto.Endpoint };

        Assert.Equal(await ReadAsync(null, Quickstart.Source(Quickstart.ParquetPath)), await ReadAsync(cache, source));
    }
}
