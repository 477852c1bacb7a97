using System.Text.Json.Nodes;

namespace Freshet.LoadGen.Tests;

public sealed class LoadGenProgramTests
{
    [Fact]
    public async Task A_run_writes_a_table_a_json_file_with_every_field_and_a_chart()
    {
        var dir = Directory.CreateTempSubdirectory("freshet-loadgen-test-").FullName;
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var code = await LoadGenProgram.RunAsync(
                ["--scenario", "a", "--store", "rocksdb", "--max-rate", "40", "--fractions", "0.5,1", "--warmup", "0.2", "--duration", "1", "--connections", "2", "--timeout", "60", "--settle", "0", "--out", dir],
                output,
                error);

            Assert.True(code == 0, error.ToString());
            Assert.Contains("| freshet-http | 40 |", output.ToString(), StringComparison.Ordinal);
            var json = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "loadgen-a-rocksdb.json")))!;
            Assert.Equal("a", (string?)json["scenario"]);
            Assert.Equal(40.0, (double?)json["max_rate"]);
            Assert.Equal("bytes", (string?)json["grpc_answer"]);
            var runs = json["runs"]!.AsArray();
            // Three targets (Freshet HTTP, bare Kestrel, Freshet gRPC; no Redis with rocksdb) at two rates.
            Assert.Equal(6, runs.Count);
            Assert.Equal(["bare-http", "freshet-grpc", "freshet-http"], runs.Select(r => (string)r!["target"]!).Distinct().Order(StringComparer.Ordinal));
            foreach (var run in runs)
            {
                Assert.Contains((double)run!["offered_rate"]!, new[] { 20.0, 40.0 });
                Assert.Equal((long)run["scheduled"]!, (long)run["ok"]!);
                Assert.Equal(0, (long)run["error_count"]!);
                Assert.True((double)run["throughput"]! > 0);
                foreach (var p in new[] { "p50", "p90", "p99", "p99.9", "max" })
                {
                    Assert.True((double)run["latency_ms"]![p]! > 0, $"{run["target"]} {p}");
                }

                Assert.NotNull(run["errors"]);
            }

            var png = await File.ReadAllBytesAsync(Path.Combine(dir, "loadgen-a-rocksdb.png"));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Nothing_is_timed_before_every_target_has_settled_and_maxima_are_taken_in_alternating_slices()
    {
        var dir = Directory.CreateTempSubdirectory("freshet-loadgen-test-").FullName;
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var code = await LoadGenProgram.RunAsync(
                ["--scenario", "a", "--store", "memory", "--targets", "freshet-http,bare-http", "--settle", "2", "--warmup", "0", "--max-duration", "2", "--in-flight", "4", "--connections", "2", "--fractions", "0.1", "--duration", "1", "--timeout", "60", "--out", dir],
                output,
                error);

            Assert.True(code == 0, error.ToString());
            var lines = output.ToString().Split('\n');
            var settle = Array.FindIndex(lines, l => l.Contains("settle   1:", StringComparison.Ordinal));
            var firstMax = Array.FindIndex(lines, l => l.Contains("max (closed loop", StringComparison.Ordinal));
            Assert.True(settle >= 0 && firstMax > settle, output.ToString());
            Assert.Contains("freshet-http", lines[settle], StringComparison.Ordinal);
            Assert.Contains("bare-http", lines[settle], StringComparison.Ordinal);
            // Two 1 s slices per target, so each maximum line shows the spread of its slices.
            Assert.Equal(2, lines.Count(l => l.Contains("max (closed loop", StringComparison.Ordinal) && l.Contains("1 s slices", StringComparison.Ordinal)));

            var json = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "loadgen-a-memory.json")))!;
            Assert.Equal(2.0, (double?)json["settle_seconds"]);
            Assert.True((double)json["closed_loop_max"]!["freshet-http"]! > 0);
            Assert.True((double)json["closed_loop_max"]!["bare-http"]! > 0);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("b")]
    [InlineData("c")]
    public async Task Scenarios_b_and_c_answer_every_value_to_every_target(string scenario)
    {
        var dir = Directory.CreateTempSubdirectory("freshet-loadgen-test-").FullName;
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            // The run stops before timing anything if Freshet's answer is an error or lacks a value (100 x 50
            // over 5 views; a feature service of aggregates and on-demand features).
            var code = await LoadGenProgram.RunAsync(
                ["--scenario", scenario, "--store", "rocksdb", "--max-rate", "20", "--fractions", "1", "--warmup", "0", "--duration", "1", "--timeout", "60", "--settle", "0", "--out", dir],
                output,
                error);

            Assert.True(code == 0, error.ToString());
            var runs = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(dir, $"loadgen-{scenario}-rocksdb.json")))!["runs"]!.AsArray();
            Assert.Equal(3, runs.Count);
            Assert.All(runs, r => Assert.Equal(20L, (long)r!["ok"]!));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Scenario_d_reports_the_freshness_of_the_pushes_made_during_each_run()
    {
        var dir = Directory.CreateTempSubdirectory("freshet-loadgen-test-").FullName;
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var code = await LoadGenProgram.RunAsync(
                ["--scenario", "d", "--store", "rocksdb", "--max-rate", "20", "--fractions", "1", "--warmup", "0.5", "--duration", "2", "--push-rate", "15", "--targets", "freshet-http,freshet-grpc", "--grpc-channels", "3", "--timeout", "60", "--settle", "0", "--out", dir],
                output,
                error);

            Assert.True(code == 0, error.ToString());
            Assert.Contains("| 20 | freshet-http | 15 | 30 / 30 |", output.ToString(), StringComparison.Ordinal);
            var json = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "loadgen-d-rocksdb.json")))!;
            Assert.Equal([3], json["grpc_channels"]!.AsArray().Select(n => (int)n!));
            Assert.Equal(15.0, (double)json["push_rate"]!);
            var runs = json["runs"]!.AsArray();
            Assert.Equal(2, runs.Count);
            foreach (var run in runs)
            {
                Assert.Equal(40L, (long)run!["ok"]!);
                var f = run["freshness"]!;
                // 15/s for 2 s measured: 30 pushes, all acknowledged, each seen once by the plain and the aggregation view.
                Assert.Equal(30L, (long)f["pushes_sent"]!);
                Assert.Equal(30L, (long)f["pushes_acked"]!);
                Assert.Equal(30L, (long)f["seen_plain"]!);
                Assert.Equal(30L, (long)f["seen_aggregate"]!);
                Assert.Equal(0L, (long)f["not_seen"]!);
                foreach (var p in new[] { "p50", "p90", "p99", "p99.9", "max" })
                {
                    Assert.True((double)f["freshness_ms"]![p]! > 0, $"{run["target"]} freshness {p}");
                    Assert.True((double)f["aggregate_freshness_ms"]![p]! > 0, $"{run["target"]} aggregate freshness {p}");
                }
            }

            Assert.True(File.Exists(Path.Combine(dir, "loadgen-d-rocksdb.png")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_short_soak_reports_latency_freshness_and_memory_per_interval()
    {
        var dir = Directory.CreateTempSubdirectory("freshet-loadgen-test-").FullName;
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var code = await LoadGenProgram.RunAsync(
                ["--scenario", "soak", "--store", "rocksdb", "--max-rate", "40", "--duration", "3", "--interval", "1", "--push-rate", "10", "--warmup", "0.2", "--timeout", "60", "--settle", "0", "--out", dir],
                output,
                error);

            Assert.True(code == 0, error.ToString());
            Assert.Contains("read p99 drift (last interval / first)", output.ToString(), StringComparison.Ordinal);
            var json = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "loadgen-soak-rocksdb.json")))!;
            // Half of --max-rate.
            Assert.Equal(20.0, (double)json["read_rate"]!);
            var intervals = json["intervals"]!.AsArray();
            Assert.Equal([1, 2, 3], intervals.Select(i => (int)i!["interval"]!));
            foreach (var i in intervals)
            {
                Assert.Equal(20L, (long)i!["reads_scheduled"]!);
                Assert.Equal(20L, (long)i["reads_ok"]!);
                Assert.True((double)i["read_latency_ms"]!["p99"]! > 0);
                Assert.Equal(10L, (long)i["freshness"]!["pushes_acked"]!);
                Assert.Equal(10L, (long)i["freshness"]!["seen_plain"]!);
                Assert.True((long)i["live_heap_bytes"]! > 0);
                Assert.True((long)i["gc_heap_bytes"]! > 0);
                Assert.True((long)i["working_set_bytes"]! > 0);
                Assert.Equal((long)i["live_heap_bytes"]! - (long)i["generator_histogram_bytes"]!, (long)i["live_heap_less_generator_bytes"]!);
            }

            // The generator keeps each interval's six histograms: its share grows by the same amount each interval.
            var kept = intervals.Select(i => (long)i!["generator_histogram_bytes"]!).ToArray();
            Assert.True(kept[0] > 0);
            Assert.Equal(kept[0] * 2, kept[1]);
            Assert.Equal(kept[0] * 3, kept[2]);

            Assert.True((double)json["read_p99_drift"]! > 0);
            Assert.Equal((long)intervals[2]!["live_heap_bytes"]! - (long)intervals[0]!["live_heap_bytes"]!, (long)json["live_heap_growth_bytes"]!);
            Assert.Equal(0L, (long)json["read_errors"]!);
            Assert.Equal(0L, (long)json["not_seen"]!);
            Assert.True(File.Exists(Path.Combine(dir, "loadgen-soak-rocksdb.png")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Several_grpc_channel_counts_are_measured_side_by_side_as_targets_of_one_run()
    {
        var dir = Directory.CreateTempSubdirectory("freshet-loadgen-test-").FullName;
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var code = await LoadGenProgram.RunAsync(
                ["--scenario", "a", "--store", "rocksdb", "--max-rate", "20", "--fractions", "1", "--warmup", "0", "--duration", "1", "--grpc-channels", "4,1", "--grpc-answer", "parse", "--targets", "freshet-http,freshet-grpc", "--timeout", "60", "--settle", "0", "--out", dir],
                output,
                error);

            Assert.True(code == 0, error.ToString());
            var json = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "loadgen-a-rocksdb.json")))!;
            Assert.Equal([4, 1], json["grpc_channels"]!.AsArray().Select(n => (int)n!));
            // Parsed answers: a gRPC answer without results would have counted as an error here.
            Assert.Equal("parse", (string?)json["grpc_answer"]);
            var runs = json["runs"]!.AsArray();
            Assert.Equal(["freshet-grpc-1ch", "freshet-grpc-4ch", "freshet-http"], runs.Select(r => (string)r!["target"]!).Order(StringComparer.Ordinal));
            Assert.All(runs, r => Assert.Equal(20L, (long)r!["ok"]!));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Bad_options_are_named_and_nothing_runs()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await LoadGenProgram.RunAsync(["--scenario", "z", "--duration", "-1", "--store", "rocksdb", "--targets", "redis-mget"], output, error);

        Assert.Equal(2, code);
        var text = error.ToString();
        Assert.Contains("--scenario: unknown scenario 'z'", text, StringComparison.Ordinal);
        Assert.Contains("--duration: '-1'", text, StringComparison.Ordinal);
        Assert.Contains("redis-mget needs --store redis", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_push_soak_and_grpc_options_are_named()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await LoadGenProgram.RunAsync(["--scenario", "soak", "--duration", "10", "--interval", "60", "--push-rate", "0", "--grpc-channels", "x", "--grpc-answer", "json"], output, error);

        Assert.Equal(2, code);
        var text = error.ToString();
        Assert.Contains("--push-rate: '0' is not a rate above 0", text, StringComparison.Ordinal);
        Assert.Contains("--grpc-channels: 'x' is not a whole number above 0", text, StringComparison.Ordinal);
        Assert.Contains("--grpc-answer: must be bytes or parse, not 'json'", text, StringComparison.Ordinal);
        Assert.Contains("--interval: the soak's interval (60 s) is longer than its --duration (10 s)", text, StringComparison.Ordinal);
    }
}
