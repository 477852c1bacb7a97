using DuckDB.NET.Data;
using Freshet.Testing;

namespace Freshet.Cli.Tests;

/// <summary>
/// <c>freshet historical --entities s3://...</c> and <c>freshet consistency --events s3://...</c> on a real
/// moto_server: the same results as from the local files.
/// </summary>
[Collection(MotoCollection.Name)]
public sealed class S3EntitiesAndEventsTests : IAsyncLifetime
{
    private static readonly string[] Credentials = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
    private readonly MotoServer _moto;
    private readonly TempRepo _repo = new();
    private readonly Dictionary<string, string?> _saved = [];

    public S3EntitiesAndEventsTests(MotoServer moto)
    {
        _moto = moto;
        foreach (var name in Credentials)
        {
            _saved[name] = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, "testing");
        }
    }

    public async Task InitializeAsync()
    {
        await _repo.InitQuickstart();
        _repo.Write("freshet.yaml", _repo.Read("freshet.yaml") + $"s3:\n  endpoint_url: {_moto.Endpoint}\n  region: us-east-1\n");
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());
    }

    public Task DisposeAsync()
    {
        foreach (var (name, value) in _saved)
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        _repo.Dispose();
        return Task.CompletedTask;
    }

    private static List<string> Rows(string parquet)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SET TimeZone = 'UTC'; SELECT * FROM read_parquet('{parquet.Replace("'", "''", StringComparison.Ordinal)}')";
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "null" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }

        return rows;
    }

    [Fact]
    public async Task Entities_and_events_on_s3_give_what_the_local_files_give()
    {
        var bucket = await _moto.CreateBucketAsync();
        var source = Path.Combine(_repo.Dir, "data", "driver_stats.parquet");
        var entities = Path.Combine(_repo.Root, "labels.csv");
        await File.WriteAllTextAsync(entities, "driver_id,event_timestamp,label\n1001,2030-01-01T00:00:00Z,1\n1002,2001-01-01T00:00:00Z,0\n1003,2024-09-01T00:00:00Z,1\n");
        await _moto.PutFileAsync(bucket, "labels/labels.csv", entities);
        await _moto.PutFileAsync(bucket, "events/driver_stats.parquet", source);

        var local = Path.Combine(_repo.Root, "local.parquet");
        var remote = Path.Combine(_repo.Root, "remote.parquet");
        var run = await _repo.Freshet("historical", "--entities", entities, "--features", "driver_hourly_stats", "-o", local);
        Assert.True(run.ExitCode == 0, run.ToString());
        run = await _repo.Freshet("historical", "--entities", $"s3://{bucket}/labels/labels.csv", "--features", "driver_hourly_stats", "-o", remote);
        Assert.True(run.ExitCode == 0, run.ToString());
        var expected = Rows(local);
        Assert.Equal(3, expected.Count);
        Assert.Equal(expected, Rows(remote));

        var localCheck = await _repo.Freshet("consistency", "--view", "driver_hourly_stats", "--events", source, "--at-every", "1d", "--json");
        var remoteCheck = await _repo.Freshet("consistency", "--view", "driver_hourly_stats", "--events", $"s3://{bucket}/events/driver_stats.parquet", "--at-every", "1d", "--json");
        Assert.True(remoteCheck.ExitCode == 0, remoteCheck.ToString());
        Assert.Equal(0, (long)remoteCheck.Json()["mismatches"]!);
        Assert.Equal(localCheck.Json().ToJsonString(), remoteCheck.Json().ToJsonString());

        // A key that is not there: one line naming the s3:// path, bad input.
        var missing = await _repo.Freshet("consistency", "--view", "driver_hourly_stats", "--events", $"s3://{bucket}/events/nope.parquet", "--at-every", "1d");
        Assert.True(missing.ExitCode == 2, missing.ToString());
        Assert.Contains($"s3://{bucket}/events/nope.parquet", missing.Err, StringComparison.Ordinal);
    }
}
