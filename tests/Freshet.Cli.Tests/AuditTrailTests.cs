using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Freshet.Cli.Tests;

/// <summary>
/// The audit trail as a user meets it: commands and a server append to one chain under <c>data/audit/</c>;
/// <c>freshet audit verify</c> exits 1 naming the record that was changed, removed, reordered or truncated, and
/// a server killed with SIGKILL in the middle of appends leaves a log that verifies.
/// </summary>
public sealed class AuditTrailTests : IDisposable
{
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    private string LogPath => Path.Combine(_repo.Dir, "data", "audit", "audit.log");

    private async Task<List<JsonNode>> TailAsync(int n = 1000)
    {
        var tail = await _repo.Freshet("audit", "tail", "-n", n.ToString(CultureInfo.InvariantCulture), "--json");
        Assert.True(tail.ExitCode == 0, tail.ToString());
        return [.. tail.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!)];
    }

    private async Task AssertVerifiesAsync()
    {
        var verify = await _repo.Freshet("audit", "verify");
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    private async Task AssertVerifyFailsAtAsync(long sequence)
    {
        var verify = await _repo.Freshet("audit", "verify");
        Assert.True(verify.ExitCode == 1, verify.ToString());
        Assert.Contains($"the first bad record is {sequence}.", verify.Err, StringComparison.Ordinal);
        Assert.Contains($"record {sequence}", verify.Err, StringComparison.Ordinal);
    }

    internal static string PushBody(long id, DateTimeOffset at)
    {
        var ts = at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
        return new JsonObject
        {
            ["push_source_name"] = "driver_stats_push_source",
            ["to"] = "online",
            ["df"] = new JsonObject
            {
                ["driver_id"] = new JsonArray(id),
                ["conv_rate"] = new JsonArray(0.5),
                ["acc_rate"] = new JsonArray(0.5),
                ["avg_daily_trips"] = new JsonArray(3),
                ["event_timestamp"] = new JsonArray(ts),
                ["created"] = new JsonArray(ts),
            },
        }.ToJsonString();
    }

    [Fact]
    public async Task Apply_and_materialize_are_recorded_and_verify_finds_each_kind_of_tampering()
    {
        await _repo.InitQuickstart();
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        var materialize = await _repo.Freshet("materialize", "2000-01-01", "2100-01-01", "--views", "driver_hourly_stats");
        Assert.True(materialize.ExitCode == 0, materialize.ToString());
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);

        var records = await TailAsync();
        Assert.Equal(["apply", "materialize", "apply"], records.Select(r => r["action"]!.GetValue<string>()));
        var who = Environment.GetEnvironmentVariable("FRESHET_USER") is { Length: > 0 } u ? u : $"{Environment.UserName}@{Environment.MachineName}";
        Assert.All(records, r => Assert.Equal(who, r["actor"]!.GetValue<string>()));
        Assert.Equal("1", records[0]["details"]!["registry_version"]!.GetValue<string>());
        Assert.Contains(records[0]["objects"]!.AsArray(), o => o!["kind"]!.GetValue<string>() == "feature_view" && o["name"]!.GetValue<string>() == "driver_hourly_stats");
        Assert.True(long.Parse(records[1]["details"]!["rows"]!.GetValue<string>(), CultureInfo.InvariantCulture) > 0);
        Assert.Equal("0", records[2]["details"]!["changes"]!.GetValue<string>());
        Assert.Single((await TailAsync(1)));

        var verify = await _repo.Freshet("audit", "verify");
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Contains("3 records, head 3 " + records[2]["hash"]!.GetValue<string>(), verify.Out, StringComparison.Ordinal);

        var original = File.ReadAllText(LogPath);
        var lines = original.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        void Write(IEnumerable<string> ls) => File.WriteAllText(LogPath, string.Concat(ls.Select(l => l + "\n")));

        // One byte of the actor of record 2.
        var changed = (string[])lines.Clone();
        changed[1] = changed[1].Replace($"\"actor\":\"{who}\"", $"\"actor\":\"{who[..^1]}{(char)(who[^1] + 1)}\"", StringComparison.Ordinal);
        Assert.NotEqual(lines[1], changed[1]);
        Write(changed);
        await AssertVerifyFailsAtAsync(2);

        // Record 2 removed.
        Write([lines[0], lines[2]]);
        await AssertVerifyFailsAtAsync(2);

        // Records 1 and 2 swapped.
        Write([lines[1], lines[0], lines[2]]);
        await AssertVerifyFailsAtAsync(1);

        // The newest record cut off.
        Write([lines[0], lines[1]]);
        await AssertVerifyFailsAtAsync(3);

        // The anchor edited to name an earlier record.
        Write(lines);
        await AssertVerifiesAsync();
        var anchorPath = Path.Combine(_repo.Dir, "data", "audit", "head.json");
        var anchor = File.ReadAllText(anchorPath);
        File.WriteAllText(anchorPath, new JsonObject { ["seq"] = 2, ["hash"] = records[2]["hash"]!.GetValue<string>() }.ToJsonString());
        await AssertVerifyFailsAtAsync(2);
        File.WriteAllText(anchorPath, anchor);
        await AssertVerifiesAsync();
    }

    [Fact]
    public async Task Cli_processes_and_a_server_appending_at_once_make_one_valid_chain()
    {
        await _repo.InitQuickstart();
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        var cli = Path.Combine(AppContext.BaseDirectory, "freshet.dll");
        const int Applies = 6;
        const int Pushers = 4;
        const int PushesEach = 10;

        await using (var server = await ServerProcess.StartAsync(_repo.Dir))
        {
            var pushes = Enumerable.Range(0, Pushers).Select(p => Task.Run(async () =>
            {
                for (var i = 0; i < PushesEach; i++)
                {
                    var (status, body) = await server.PostAsync("/push", PushBody(p * 100 + i, DateTimeOffset.UtcNow));
                    Assert.True(status == 200, body?.ToJsonString());
                }
            })).ToList();
            var applies = Enumerable.Range(0, Applies).Select(async i =>
            {
                var start = new ProcessStartInfo("dotnet", ["exec", cli, "apply", "--repo", _repo.Dir]) { RedirectStandardOutput = true, RedirectStandardError = true };
                start.Environment["FRESHET_USER"] = $"proc-{i}";
                using var process = Process.Start(start)!;
                var stderr = process.StandardError.ReadToEndAsync();
                await process.StandardOutput.ReadToEndAsync();
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
                Assert.True(process.ExitCode == 0, await stderr);
            }).ToList();
            await Task.WhenAll([.. pushes, .. applies]);
        }

        await AssertVerifiesAsync();
        var records = await TailAsync(10_000);
        Assert.Equal(1 + Applies + Pushers * PushesEach, records.Count);
        Assert.Equal(Enumerable.Range(1, records.Count).Select(i => (long)i), records.Select(r => r["seq"]!.GetValue<long>()));
        Assert.Equal(Enumerable.Range(0, Applies).Select(i => $"proc-{i}").Order(), records.Where(r => r["actor"]!.GetValue<string>().StartsWith("proc-", StringComparison.Ordinal)).Select(r => r["actor"]!.GetValue<string>()).Order());
        var pushesRecorded = records.Where(r => r["action"]!.GetValue<string>() == "write_online").ToList();
        Assert.Equal(Pushers * PushesEach, pushesRecorded.Count);
        Assert.All(pushesRecorded, r =>
        {
            Assert.Equal("anonymous", r["actor"]!.GetValue<string>());
            Assert.Equal("127.0.0.1", r["remote"]!.GetValue<string>());
            Assert.Equal("200", r["status"]!.GetValue<string>());
        });
    }

    [Fact]
    public async Task A_server_killed_during_appends_leaves_a_log_that_verifies_and_holds_every_acknowledged_push()
    {
        await _repo.InitQuickstart();
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        var random = new Random(20261129);
        var acknowledged = 0;
        for (var round = 0; round < 3; round++)
        {
            await using (var server = await ServerProcess.StartAsync(_repo.Dir))
            {
                var firstAck = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var pushers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
                {
                    for (var i = 0; ; i++)
                    {
                        int status;
                        try
                        {
                            (status, _) = await server.PostAsync("/push", PushBody(p * 1000 + i, DateTimeOffset.UtcNow));
                        }
                        catch (HttpRequestException)
                        {
                            return;
                        }
                        catch (TaskCanceledException)
                        {
                            return;
                        }

                        Assert.Equal(200, status);
                        Interlocked.Increment(ref acknowledged);
                        firstAck.TrySetResult();
                    }
                })).ToList();
                await firstAck.Task.WaitAsync(TimeSpan.FromSeconds(90));
                await Task.Delay(random.Next(100, 800));
                await server.KillAsync();
                await Task.WhenAll(pushers);
            }

            await AssertVerifiesAsync();
        }

        // Each push was answered only after its record was on disk.
        var records = await TailAsync(1_000_000);
        Assert.True(records.Count(r => r["action"]!.GetValue<string>() == "write_online") >= acknowledged,
            $"{acknowledged} pushes were acknowledged but fewer were recorded");
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        await AssertVerifiesAsync();
    }

    [Fact]
    public async Task A_bad_audit_setting_is_reported_at_its_line_and_column()
    {
        await _repo.InitQuickstart();
        File.AppendAllText(Path.Combine(_repo.Dir, "freshet.yaml"), "audit:\n  enabled: true\n  read_sample_rate: 2\n");
        var lines = File.ReadAllLines(Path.Combine(_repo.Dir, "freshet.yaml"));
        var line = Array.FindIndex(lines, l => l.Contains("read_sample_rate", StringComparison.Ordinal)) + 1;
        var r = await _repo.Freshet("audit", "verify");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"freshet.yaml:{line}:21: error: audit: 'read_sample_rate' must be from 0", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Turned_off_nothing_is_recorded()
    {
        await _repo.InitQuickstart();
        File.AppendAllText(Path.Combine(_repo.Dir, "freshet.yaml"), "audit:\n  enabled: false\n");
        Assert.Equal(0, (await _repo.Freshet("apply")).ExitCode);
        Assert.False(File.Exists(LogPath));
        var verify = await _repo.Freshet("audit", "verify");
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Contains("0 records", verify.Out, StringComparison.Ordinal);
    }
}
