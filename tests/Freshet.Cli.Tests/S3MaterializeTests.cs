using Freshet.Testing;

namespace Freshet.Cli.Tests;

/// <summary>
/// <c>freshet materialize</c> over a repo whose batch source is an <c>s3://</c> glob on a real moto_server: the
/// online values are those of the same repo materialized from the local file.
/// </summary>
[Collection(MotoCollection.Name)]
public sealed class S3MaterializeTests : IDisposable
{
    private static readonly string[] Credentials = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
    private readonly MotoServer _moto;
    private readonly TempRepo _local = new();
    private readonly TempRepo _s3 = new();
    private readonly Dictionary<string, string?> _saved = [];

    public S3MaterializeTests(MotoServer moto)
    {
        _moto = moto;

        // The CLI takes credentials from the AWS chain, as a user's shell would give them; moto accepts any.
        foreach (var name in Credentials)
        {
            _saved[name] = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, "testing");
        }
    }

    public void Dispose()
    {
        foreach (var (name, value) in _saved)
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        _local.Dispose();
        _s3.Dispose();
    }

    private async Task<string> S3RepoAsync(string extraConfig = "")
    {
        await _s3.InitQuickstart();
        var bucket = await _moto.CreateBucketAsync();
        var parquet = Path.Combine(_s3.Dir, "data", "driver_stats.parquet");
        await _moto.PutFileAsync(bucket, "driver_stats/part-0.parquet", parquet);

        // The local copy goes, so only the bucket can feed the view.
        File.Delete(parquet);
        _s3.Edit("driver_repo.yaml", "path: data/driver_stats.parquet", $"path: s3://{bucket}/driver_stats/*.parquet");
        _s3.Write("freshet.yaml", _s3.Read("freshet.yaml") + $"s3:\n  endpoint_url: {_moto.Endpoint}\n  region: us-east-1\n" + extraConfig);
        return bucket;
    }

    private static async Task<string> MaterializeAndGetAsync(TempRepo repo)
    {
        var apply = await repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        var materialize = await repo.Freshet("materialize", "2000-01-01", "2100-01-01", "--views", "driver_hourly_stats", "--json");
        Assert.True(materialize.ExitCode == 0, materialize.ToString());
        Assert.True(Assert.Single(materialize.Json()["views"]!.AsArray())!["rows"]!.GetValue<long>() > 0, materialize.ToString());
        var get = await repo.Freshet("get", "--features", "driver_hourly_stats:conv_rate,driver_hourly_stats:acc_rate,driver_hourly_stats:avg_daily_trips",
            "--entity", "driver_id=1001", "--entity", "driver_id=1003", "--entity", "driver_id=1005", "--entity", "driver_id=9999", "--json");
        Assert.True(get.ExitCode == 0, get.ToString());
        return get.Out;
    }

    [Fact]
    public async Task Materialize_from_an_s3_glob_serves_the_values_of_the_local_file()
    {
        await _local.InitQuickstart();
        var expected = await MaterializeAndGetAsync(_local);
        await S3RepoAsync();

        var actual = await MaterializeAndGetAsync(_s3);

        Assert.Contains("PRESENT", expected, StringComparison.Ordinal);
        Assert.Equal(expected, actual);
        Assert.Single(Directory.EnumerateFiles(Path.Combine(_s3.Dir, "data", "cache", "s3", "objects"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_missing_bucket_fails_materialize_with_one_line_naming_the_source()
    {
        var bucket = await S3RepoAsync();
        _s3.Edit("driver_repo.yaml", $"s3://{bucket}/", "s3://no-such-bucket-for-freshet/");
        Assert.Equal(0, (await _s3.Freshet("apply")).ExitCode);

        var r = await _s3.Freshet("materialize", "2000-01-01", "2100-01-01", "--views", "driver_hourly_stats");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("source 'driver_stats_source'", r.Err, StringComparison.Ordinal);
        Assert.Contains("s3://no-such-bucket-for-freshet/driver_stats/*.parquet", r.Err, StringComparison.Ordinal);
        Assert.Contains("bucket does not exist", r.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_s3_setting_is_reported_with_file_line_and_column()
    {
        await S3RepoAsync("  path_style: sometimes\n");

        var r = await _s3.Freshet("plan");

        Assert.Equal(1, r.ExitCode);
        Assert.Matches(@"freshet\.yaml:\d+:\d+: error: s3: 'path_style' must be true or false", r.Err);
    }
}
