namespace Freshet.Cli.Tests;

/// <summary>Plans over the fraud example, whose aggregation views hold tile state.</summary>
public sealed class AggregationPlanTests : IDisposable
{
    private const string Features = "features/account.yaml";
    private readonly TempRepo _repo = new();

    public AggregationPlanTests()
    {
        var example = Path.Combine(AppContext.BaseDirectory, "examples", "fraud");
        foreach (var file in Directory.EnumerateFiles(example, "*.yaml", SearchOption.AllDirectories))
        {
            _repo.Write(Path.GetRelativePath(example, file), File.ReadAllText(file));
        }
    }

    public void Dispose() => _repo.Dispose();

    [Fact]
    public async Task The_fraud_example_applies()
    {
        var r = await _repo.Freshet("apply");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("11 to add", r.Out, StringComparison.Ordinal);
        var d = (await _repo.Freshet("describe", "account_txn_stats", "--json")).Json();
        Assert.Equal(
            ["count_1h", "amount_sum_1d", "amount_mean_7d", "merchant_id_count_distinct_1d", "amount_p95_7d", "merchant_id_last5_1d", "cnp_amount_sum_1h"],
            d["features"]!.AsArray().Select(f => f!["name"]!.GetValue<string>()));
        Assert.Equal(
            ["int64", "float64", "float64", "int64", "float64", "list<string>", "float64"],
            d["features"]!.AsArray().Select(f => f!["type"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Init_from_the_fraud_template_gives_a_repo_that_applies()
    {
        using var other = new TempRepo();
        var init = await TempRepo.Run("init", other.Dir, "--template", "fraud");
        Assert.True(init.ExitCode == 0, init.ToString());

        var r = await other.Freshet("apply");

        Assert.True(r.ExitCode == 0, r.ToString());
        var list = (await other.Freshet("list", "views", "--json")).Json();
        Assert.Contains("account_txn_stats", list.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Changing_a_window_of_a_view_with_state_is_breaking()
    {
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        _repo.Edit(Features, "{function: mean, column: amount, window: 7d}", "{function: mean, column: amount, window: 7d, hop: 2h}");

        var r = await _repo.Freshet("plan");

        Assert.Contains("~ aggregation_view account_txn_stats (v1 -> v2)  BREAKING", r.Out, StringComparison.Ordinal);
        Assert.Contains("~ aggregation amount_mean_7d: window/hop 7d/1h -> 7d/2h", r.Out, StringComparison.Ordinal);
        Assert.Contains("breaking: aggregation 'amount_mean_7d' changes window or hop on a view with state: its tiles must be rebuilt (backfill)", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Adding_an_aggregation_is_not_breaking()
    {
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        _repo.Edit(Features, "      - {function: count, window: 1h}\n      - {function: sum", "      - {function: count, window: 1h}\n      - {function: max, column: amount, window: 1h}\n      - {function: sum");

        var r = await _repo.Freshet("apply");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("+ aggregation amount_max_1h", r.Out, StringComparison.Ordinal);
        Assert.Contains("0 breaking", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Removing_an_aggregation_view_drops_its_tiles()
    {
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        _repo.Edit(Features, "      - merchant_txn_stats:count_1h\n", "");
        _repo.RemoveBetween(Features, "  - name: merchant_txn_stats", "on_demand_views:");

        var r = await _repo.Freshet("apply");

        Assert.Equal(2, r.ExitCode);
        Assert.Contains("drops data: its tiles (aggregation state) are removed", r.Out, StringComparison.Ordinal);
    }
}
