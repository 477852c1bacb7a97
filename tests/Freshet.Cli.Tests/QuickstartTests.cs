using System.Text.Json.Nodes;

namespace Freshet.Cli.Tests;

public sealed class QuickstartTests : IDisposable
{
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    [Fact]
    public async Task Init_creates_the_quickstart_repo_with_the_driver_stats_data()
    {
        await _repo.InitQuickstart();

        Assert.True(File.Exists(Path.Combine(_repo.Dir, "freshet.yaml")));
        Assert.Contains("project: repo", _repo.Read("freshet.yaml"), StringComparison.Ordinal);
        var data = new FileInfo(Path.Combine(_repo.Dir, "data", "driver_stats.parquet"));
        Assert.True(data.Exists);

        // The copy is the real Feast file: Parquet starts and ends with the magic bytes PAR1.
        var bytes = File.ReadAllBytes(data.FullName);
        Assert.Equal("PAR1"u8.ToArray(), bytes[..4]);
        Assert.Equal("PAR1"u8.ToArray(), bytes[^4..]);
    }

    [Fact]
    public async Task Init_refuses_a_directory_that_is_not_empty()
    {
        _repo.Write("something.txt", "x");

        var r = await TempRepo.Run("init", _repo.Dir);

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("not empty", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Init_rejects_an_unknown_template()
    {
        var r = await TempRepo.Run("init", _repo.Dir, "--template", "nope");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("unknown template 'nope'; templates: fraud, quickstart", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_registers_every_quickstart_object_and_list_prints_them()
    {
        await _repo.InitQuickstart();

        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        Assert.Contains("8 to add, 0 to update, 0 to delete", apply.Out, StringComparison.Ordinal);
        Assert.Contains("Applied: registry version 1.", apply.Out, StringComparison.Ordinal);

        var list = await _repo.Freshet("list");
        Assert.Equal(0, list.ExitCode);
        Assert.Matches(@"driver\s+driver_id:int64\s+v1", list.Out);
        Assert.Matches(@"driver_hourly_stats\s+feature_view\s+driver\s+3\s+no ttl\s+v1", list.Out);
        Assert.Matches(@"driver_stats_source\s+file\s+data/driver_stats.parquet\s+v1", list.Out);
        Assert.Matches(@"driver_activity\s+4 features", list.Out);
    }

    [Fact]
    public async Task List_json_is_stable_and_holds_specs()
    {
        await _repo.InitQuickstart();
        await _repo.Freshet("apply");

        var json = (await _repo.Freshet("list", "views", "--json")).Json();

        Assert.Equal("repo", json["project"]!.GetValue<string>());
        Assert.Equal(1, json["registry_version"]!.GetValue<long>());
        var views = json["views"]!.AsArray();
        Assert.Equal(["driver_hourly_stats", "driver_hourly_stats_fresh", "transformed_conv_rate"], views.Select(v => v!["name"]!.GetValue<string>()));
        var hourly = views[0]!;
        Assert.Equal("feature_view", hourly["kind"]!.GetValue<string>());
        Assert.Equal(1, hourly["version"]!.GetValue<int>());
        Assert.Equal(64, hourly["spec_hash"]!.GetValue<string>().Length);
        Assert.Equal("0", hourly["spec"]!["ttl"]!.GetValue<string>());
        Assert.Equal("float32", hourly["spec"]!["schema"]![0]!["type"]!.GetValue<string>());
        Assert.Null(json["entities"]);
    }

    [Fact]
    public async Task Applying_the_same_repo_twice_changes_nothing()
    {
        await _repo.InitQuickstart();
        await _repo.Freshet("apply");
        var before = File.ReadAllText(_repo.RegistryFile);

        var again = await _repo.Freshet("apply");

        Assert.Equal(0, again.ExitCode);
        Assert.Contains("no changes", again.Out, StringComparison.Ordinal);
        Assert.Contains("Registry unchanged at version 1.", again.Out, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(_repo.RegistryFile));
    }

    [Fact]
    public async Task Describe_shows_features_definition_lineage_and_history()
    {
        await _repo.InitQuickstart();
        await _repo.Freshet("apply");

        var r = await _repo.Freshet("describe", "driver_hourly_stats");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("feature view 'driver_hourly_stats', version 1", r.Out, StringComparison.Ordinal);
        Assert.Matches(@"conv_rate\s+float32", r.Out);
        Assert.Contains("depends on  entity:driver, source:driver_stats_source", r.Out, StringComparison.Ordinal);
        Assert.Contains("feature_service:driver_activity", r.Out, StringComparison.Ordinal);
        Assert.Contains("ttl: 0", r.Out, StringComparison.Ordinal);
        Assert.Matches(@"v1\s+create\s+[0-9a-f]{12}", r.Out);

        var json = (await _repo.Freshet("describe", "driver_hourly_stats", "--json")).Json();
        Assert.False(json["deleted"]!.GetValue<bool>());
        Assert.Equal(["conv_rate", "acc_rate", "avg_daily_trips"], json["features"]!.AsArray().Select(f => f!["name"]!.GetValue<string>()));
        Assert.Single(json["history"]!.AsArray());
    }

    [Fact]
    public async Task Describe_of_an_unknown_name_fails_and_lists_known_names()
    {
        await _repo.InitQuickstart();
        await _repo.Freshet("apply");

        var r = await _repo.Freshet("describe", "nope");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no object named 'nope'", r.Err, StringComparison.Ordinal);
        Assert.Contains("driver_hourly_stats", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lineage_json_links_sources_to_views_to_services()
    {
        await _repo.InitQuickstart();
        await _repo.Freshet("apply");

        var json = (await _repo.Freshet("lineage", "--json")).Json();

        var edges = json["edges"]!.AsArray().Select(e => (e!["from"]!.GetValue<string>(), e["to"]!.GetValue<string>(), e["relation"]!.GetValue<string>())).ToList();
        Assert.Contains(("source:driver_stats_source", "feature_view:driver_hourly_stats", "source"), edges);
        Assert.Contains(("entity:driver", "feature_view:driver_hourly_stats", "entity"), edges);
        Assert.Contains(("feature_view:driver_hourly_stats", "feature_service:driver_activity", "features"), edges);
        Assert.Contains(("source:vals_to_add", "on_demand_view:transformed_conv_rate", "input"), edges);
        Assert.Contains(("on_demand_view:transformed_conv_rate", "feature_service:driver_activity", "features"), edges);
        Assert.Equal(8, json["nodes"]!.AsArray().Count);
    }

    [Fact]
    public async Task Commands_without_a_repo_fail_with_a_clear_message()
    {
        var r = await _repo.Freshet("list");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no freshet.yaml", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_prints_the_version_as_text_and_json()
    {
        var text = await TempRepo.Run("version");
        Assert.Matches(@"^freshet \d+\.\d+\.\d+", text.Out);

        var json = (await TempRepo.Run("version", "--json")).Json();
        Assert.Equal(1, json["registry_format"]!.GetValue<int>());
        Assert.Matches(@"^\d+\.\d+\.\d+", json["version"]!.GetValue<string>());
    }

    [Fact]
    public async Task List_before_any_apply_says_nothing_is_applied()
    {
        await _repo.InitQuickstart();

        var r = await _repo.Freshet("list");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("registry version 0 (nothing applied yet)", r.Out, StringComparison.Ordinal);
        Assert.Contains("(none)", r.Out, StringComparison.Ordinal);
    }

    internal static JsonNode Spec(JsonNode describe) => describe["spec"]!;
}
