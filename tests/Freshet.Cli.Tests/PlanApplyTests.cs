namespace Freshet.Cli.Tests;

public sealed class PlanApplyTests : IDisposable
{
    private const string RepoFile = "driver_repo.yaml";
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    private async Task AppliedQuickstart()
    {
        await _repo.InitQuickstart();
        var r = await _repo.Freshet("apply");
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    private void ChangeConvRateType(string to)
    {
        _repo.Edit(RepoFile, "{name: conv_rate, type: float32}", $"{{name: conv_rate, type: {to}}}");
        _repo.Edit(RepoFile, "{name: conv_rate, type: float32, description", $"{{name: conv_rate, type: {to}, description");
    }

    [Fact]
    public async Task Plan_after_changing_a_feature_type_says_it_is_breaking()
    {
        await AppliedQuickstart();
        ChangeConvRateType("float64");

        var r = await _repo.Freshet("plan");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("~ feature_view driver_hourly_stats (v1 -> v2)  BREAKING", r.Out, StringComparison.Ordinal);
        Assert.Contains("~ feature conv_rate: float32 -> float64", r.Out, StringComparison.Ordinal);
        Assert.Contains("breaking: feature 'conv_rate' changes type from float32 to float64", r.Out, StringComparison.Ordinal);

        // The source changed too, but a source's schema change is not breaking by itself.
        Assert.Contains("~ source driver_stats_source (v1 -> v2)\n", r.Out.ReplaceLineEndings("\n"), StringComparison.Ordinal);

        var json = (await _repo.Freshet("plan", "--json")).Json();
        Assert.True(json["needs_confirmation"]!.GetValue<bool>());
        var view = json["changes"]!.AsArray().Single(c => c!["name"]!.GetValue<string>() == "driver_hourly_stats")!;
        Assert.Equal("update", view["action"]!.GetValue<string>());
        Assert.Single(view["breaking"]!.AsArray());

        // Its online rows hold float32 values, so the apply removes them; the plan says so.
        Assert.Contains("its online rows no longer match", view["drops_data"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_empty_repo_option_is_a_clear_error()
    {
        var r = await TempRepo.Run("plan", "--repo", "");

        Assert.Equal(1, r.ExitCode);
        Assert.Equal("error: --repo must name a directory (it was empty)", r.Err.Trim());
    }

    [Fact]
    public async Task Plan_changes_nothing_in_the_registry()
    {
        await AppliedQuickstart();
        ChangeConvRateType("float64");
        var before = File.ReadAllText(_repo.RegistryFile);

        await _repo.Freshet("plan");

        Assert.Equal(before, File.ReadAllText(_repo.RegistryFile));
    }

    [Fact]
    public async Task Apply_of_a_breaking_change_needs_yes()
    {
        await AppliedQuickstart();
        ChangeConvRateType("float64");
        var before = File.ReadAllText(_repo.RegistryFile);

        var refused = await _repo.Freshet("apply");

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("run again with --yes", refused.Err, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(_repo.RegistryFile));

        var confirmed = await _repo.Freshet("apply", "--yes");

        Assert.True(confirmed.ExitCode == 0, confirmed.ToString());
        Assert.Contains("Applied: registry version 2.", confirmed.Out, StringComparison.Ordinal);
        var described = (await _repo.Freshet("describe", "driver_hourly_stats", "--json")).Json();
        Assert.Equal(2, described["version"]!.GetValue<int>());
        Assert.Equal(["create", "update"], described["history"]!.AsArray().Select(h => h!["change"]!.GetValue<string>()));
        Assert.Equal("float64", described["spec"]!["schema"]![0]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task At_a_terminal_apply_asks_and_applies_only_on_yes()
    {
        await AppliedQuickstart();
        ChangeConvRateType("float64");

        var declined = await TempRepo.RunWithTerminal("n\n", "apply", "--repo", _repo.Dir);
        Assert.Equal(2, declined.ExitCode);
        Assert.Contains("Apply it? [y/N]", declined.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("Applied", declined.Out, StringComparison.Ordinal);

        var accepted = await TempRepo.RunWithTerminal("y\n", "apply", "--repo", _repo.Dir);
        Assert.True(accepted.ExitCode == 0, accepted.ToString());
        Assert.Contains("Applied: registry version 2.", accepted.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_non_breaking_change_applies_without_yes_and_bumps_only_that_object()
    {
        await AppliedQuickstart();
        _repo.Edit(RepoFile, "ttl: 0\n    schema:\n      - {name: conv_rate, type: float32, description", "ttl: 2d\n    schema:\n      - {name: conv_rate, type: float32, description");

        var r = await _repo.Freshet("apply");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("ttl: 0 -> 2d", r.Out, StringComparison.Ordinal);
        Assert.Contains("0 to add, 1 to update, 0 to delete; 0 breaking", r.Out, StringComparison.Ordinal);
        var list = (await _repo.Freshet("list", "--json")).Json();
        Assert.Equal(2, list["registry_version"]!.GetValue<long>());
        var versions = list["views"]!.AsArray().ToDictionary(v => v!["name"]!.GetValue<string>(), v => v!["version"]!.GetValue<int>());
        Assert.Equal(2, versions["driver_hourly_stats"]);
        Assert.Equal(1, versions["driver_hourly_stats_fresh"]);
        Assert.Equal(1, list["entities"]![0]!["version"]!.GetValue<int>());
    }

    [Fact]
    public async Task Changing_a_join_key_type_is_breaking_and_names_the_views_keyed_by_it()
    {
        await AppliedQuickstart();
        _repo.Edit(RepoFile, "      - name: driver_id\n        type: int64", "      - name: driver_id\n        type: string");
        _repo.Edit(RepoFile, "{name: driver_id, type: int64}", "{name: driver_id, type: string}");

        var r = await _repo.Freshet("plan");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("~ entity driver (v1 -> v2)  BREAKING", r.Out, StringComparison.Ordinal);
        Assert.Contains("join keys change from [driver_id:int64] to [driver_id:string]", r.Out, StringComparison.Ordinal);
        Assert.Contains("views keyed by 'driver' must be re-materialized: driver_hourly_stats, driver_hourly_stats_fresh", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Removing_a_view_from_the_repo_deletes_it_after_confirmation()
    {
        await AppliedQuickstart();
        _repo.RemoveBetween(RepoFile, "  - name: driver_hourly_stats_fresh", "on_demand_views:");

        var plan = await _repo.Freshet("plan");
        Assert.Contains("- feature_view driver_hourly_stats_fresh (v1 -> deleted)  DROPS DATA", plan.Out, StringComparison.Ordinal);
        Assert.Contains("drops data: its online rows are removed", plan.Out, StringComparison.Ordinal);

        var refused = await _repo.Freshet("apply");
        Assert.Equal(2, refused.ExitCode);

        var applied = await _repo.Freshet("apply", "--yes");
        Assert.True(applied.ExitCode == 0, applied.ToString());

        var list = await _repo.Freshet("list", "views");
        Assert.DoesNotContain("driver_hourly_stats_fresh", list.Out, StringComparison.Ordinal);

        // The history stays: describe shows the deletion as version 2.
        var described = (await _repo.Freshet("describe", "driver_hourly_stats_fresh", "--json")).Json();
        Assert.True(described["deleted"]!.GetValue<bool>());
        Assert.Equal(["create", "delete"], described["history"]!.AsArray().Select(h => h!["change"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Removing_an_object_without_data_needs_no_confirmation()
    {
        await AppliedQuickstart();
        _repo.Edit(RepoFile, "      - transformed_conv_rate:conv_rate_plus_val1\n", "");
        _repo.RemoveBetween(RepoFile, "on_demand_views:", "feature_services:");

        var r = await _repo.Freshet("apply");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("- on_demand_view transformed_conv_rate (v1 -> deleted)\n", r.Out.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("- transformed_conv_rate:conv_rate_plus_val1", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_repo_with_several_mistakes_reports_all_of_them_with_positions_and_changes_nothing()
    {
        await AppliedQuickstart();
        var before = File.ReadAllText(_repo.RegistryFile);
        _repo.Write("features/broken.yaml", """
            feature_views:
              - name: driver_hourly_stats
                entities: [drivr]
                source: driver_stats_source
                ttl: 1x
                schema:
                  - {name: conv_rate, type: float64}
            feature_services:
              - name: broken_service
                features: [no_such_view:conv_rate, driver_hourly_stats:nope]
            """);
        _repo.Write("more.yaml", "entities:\n  - name: rider\n    join_keys: [{name: rider_id, type: float64}]\n    colour: red\n");

        var r = await _repo.Freshet("plan");

        Assert.Equal(1, r.ExitCode);
        var lines = r.Err.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("features/broken.yaml:2:11: error: duplicate view name 'driver_hourly_stats' (first defined at driver_repo.yaml:", r.Err, StringComparison.Ordinal);
        Assert.Contains("features/broken.yaml:3:16: error: feature view 'driver_hourly_stats': unknown entity 'drivr'; did you mean 'driver'?", lines);
        Assert.Contains(lines, l => l.StartsWith("features/broken.yaml:5:10: error: feature view 'driver_hourly_stats': 'ttl': bad duration '1x'", StringComparison.Ordinal));
        Assert.Contains("features/broken.yaml:7:33: error: feature view 'driver_hourly_stats': type mismatch: feature 'conv_rate' is float64, but source 'driver_stats_source' declares it as float32", lines);
        Assert.Contains(lines, l => l.StartsWith("features/broken.yaml:10:16: error: feature service 'broken_service': unknown view 'no_such_view'", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("features/broken.yaml:10:40: error: feature service 'broken_service': view 'driver_hourly_stats' has no feature 'nope'", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("more.yaml:3:40: error: entity 'rider': join key 'rider_id' has type float64", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("more.yaml:4:5: error: entity 'rider': unknown key 'colour'", StringComparison.Ordinal));
        Assert.Equal("8 problems found; nothing was changed.", lines[^1]);
        Assert.Equal(before, File.ReadAllText(_repo.RegistryFile));
    }

    [Fact]
    public async Task A_service_may_pin_a_view_version_that_exists()
    {
        await AppliedQuickstart();
        ChangeConvRateType("float64");
        Assert.Equal(0, (await _repo.Freshet("apply", "--yes")).ExitCode);

        _repo.Edit(RepoFile, "      - driver_hourly_stats:acc_rate\n", "      - driver_hourly_stats@v1:acc_rate\n");
        var ok = await _repo.Freshet("apply");
        Assert.True(ok.ExitCode == 0, ok.ToString());

        _repo.Edit(RepoFile, "driver_hourly_stats@v1:acc_rate", "driver_hourly_stats@v7:acc_rate");
        var bad = await _repo.Freshet("plan");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("view 'driver_hourly_stats' has no version 7 in the registry", bad.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_registry_of_another_project_is_not_overwritten()
    {
        await AppliedQuickstart();
        _repo.Edit("freshet.yaml", "project: repo", "project: other");

        var r = await _repo.Freshet("plan");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("this registry belongs to project 'repo', not 'other'", r.Err, StringComparison.Ordinal);
    }
}
