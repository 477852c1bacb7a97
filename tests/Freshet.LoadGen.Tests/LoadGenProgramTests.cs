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
                ["--scenario", "a", "--store", "rocksdb", "--max-rate", "40", "--fractions", "0.5,1", "--warmup", "0.2", "--duration", "1", "--connections", "2", "--timeout", "60", "--out", dir],
                output,
                error);

            Assert.True(code == 0, error.ToString());
            Assert.Contains("| freshet-http | 40 |", output.ToString(), StringComparison.Ordinal);
            var json = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "loadgen-a-rocksdb.json")))!;
            Assert.Equal("a", (string?)json["scenario"]);
            Assert.Equal(40.0, (double?)json["max_rate"]);
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
                ["--scenario", scenario, "--store", "rocksdb", "--max-rate", "20", "--fractions", "1", "--warmup", "0", "--duration", "1", "--timeout", "60", "--out", dir],
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
}
