using System.Globalization;
using DuckDB.NET.Data;

namespace Freshet.Cli.Tests;

/// <summary>
/// <c>freshet backfill</c> on the fraud template (RocksDB online store): the archive's events before the cut-over
/// become tiles that <c>freshet get</c> serves, the ones after it are left to the stream, and the stored cut-over
/// survives closing and reopening the store.
/// </summary>
public sealed class BackfillCommandTests : IDisposable
{
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    [Fact]
    public async Task Backfill_writes_the_archive_before_the_cut_over_and_get_serves_it()
    {
        Assert.Equal(0, (await TempRepo.Run("init", _repo.Dir, "--template", "fraud")).ExitCode);
        var apply = await _repo.Freshet("apply");
        Assert.True(apply.ExitCode == 0, apply.ToString());

        // Minutes before now, so the 1h window at serving time holds them; two acc1 events after the cut-over
        // are in the archive too and must be left to the stream.
        var now = DateTimeOffset.UtcNow;
        var cut = now.AddMinutes(-15);
        var events = new List<(DateTimeOffset Ts, string Account, double Amount)>();
        for (var i = 0; i < 5; i++)
        {
            events.Add((now.AddMinutes(-40 + i), "acc1", 10 + i));
        }

        for (var i = 0; i < 3; i++)
        {
            events.Add((now.AddMinutes(-30 + i), "acc2", 100));
        }

        events.Add((now.AddMinutes(-10), "acc1", 1000));
        events.Add((now.AddMinutes(-5), "acc1", 1000));
        Directory.CreateDirectory(Path.Combine(_repo.Dir, "data", "transactions"));
        WriteParquet(Path.Combine(_repo.Dir, "data", "transactions", "part-0.parquet"), events);

        var until = cut.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
        var backfill = await _repo.Freshet("backfill", "account_txn_stats", "--until", until, "--json");
        Assert.True(backfill.ExitCode == 0, backfill.ToString());
        var result = backfill.Json();
        Assert.Equal(8, result["rows_read"]!.GetValue<long>());
        Assert.Equal(8, result["events_applied"]!.GetValue<long>());
        Assert.Equal(0, result["rejected"]!.GetValue<long>());
        Assert.Equal(2, result["entities"]!.GetValue<long>());

        var get = await _repo.Freshet("get", "--features", "account_txn_stats:count_1h,account_txn_stats:amount_sum_1d", "--entity", "account_id=acc1", "--entity", "account_id=acc2", "--json");
        Assert.True(get.ExitCode == 0, get.ToString());
        var rows = get.Json()["rows"]!.AsArray();
        Assert.Equal("5", rows[0]!["count_1h"]!["value"]!.GetValue<string>());
        Assert.Equal(60.0, double.Parse(rows[0]!["amount_sum_1d"]!["value"]!.GetValue<string>(), CultureInfo.InvariantCulture), 9);
        Assert.Equal("3", rows[1]!["count_1h"]!["value"]!.GetValue<string>());

        // The cut-over was stored durably: a new run (the store reopened) sees it and refuses to count twice.
        var again = await _repo.Freshet("backfill", "account_txn_stats", "--until", until);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("was backfilled up to", again.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", again.Err, StringComparison.Ordinal);

        // --replace rebuilds from scratch: the same values, not doubled.
        var replace = await _repo.Freshet("backfill", "account_txn_stats", "--until", until, "--replace");
        Assert.True(replace.ExitCode == 0, replace.ToString());
        Assert.Contains("Backfilled 'account_txn_stats'", replace.Out, StringComparison.Ordinal);
        var after = await _repo.Freshet("get", "--features", "account_txn_stats:count_1h", "--entity", "account_id=acc1", "--json");
        Assert.Equal("5", after.Json()["rows"]!.AsArray()[0]!["count_1h"]!["value"]!.GetValue<string>());
    }

    [Fact]
    public async Task Bad_until_and_a_view_without_a_batch_source_are_one_line_errors()
    {
        Assert.Equal(0, (await TempRepo.Run("init", _repo.Dir, "--template", "fraud")).ExitCode);
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);

        var bad = await _repo.Freshet("backfill", "account_txn_stats", "--until", "yesterday-ish");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--until 'yesterday-ish' is not a time", bad.Err, StringComparison.Ordinal);

        var unknown = await _repo.Freshet("backfill", "no_such_view", "--until", "now");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("no_such_view", unknown.Err, StringComparison.Ordinal);
        Assert.Single(unknown.Err.Trim().Split('\n'));
    }

    private static void WriteParquet(string path, List<(DateTimeOffset Ts, string Account, double Amount)> events)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        var values = string.Join(", ", events.Select((e, i) => string.Create(CultureInfo.InvariantCulture,
            $"(make_timestamp({(e.Ts.UtcTicks - DateTime.UnixEpoch.Ticks) / 10}), '{e.Account}', 'm{i % 3}', {e.Amount:R}::DOUBLE, 'USD', true)")));
        command.CommandText = $"COPY (SELECT * FROM (VALUES {values}) AS t(ts, account_id, merchant_id, amount, currency, card_present)) TO '{path.Replace("'", "''", StringComparison.Ordinal)}' (FORMAT PARQUET)";
        command.ExecuteNonQuery();
    }
}
