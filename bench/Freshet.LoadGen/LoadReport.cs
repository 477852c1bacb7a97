using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ScottPlot;

namespace Freshet.LoadGen;

/// <summary>The outputs of a scenario: a table, a JSON file, a chart of latency percentiles against offered load.</summary>
internal static class LoadReport
{
    private static readonly string[] Percentiles = ["p50", "p90", "p99", "p99.9"];
    private static readonly double[] PercentileValues = [50, 90, 99, 99.9];

    public static string Row(RunResult r)
    {
        var errors = r.Errors.Count == 0 ? "0" : string.Join(' ', r.Errors.Select(e => $"{e.Key}={e.Value}"));
        return string.Create(CultureInfo.InvariantCulture,
            $"{r.Target,-13} offered {r.OfferedRate,8:F0}/s  got {r.Throughput,8:F0}/s  p50 {r.Ms(50),8:F3}  p90 {r.Ms(90),8:F3}  p99 {r.Ms(99),8:F3}  p99.9 {r.Ms(99.9),8:F3}  max {r.MaxMs,8:F3} ms  lag p99 {r.SendLag.GetValueAtPercentile(99) / 1000.0,6:F2} ms  errors {errors}");
    }

    public static string FreshnessRow(FreshnessResult f)
    {
        var errors = f.PushErrors.Count == 0 ? "0" : string.Join(' ', f.PushErrors.Select(e => $"{e.Key}={e.Value}"));
        return string.Create(CultureInfo.InvariantCulture,
            $"pushes {f.Acked}/{f.Scheduled} at {f.Rate:F0}/s  freshness p50 {FreshnessResult.Ms(f.Plain, 50),7:F3}  p99 {FreshnessResult.Ms(f.Plain, 99),7:F3}  p99.9 {FreshnessResult.Ms(f.Plain, 99.9),7:F3} ms  aggregate p50 {FreshnessResult.Ms(f.Aggregate, 50),7:F3}  p99 {FreshnessResult.Ms(f.Aggregate, 99),7:F3} ms  push p99 {FreshnessResult.Ms(f.PushLatency, 99),7:F3} ms  not seen {f.NotSeen}  push errors {errors}");
    }

    /// <summary>Scenario <c>d</c>: the freshness of the pushes made during each run, as a Markdown table.</summary>
    public static string FreshnessTable(ScenarioReport report)
    {
        var sb = new StringBuilder();
        if (!report.Runs.Any(r => r.Freshness is not null))
        {
            return "";
        }

        sb.AppendLine("| offered read/s | reads by | pushes/s | pushes acked / sent | freshness p50 ms | p90 | p99 | p99.9 | max | aggregate p50 ms | p99 | p99.9 | push answer p99 ms | not seen | push errors |");
        sb.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in report.Runs.Where(r => r.Freshness is not null).OrderBy(r => r.OfferedRate).ThenBy(r => r.Target, StringComparer.Ordinal))
        {
            var f = r.Freshness!;
            var errors = f.PushErrors.Count == 0 ? "0" : string.Join(", ", f.PushErrors.Select(e => $"{e.Key} {e.Value}"));
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.OfferedRate:F0} | {r.Target} | {f.Rate:F0} | {f.Acked} / {f.Scheduled} | {FreshnessResult.Ms(f.Plain, 50):F3} | {FreshnessResult.Ms(f.Plain, 90):F3} | {FreshnessResult.Ms(f.Plain, 99):F3} | {FreshnessResult.Ms(f.Plain, 99.9):F3} | {FreshnessResult.MaxMs(f.Plain):F3} | {FreshnessResult.Ms(f.Aggregate, 50):F3} | {FreshnessResult.Ms(f.Aggregate, 99):F3} | {FreshnessResult.Ms(f.Aggregate, 99.9):F3} | {FreshnessResult.Ms(f.PushLatency, 99):F3} | {f.NotSeen} | {errors} |");
        }

        return sb.ToString();
    }

    public static JsonObject FreshnessJson(FreshnessResult f)
    {
        var errors = new JsonObject();
        foreach (var (kind, count) in f.PushErrors)
        {
            errors[kind] = count;
        }

        return new JsonObject
        {
            ["push_rate"] = Math.Round(f.Rate, 1),
            ["pushes_sent"] = f.Scheduled,
            ["pushes_acked"] = f.Acked,
            ["push_errors"] = errors,
            ["not_seen"] = f.NotSeen,
            ["seen_plain"] = f.Plain.TotalCount,
            ["seen_aggregate"] = f.Aggregate.TotalCount,
            ["freshness_ms"] = PercentilesJson(f.Plain),
            ["aggregate_freshness_ms"] = PercentilesJson(f.Aggregate),
            ["push_latency_ms"] = PercentilesJson(f.PushLatency),
            ["push_send_lag_p99_ms"] = Round(f.SendLag.GetValueAtPercentile(99) / 1000.0),
        };
    }

    internal static JsonObject PercentilesJson(HdrHistogram.LongHistogram h)
    {
        var o = new JsonObject();
        for (var p = 0; p < Percentiles.Length; p++)
        {
            o[Percentiles[p]] = Round(FreshnessResult.Ms(h, PercentileValues[p]));
        }

        o["max"] = Round(FreshnessResult.MaxMs(h));
        return o;
    }

    public static string Table(ScenarioReport report)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"| target | offered req/s | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in report.Runs.OrderBy(r => r.OfferedRate).ThenBy(r => r.Target, StringComparer.Ordinal))
        {
            var errors = r.Errors.Count == 0 ? "0" : string.Join(", ", r.Errors.Select(e => $"{e.Key} {e.Value}"));
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Target} | {r.OfferedRate:F0} | {r.Throughput:F0} | {r.Ms(50):F3} | {r.Ms(90):F3} | {r.Ms(99):F3} | {r.Ms(99.9):F3} | {r.MaxMs:F3} | {errors} |");
        }

        return sb.ToString();
    }

    public static JsonObject Json(ScenarioReport report)
    {
        var runs = new JsonArray();
        foreach (var r in report.Runs)
        {
            var latency = new JsonObject();
            for (var p = 0; p < Percentiles.Length; p++)
            {
                latency[Percentiles[p]] = Round(r.Ms(PercentileValues[p]));
            }

            latency["max"] = Round(r.MaxMs);
            var errors = new JsonObject();
            foreach (var (kind, count) in r.Errors)
            {
                errors[kind] = count;
            }

            var run = new JsonObject
            {
                ["target"] = r.Target,
                ["offered_rate"] = Math.Round(r.OfferedRate, 1),
                ["scheduled"] = r.Scheduled,
                ["ok"] = r.Ok,
                ["throughput"] = Math.Round(r.Throughput, 1),
                ["latency_ms"] = latency,
                ["send_lag_p99_ms"] = Round(r.SendLag.GetValueAtPercentile(99) / 1000.0),
                ["errors"] = errors,
                ["error_count"] = r.ErrorCount,
            };
            if (r.Freshness is not null)
            {
                run["freshness"] = FreshnessJson(r.Freshness);
            }

            runs.Add(run);
        }

        var maxima = new JsonObject();
        foreach (var (target, rate) in report.ClosedLoopMax)
        {
            maxima[target] = Math.Round(rate, 1);
        }

        return new JsonObject
        {
            ["scenario"] = report.Scenario,
            ["store"] = report.Store,
            ["connections"] = report.Connections,
            ["settle_seconds"] = report.SettleSeconds,
            ["grpc_channels"] = new JsonArray([.. report.GrpcChannels.Select(n => (JsonNode)n)]),
            ["grpc_answer"] = report.GrpcParse ? "parse" : "bytes",
            ["push_rate"] = report.PushRate,
            ["push_connections"] = report.PushConnections,
            ["closed_loop_in_flight"] = report.InFlight,
            ["max_rate"] = Math.Round(report.MaxRate, 1),
            ["closed_loop_max"] = maxima,
            ["response_bytes"] = report.ResponseBytes,
            ["load_average_before"] = report.LoadBefore,
            ["load_average_after"] = report.LoadAfter,
            ["latency_unit"] = "ms from the request's scheduled time to its completion",
            ["freshness_unit"] = "ms from sending a push to the completion of the first read that returned its event",
            ["runs"] = runs,
        };
    }

    private static double? Round(double ms) => double.IsNaN(ms) ? null : Math.Round(ms, 3);

    // Latencies are at least 1 us (the histogram's unit), so the logarithm is defined.
    private static double Log(double ms) => Math.Log10(Math.Max(ms, 0.001));

    public static async Task<string> WriteJsonAsync(ScenarioReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"loadgen-{report.Scenario}-{report.Store}.json");
        await File.WriteAllTextAsync(path, Json(report).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    /// <summary>p50 (dashed) and p99 (solid) against offered load, one colour per target.</summary>
    public static string WriteChart(ScenarioReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"loadgen-{report.Scenario}-{report.Store}.png");
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var targets = report.Runs.Select(r => r.Target).Distinct().ToList();
        for (var t = 0; t < targets.Count; t++)
        {
            var runs = report.Runs.Where(r => r.Target == targets[t] && r.Latency.TotalCount > 0).OrderBy(r => r.OfferedRate).ToList();
            var xs = runs.Select(r => r.OfferedRate).ToArray();
            var p99 = plot.Add.Scatter(xs, runs.Select(r => Log(r.Ms(99))).ToArray());
            p99.Color = palette.GetColor(t);
            p99.LineWidth = 2;
            p99.LegendText = $"{targets[t]} p99";
            var p50 = plot.Add.Scatter(xs, runs.Select(r => Log(r.Ms(50))).ToArray());
            p50.Color = palette.GetColor(t);
            p50.LinePattern = LinePattern.Dashed;
            p50.LegendText = $"{targets[t]} p50";
            var fresh = runs.Where(r => r.Freshness is { Plain.TotalCount: > 0 }).ToList();
            if (fresh.Count > 0)
            {
                var f99 = plot.Add.Scatter(fresh.Select(r => r.OfferedRate).ToArray(), fresh.Select(r => Log(FreshnessResult.Ms(r.Freshness!.Plain, 99))).ToArray());
                f99.Color = palette.GetColor(t);
                f99.LinePattern = LinePattern.Dotted;
                f99.MarkerShape = MarkerShape.OpenSquare;
                f99.LegendText = $"freshness p99 (pushes during {targets[t]} runs)";
            }
        }

        // Log scale: sub-millisecond medians and multi-second stalls of a loaded machine on one chart.
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => Math.Pow(10, y).ToString("0.###", CultureInfo.InvariantCulture),
        };
        plot.Title($"scenario {report.Scenario} ({report.Store}): latency vs offered load, {report.Connections} connections, load avg {report.LoadBefore}");
        plot.XLabel("offered load (requests/s, open loop)");
        plot.YLabel("latency from scheduled time (ms, log scale)");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1000, 620);
        return path;
    }
}
