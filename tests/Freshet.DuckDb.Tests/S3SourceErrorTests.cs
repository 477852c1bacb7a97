using System.Diagnostics;
using Freshet.Model;
using Freshet.Serving;
using Freshet.Testing;

namespace Freshet.DuckDb.Tests;

/// <summary>S3 problems are one-line <see cref="RequestException"/>s naming the view, the source and the s3:// path.</summary>
[Collection(MotoCollection.Name)]
public sealed class S3SourceErrorTests(MotoServer moto) : IDisposable
{
    private static readonly DateTimeOffset Start = DateTimeOffset.UnixEpoch;
    private static readonly DateTimeOffset End = Quickstart.At("2100-01-01T00:00:00Z");

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string CacheDirectory => Path.Combine(_dir.Path, "cache");

    private static async Task DrainAsync(IAsyncEnumerable<ColumnTable> batches)
    {
        await foreach (var _ in batches)
        {
        }
    }

    /// <summary>Reads <paramref name="path"/> through a cache on <paramref name="endpoint"/> (moto by default) and returns the error.</summary>
    private async Task<RequestException> FailAsync(string path, string? endpoint = null, FeatureView? view = null, bool namesPath = true)
    {
        using var cache = new S3ObjectCache(new S3Settings { EndpointUrl = endpoint ?? moto.Endpoint, Credentials = MotoServer.Credentials }, CacheDirectory);
        var reader = new DuckDbOfflineSource(cache);
        var e = await Assert.ThrowsAsync<RequestException>(() =>
            DrainAsync(reader.ReadLatestAsync(view ?? Quickstart.View(), Quickstart.DriverKey, Quickstart.Source(path), _dir.Path, Start, End, 100)));

        Assert.DoesNotContain('\n', e.Message);
        if (namesPath)
        {
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }

        Assert.Contains("view 'driver_hourly_stats'", e.Message, StringComparison.Ordinal);
        Assert.Equal("driver_hourly_stats", e.Field.Split('.')[0]);

        // Nothing of a failed read is left in the mirrors.
        var mirrors = Path.Combine(CacheDirectory, "mirrors");
        Assert.True(!Directory.Exists(mirrors) || !Directory.EnumerateFileSystemEntries(mirrors).Any());
        return e;
    }

    [Fact]
    public async Task A_missing_bucket_is_source_not_found_naming_the_source_and_the_path()
    {
        var e = await FailAsync("s3://no-such-bucket-for-freshet/driver_stats.parquet");

        Assert.Equal("source_not_found", e.Code);
        Assert.Equal("driver_hourly_stats.source", e.Field);
        Assert.Contains("source 'driver_stats_source'", e.Message, StringComparison.Ordinal);
        Assert.Contains("bucket does not exist", e.Message, StringComparison.Ordinal);
        Assert.Contains(moto.Endpoint, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_glob_in_a_missing_bucket_is_source_not_found()
    {
        var e = await FailAsync("s3://no-such-bucket-for-freshet/parts/*.parquet");

        Assert.Equal("source_not_found", e.Code);
        Assert.Contains("bucket does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_key_is_source_not_found()
    {
        var bucket = await moto.CreateBucketAsync();

        var e = await FailAsync($"s3://{bucket}/no/such/file.parquet");

        Assert.Equal("source_not_found", e.Code);
        Assert.Contains("no such object", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_glob_matching_nothing_fails_like_a_local_glob_matching_nothing()
    {
        var bucket = await moto.CreateBucketAsync();
        await moto.PutFileAsync(bucket, "parts/readme.txt", Quickstart.ParquetPath);
        var local = await Assert.ThrowsAsync<RequestException>(() =>
            Quickstart.ReadAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source("parts/*.parquet"), _dir.Path, Start, End));

        var e = await FailAsync($"s3://{bucket}/parts/*.parquet");

        Assert.Equal(local.Code, e.Code);
        Assert.Equal(local.Field, e.Field);
        Assert.Contains("no object matches", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_endpoint_is_source_unreachable_within_seconds()
    {
        var endpoint = $"http://127.0.0.1:{MotoServer.FreePort()}";
        var clock = Stopwatch.StartNew();

        var e = await FailAsync("s3://bucket/driver_stats.parquet", endpoint);

        Assert.Equal("source_unreachable", e.Code);
        Assert.Contains(endpoint, e.Message, StringComparison.Ordinal);
        Assert.Contains("cannot reach", e.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task An_endpoint_that_is_not_s3_is_named_as_such()
    {
        // A plain web server that answers 404 with no body to everything, as a proxy or a wrong port might.
        var port = MotoServer.FreePort();
        using var web = new System.Net.HttpListener();
        web.Prefixes.Add($"http://127.0.0.1:{port}/");
        web.Start();
        var serving = Task.Run(async () =>
        {
            while (web.IsListening)
            {
                try
                {
                    var context = await web.GetContextAsync();
                    context.Response.StatusCode = 404;
                    context.Response.Close();
                }
                catch (System.Net.HttpListenerException)
                {
                    return;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
            }
        });

        var glob = await FailAsync("s3://bucket/parts/*.parquet", $"http://127.0.0.1:{port}");
        var key = await FailAsync("s3://bucket/driver_stats.parquet", $"http://127.0.0.1:{port}");
        web.Stop();
        await serving;

        Assert.All([glob, key], e => Assert.Contains("is it an S3 endpoint", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_missing_column_in_an_s3_file_names_the_s3_path_not_the_local_copy()
    {
        var bucket = await moto.CreateBucketAsync();
        await moto.PutFileAsync(bucket, "stats/driver_stats.parquet", Quickstart.ParquetPath);
        var view = Quickstart.View(new Field("no_such_feature", FeatureType.Of(ScalarKind.Float64)));

        var e = await FailAsync($"s3://{bucket}/stats/*.parquet", view: view);

        Assert.Equal("missing_column", e.Code);
        Assert.Contains("'no_such_feature'", e.Message, StringComparison.Ordinal);
        Assert.Contains($"s3://{bucket}/stats/*.parquet", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(CacheDirectory, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_that_does_not_fit_names_the_s3_object()
    {
        var bucket = await moto.CreateBucketAsync();
        var file = _dir.File("big.parquet");
        PlainDuckDb.WriteParquet(file, "SELECT 1001::BIGINT AS driver_id, 0.5::DOUBLE AS conv_rate, 0.5::DOUBLE AS acc_rate, 10000000000::BIGINT AS avg_daily_trips, TIMESTAMPTZ '2024-05-01 10:00:00+00' AS event_timestamp, TIMESTAMPTZ '2024-05-01 10:00:00+00' AS created");
        await moto.PutFileAsync(bucket, "big/one.parquet", file);

        // The error names the object the value is in rather than the glob.
        var e = await FailAsync($"s3://{bucket}/big/*.parquet", namesPath: false);

        Assert.Equal("wrong_type", e.Code);
        Assert.Contains($"s3://{bucket}/big/one.parquet", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(CacheDirectory, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Credentials_the_server_refuses_are_source_access_denied()
    {
        // moto checks signatures against its IAM once its first N requests have passed. The readiness probe may
        // take more than one of them under load, so the budget is generous and the rest is spent below until
        // moto refuses a request: from then on it refuses every one signed with unknown keys.
        using var strict = await MotoServer.StartAsync(new Dictionary<string, string> { ["INITIAL_NO_AUTH_ACTION_COUNT"] = "8" });
        var bucket = await strict.CreateBucketAsync();
        await strict.PutFileAsync(bucket, "driver_stats.parquet", Quickstart.ParquetPath);
        Assert.True(await strict.SpendUnauthenticatedRequestsAsync(bucket, 10), "moto never started checking credentials");

        var e = await FailAsync($"s3://{bucket}/driver_stats.parquet", strict.Endpoint);

        Assert.Equal("source_access_denied", e.Code);
        Assert.Contains("access denied", e.Message, StringComparison.Ordinal);
        Assert.Contains("AWS_ACCESS_KEY_ID", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("s3:///key.parquet", "names no bucket")]
    [InlineData("s3://bucket", "names no object")]
    [InlineData("s3://bu*ket/key.parquet", "bucket name cannot be a glob")]
    public async Task An_unusable_s3_path_is_an_error_saying_why(string path, string why)
    {
        var e = await FailAsync(path);

        Assert.Equal("offline_read_failed", e.Code);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Other_url_schemes_are_still_refused()
    {
        var e = await Assert.ThrowsAsync<RequestException>(() =>
            Quickstart.ReadAsync(Quickstart.View(), Quickstart.DriverKey, Quickstart.Source("https://example.com/x.parquet"), _dir.Path, Start, End));

        Assert.Equal("remote_source_unsupported", e.Code);
        Assert.Contains("https://", e.Message, StringComparison.Ordinal);
    }
}
