using System.Text.Json.Nodes;

namespace Freshet.Cli.Tests;

public sealed class RollbackTests : IDisposable
{
    private const string RepoFile = "driver_repo.yaml";
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    /// <summary>driver_hourly_stats at v1 (ttl 0) and v2 (ttl 3d).</summary>
    private async Task TwoVersions()
    {
        await _repo.InitQuickstart();
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        _repo.Edit(RepoFile, "ttl: 0\n    schema:\n      - {name: conv_rate, type: float32, description", "ttl: 3d\n    schema:\n      - {name: conv_rate, type: float32, description");
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
    }

    [Fact]
    public async Task Rollback_restores_an_old_spec_as_a_new_version()
    {
        await TwoVersions();

        var r = await _repo.Freshet("rollback", "driver_hourly_stats", "--to", "1");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Rolled back feature view 'driver_hourly_stats' to the spec of v1, as v3. Registry version 3.", r.Out, StringComparison.Ordinal);
        var d = (await _repo.Freshet("describe", "driver_hourly_stats", "--json")).Json();
        Assert.Equal(3, d["version"]!.GetValue<int>());
        Assert.Equal("0", d["spec"]!["ttl"]!.GetValue<string>());
        var history = d["history"]!.AsArray();
        Assert.Equal("rollback", history[2]!["change"]!.GetValue<string>());
        Assert.Equal(1, history[2]!["restored_from"]!.GetValue<int>());
        Assert.Equal(history[0]!["spec_hash"]!.GetValue<string>(), history[2]!["spec_hash"]!.GetValue<string>());
    }

    [Fact]
    public async Task After_a_rollback_the_repo_files_win_again_on_the_next_apply()
    {
        await TwoVersions();
        await _repo.Freshet("rollback", "driver_hourly_stats", "--to", "1");

        var plan = await _repo.Freshet("plan");

        Assert.Contains("~ feature_view driver_hourly_stats (v3 -> v4)", plan.Out, StringComparison.Ordinal);
        Assert.Contains("ttl: 0 -> 3d", plan.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rollback_to_a_version_that_does_not_exist_fails()
    {
        await TwoVersions();

        var r = await _repo.Freshet("rollback", "driver_hourly_stats", "--to", "9");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("feature view 'driver_hourly_stats' has no version 9; its versions are 1 to 2", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rollback_to_the_current_spec_is_refused()
    {
        await TwoVersions();

        var r = await _repo.Freshet("rollback", "driver_hourly_stats", "--to", "2");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("already has the spec of version 2", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rollback_of_an_unknown_object_fails()
    {
        await TwoVersions();

        var r = await _repo.Freshet("rollback", "nope", "--to", "1");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no object named 'nope' in the registry", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rollback_that_no_longer_fits_the_registry_is_refused()
    {
        await _repo.InitQuickstart();
        await _repo.Freshet("apply");

        // v2 of the source declares conv_rate as float64 and the views follow; v1 of a view would no longer match it.
        _repo.Edit(RepoFile, "{name: conv_rate, type: float32}", "{name: conv_rate, type: float64}");
        _repo.Edit(RepoFile, "{name: conv_rate, type: float32, description", "{name: conv_rate, type: float64, description");
        Assert.Equal(0, (await _repo.Freshet("apply", "--yes")).ExitCode);
        var before = File.ReadAllText(_repo.RegistryFile);

        var r = await _repo.Freshet("rollback", "driver_hourly_stats", "--to", "1");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("after rolling back 'driver_hourly_stats' to version 1: feature view 'driver_hourly_stats': type mismatch: feature 'conv_rate' is float32, but source 'driver_stats_source' declares it as float64", r.Err, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(_repo.RegistryFile));
    }

    [Fact]
    public async Task A_deleted_object_can_be_rolled_back_to_life()
    {
        await _repo.InitQuickstart();
        await _repo.Freshet("apply");
        _repo.RemoveBetween(RepoFile, "  - name: driver_hourly_stats_fresh", "on_demand_views:");
        Assert.Equal(0, (await _repo.Freshet("apply", "--yes")).ExitCode);

        var toDeletion = await _repo.Freshet("rollback", "driver_hourly_stats_fresh", "--to", "2");
        Assert.Equal(1, toDeletion.ExitCode);
        Assert.Contains("version 2 of feature view 'driver_hourly_stats_fresh' is its deletion", toDeletion.Err, StringComparison.Ordinal);

        var revived = await _repo.Freshet("rollback", "driver_hourly_stats_fresh", "--to", "1");
        Assert.True(revived.ExitCode == 0, revived.ToString());
        var list = await _repo.Freshet("list", "views");
        Assert.Matches(@"driver_hourly_stats_fresh\s+feature_view\s+driver\s+3\s+ttl 1d\s+v3", list.Out);
    }

    [Fact]
    public async Task A_running_server_serves_pins_and_follows_a_rollback()
    {
        // v1 keeps rows forever (ttl 0); v2's 3d ttl makes the quickstart's old rows too old to serve.
        await _repo.InitQuickstart();
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        var materialize = await _repo.Freshet("materialize", "2000-01-01", "2100-01-01", "--views", "driver_hourly_stats");
        Assert.True(materialize.ExitCode == 0, materialize.ToString());
        _repo.Edit(RepoFile, "ttl: 0\n    schema:\n      - {name: conv_rate, type: float32, description", "ttl: 3d\n    schema:\n      - {name: conv_rate, type: float32, description");
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        var expected = QuickstartServingTests.LatestPerDriver(Path.Combine(_repo.Dir, "data", "driver_stats.parquet"));
        var driver = expected.Keys.Min();

        await using var server = await ServerProcess.StartAsync(_repo.Dir);
        var request = new JsonObject
        {
            ["features"] = new JsonArray("driver_hourly_stats@v1:conv_rate", "driver_hourly_stats:conv_rate"),
            ["entities"] = new JsonObject { ["driver_id"] = new JsonArray(driver) },
            ["full_feature_names"] = true,
        }.ToJsonString();
        var (status, body) = await server.PostAsync("/get-online-features", request);
        Assert.True(status == 200, body?.ToJsonString());
        Assert.Equal("""["driver_id","driver_hourly_stats@v1__conv_rate","driver_hourly_stats__conv_rate"]""", body!["metadata"]!["feature_names"]!.ToJsonString());
        Assert.Equal("PRESENT", body["results"]![1]!["statuses"]![0]!.GetValue<string>());
        Assert.Equal(expected[driver].ConvRate, body["results"]![1]!["values"]![0]!.GetValue<float>());
        Assert.Equal("OUTSIDE_MAX_AGE", body["results"]![2]!["statuses"]![0]!.GetValue<string>());

        var rollback = await _repo.Freshet("rollback", "driver_hourly_stats", "--to", "1");
        Assert.True(rollback.ExitCode == 0, rollback.ToString());

        // The server polls the registry; the rolled-back ttl is served within its poll interval.
        var current = new JsonObject
        {
            ["features"] = new JsonArray("driver_hourly_stats:conv_rate"),
            ["entities"] = new JsonObject { ["driver_id"] = new JsonArray(driver) },
        }.ToJsonString();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        string? last = null;
        while (DateTime.UtcNow < deadline)
        {
            (status, body) = await server.PostAsync("/get-online-features", current);
            last = body?.ToJsonString();
            if (status == 200 && body!["results"]![1]!["statuses"]![0]!.GetValue<string>() == "PRESENT")
            {
                Assert.Equal(expected[driver].ConvRate, body["results"]![1]!["values"]![0]!.GetValue<float>());
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"the server did not follow the rollback within 60 s; last answer: {last}");
    }
}
