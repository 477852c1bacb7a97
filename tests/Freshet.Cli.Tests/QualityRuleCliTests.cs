using System.Globalization;

namespace Freshet.Cli.Tests;

/// <summary>
/// Data-quality rules from the command line (docs/quality.md#rules): plan shows a rule change, materialize reports
/// and skips violating rows, a pushed violation is a dead letter that `deadletter list` shows with its rule, and
/// `deadletter replay` applies it once the rule is relaxed.
/// </summary>
public sealed class QualityRuleCliTests : IDisposable
{
    private const string ConvRate = "{name: conv_rate, type: float32, description: share of offers the driver converted}";
    private const string FreshTrips = "      - {name: avg_daily_trips, type: int32}\n\non_demand_views:";

    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    [Fact]
    public async Task Plan_shows_a_new_rule_and_materialize_reports_and_skips_the_rows_that_break_it()
    {
        await _repo.InitQuickstart();
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        var all = await _repo.Freshet("materialize", "2000-01-01", "2100-01-01", "--views", "driver_hourly_stats", "--json");
        Assert.True(all.ExitCode == 0, all.ToString());
        var total = all.Json()["views"]![0]!["rows"]!.GetValue<long>();

        _repo.Edit("driver_repo.yaml", ConvRate, ConvRate.Replace("}", ", max: 0.5}", StringComparison.Ordinal));
        var plan = await _repo.Freshet("plan");
        Assert.True(plan.ExitCode == 0, plan.ToString());
        Assert.Contains("~ feature conv_rate rules: none -> max: 0.5", plan.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("BREAKING", plan.Out, StringComparison.Ordinal);
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);

        var checkedRun = await _repo.Freshet("materialize", "2000-01-01", "2100-01-01", "--views", "driver_hourly_stats", "--json");
        Assert.True(checkedRun.ExitCode == 0, checkedRun.ToString());
        var view = checkedRun.Json()["views"]![0]!;
        var violation = Assert.Single(view["rule_violations"]!.AsArray())!;
        Assert.Equal("conv_rate.max", violation["rule"]!.GetValue<string>());
        var skipped = violation["rows"]!.GetValue<long>();
        Assert.True(skipped > 0 && skipped < total, $"{skipped} of {total} rows broke conv_rate.max");
        Assert.Equal(total, view["rows"]!.GetValue<long>() + skipped);
        var example = violation["examples"]![0]!;
        Assert.StartsWith("conv_rate.max: ", example["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("\"driver_id\"", example["row"]!.GetValue<string>(), StringComparison.Ordinal);

        var text = await _repo.Freshet("materialize", "2000-01-01", "2100-01-01", "--views", "driver_hourly_stats");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("Rows skipped by data-quality rules", text.Out, StringComparison.Ordinal);
        Assert.Contains("conv_rate.max", text.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pushed_violation_is_listed_with_its_rule_and_replays_after_the_rule_is_relaxed()
    {
        await _repo.InitQuickstart();
        _repo.Edit("driver_repo.yaml", FreshTrips, FreshTrips.Replace("type: int32}", "type: int32, min: 0}", StringComparison.Ordinal));
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        var ts = DateTimeOffset.UtcNow.AddMinutes(-1).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        await using (var server = await ServerProcess.StartAsync(_repo.Dir))
        {
            var (status, body) = await server.PostAsync("/push", $$$"""
                {"push_source_name": "driver_stats_push_source", "to": "online",
                 "df": {"driver_id": [7001, 7002], "conv_rate": [0.1, 0.2], "acc_rate": [0.5, 0.5], "avg_daily_trips": [12, -3], "event_timestamp": ["{{{ts}}}", "{{{ts}}}"]}}
                """);
            Assert.True(status == 200, body?.ToJsonString());
            Assert.Equal("avg_daily_trips.min: -3 < 0", body!["row_errors"]![0]!["message"]!.GetValue<string>());
        }

        var list = await _repo.Freshet("deadletter", "list", "--json");
        Assert.True(list.ExitCode == 0, list.ToString());
        var letter = Assert.Single(list.Json()["letters"]!.AsArray())!;
        Assert.Equal("rule_violation", letter["code"]!.GetValue<string>());
        Assert.Equal("driver_hourly_stats_fresh", letter["view"]!.GetValue<string>());
        Assert.Equal("avg_daily_trips.min: -3 < 0", letter["reason"]!.GetValue<string>());
        var table = await _repo.Freshet("deadletter", "list");
        Assert.Contains("avg_daily_trips.min: -3 < 0", table.Out, StringComparison.Ordinal);

        // Under the same rule the replay refuses it again and keeps it.
        var refused = await _repo.Freshet("deadletter", "replay");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("avg_daily_trips.min", refused.Err, StringComparison.Ordinal);

        _repo.Edit("driver_repo.yaml", "type: int32, min: 0}", "type: int32, min: -10}");
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        var replay = await _repo.Freshet("deadletter", "replay");
        Assert.True(replay.ExitCode == 0, replay.ToString());
        Assert.Equal(0, (await _repo.Freshet("deadletter", "list", "--json")).Json()["total"]!.GetValue<long>());

        var get = await _repo.Freshet("get", "--features", "driver_hourly_stats_fresh:avg_daily_trips", "--entity", "driver_id=7002", "--json");
        Assert.True(get.ExitCode == 0, get.ToString());
        Assert.Equal("-3", get.Json()["rows"]![0]!["avg_daily_trips"]!["value"]!.GetValue<string>());
    }
}
