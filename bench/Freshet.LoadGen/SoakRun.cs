using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Freshet.Benchmarks;
using Freshet.Server;
using ScottPlot;

namespace Freshet.LoadGen;

/// <summary>One interval of the soak: its reads (and pushes), and the process's memory at its end.</summary>
internal sealed record SoakInterval(
    int Index,
    double EndSeconds,
    RunResult Run,
    long HeapBytes,
    long LiveHeapBytes,
    long WorkingSetBytes,
    string LoadAverage)
{
    /// <summary>
    /// The generator's own share of <see cref="LiveHeapBytes"/> that grows with the soak: the latency and freshness
    /// histograms of this interval and every one before it (kept for the report), about 0.8 MB per interval.
    /// </summary>
    public long GeneratorHistogramBytes { get; init; }

    /// <summary>The live heap less <see cref="GeneratorHistogramBytes"/>: the server's and the rest of the process's.</summary>
    public long LiveHeapLessGeneratorBytes => LiveHeapBytes - GeneratorHistogramBytes;
}

/// <summary>What the soak measured.</summary>
internal sealed record SoakReport(
    string Store,
    int Connections,
    double MaxRate,
    double Rate,
    double PushRate,
    int PushConnections,
    double IntervalSeconds,
    long LiveHeapBeforeBytes,
    long WorkingSetBeforeBytes,
    IReadOnlyList<SoakInterval> Intervals,
    string LoadBefore,
    string LoadAfter)
{
    public double P99Drift => Intervals[^1].Run.Ms(99) / Intervals[0].Run.Ms(99);

    public double FreshnessP99Drift => Ms(Intervals[^1]) / Ms(Intervals[0]);

    public long LiveHeapGrowthBytes => Intervals[^1].LiveHeapBytes - Intervals[0].LiveHeapBytes;

    /// <summary>Growth of the live heap less the generator's kept histograms.</summary>
    public long LiveHeapLessGeneratorGrowthBytes => Intervals[^1].LiveHeapLessGeneratorBytes - Intervals[0].LiveHeapLessGeneratorBytes;

    public long WorkingSetGrowthBytes => Intervals[^1].WorkingSetBytes - Intervals[0].WorkingSetBytes;

    public long ReadErrors => Intervals.Sum(i => i.Run.ErrorCount);

    public long PushErrors => Intervals.Sum(i => i.Run.Freshness!.Scheduled - i.Run.Freshness.Acked);

    public long NotSeen => Intervals.Sum(i => i.Run.Freshness!.NotSeen);

    private static double Ms(SoakInterval i) => FreshnessResult.Ms(i.Run.Freshness!.Plain, 99);
}

/// <summary>
/// The soak (a bench command, not CI): scenario <c>d</c>'s store and server, Freshet HTTP reads at half the
/// closed-loop maximum (or half of <c>--max-rate</c>) and pushes at <c>--push-rate</c> for <c>--duration</c>
/// seconds, reported per <c>--interval</c>: read p50/p99/p99.9, freshness p99, errors, and the process's memory at
/// the interval's end (GC heap size, live heap after a full collection, working set). Each interval is one
/// open-loop run of reads with its pushes beside it; the next starts when the last answer of the previous one is
/// in (a gap of one response time). Generator and server are one process, so memory is both of theirs; what the
/// generator keeps from one interval to the next is its histograms (counted apart, about 0.8 MB per interval).
/// </summary>
internal static class SoakRun
{
    public const double Fraction = 0.5;

    public static async Task<SoakReport> RunAsync(LoadGenOptions options, TextWriter log, CancellationToken cancellationToken = default)
    {
        using var redis = options.Store == "redis" ? BenchRedis.Start() : null;
        await using var scenario = await Scenario.CreateAsync("d", redis?.ConnectionString, inMemory: options.Store == "memory");
        await using var server = await FreshetServer.StartAsync(scenario.Store, new FreshetServerOptions { Port = 0, GrpcPort = -1, LogLevel = Microsoft.Extensions.Logging.LogLevel.Critical }, cancellationToken);
        using var readClient = HttpLoadTarget.Client(server.HttpPort, options.Connections);
        using var pushClient = HttpLoadTarget.Client(server.HttpPort, options.PushConnections);
        var target = new HttpLoadTarget(Names.FreshetHttp, readClient, "/get-online-features", scenario.HttpBody, "application/json");
        using var probe = new FreshnessProbe(pushClient, scenario.Store);
        var first = await target.SendAsync(cancellationToken);
        if (first is not null)
        {
            throw new InvalidOperationException($"freshet-http failed its first request: {first}");
        }

        var load = LoadGenRun.LoadAverage();
        var settlePushes = probe.RunAsync(new PushShape(options.PushRate, TimeSpan.Zero, options.Settle, options.Timeout), cancellationToken);
        await Settling.SettleAsync([target], options.Settle, options.InFlight, options.Timeout, log);
        await settlePushes;
        var maxRate = options.MaxRate ?? (await Settling.MaximaAsync([target], options.InFlight, options.Warmup, options.MaxDuration, options.Timeout))[0].Throughput;
        var rate = Math.Max(1, Math.Round(Fraction * maxRate));
        var liveBefore = GC.GetTotalMemory(forceFullCollection: true);
        var wsBefore = Environment.WorkingSet;
        log.WriteLine($"soak ({options.Store}): max {maxRate:F0} req/s{(options.MaxRate is null ? $" (closed loop, {options.InFlight} in flight)" : "")}; reads at {rate:F0} req/s + {options.PushRate:F0} pushes/s for {options.Duration.TotalSeconds:F0} s, reported every {options.Interval.TotalSeconds:F0} s, after settling for {options.Settle.TotalSeconds:F0} s; live heap {Mb(liveBefore):F1} MB, working set {Mb(wsBefore):F1} MB; load average {load}");

        var intervals = new List<SoakInterval>();
        long histogramBytes = 0;
        var start = Stopwatch.GetTimestamp();
        var left = options.Duration;
        for (var k = 1; left > TimeSpan.Zero; k++)
        {
            var length = left < options.Interval ? left : options.Interval;
            left -= length;
            var shape = new RunShape(rate, k == 1 ? options.Warmup : TimeSpan.Zero, length, options.Timeout);
            var run = await LoadGenRun.RunWithPushesAsync(target, shape, probe, options.PushRate, cancellationToken);
            var f = run.Freshness!;
            histogramBytes += new[] { run.Latency, run.SendLag, f.Plain, f.Aggregate, f.PushLatency, f.SendLag }.Sum(h => (long)h.GetEstimatedFootprintInBytes());
            var heap = GC.GetGCMemoryInfo().HeapSizeBytes;
            var live = GC.GetTotalMemory(forceFullCollection: true);
            var interval = new SoakInterval(k, Stopwatch.GetElapsedTime(start).TotalSeconds, run, heap, live, Environment.WorkingSet, LoadGenRun.LoadAverage())
            {
                GeneratorHistogramBytes = histogramBytes,
            };
            intervals.Add(interval);
            log.WriteLine(Row(interval));
        }

        return new SoakReport(options.Store, options.Connections, maxRate, rate, options.PushRate, options.PushConnections, options.Interval.TotalSeconds, liveBefore, wsBefore, intervals, load, LoadGenRun.LoadAverage());
    }

    private static double Mb(long bytes) => bytes / (1024.0 * 1024.0);

    private static string Errors(IReadOnlyDictionary<string, long> errors) =>
        errors.Count == 0 ? "0" : string.Join(", ", errors.Select(e => $"{e.Key} {e.Value}"));

    public static string Row(SoakInterval i)
    {
        var f = i.Run.Freshness!;
        return string.Create(CultureInfo.InvariantCulture,
            $"  interval {i.Index,3} (to {i.EndSeconds,6:F0} s)  reads {i.Run.Ok}/{i.Run.Scheduled}  p50 {i.Run.Ms(50),8:F3}  p99 {i.Run.Ms(99),8:F3}  p99.9 {i.Run.Ms(99.9),8:F3} ms  pushes {f.Acked}/{f.Scheduled}  freshness p99 {FreshnessResult.Ms(f.Plain, 99),7:F3} ms  not seen {f.NotSeen}  heap {Mb(i.HeapBytes),7:F1}  live {Mb(i.LiveHeapBytes),7:F1}  ws {Mb(i.WorkingSetBytes),7:F1} MB  load {i.LoadAverage}");
    }

    public static string Table(SoakReport report)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| interval | ends at s | reads ok / due | read p50 ms | p99 | p99.9 | max | read errors | pushes acked / sent | freshness p50 ms | p99 | aggregate p99 ms | not seen | GC heap MB | live heap MB | working set MB | load average |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var i in report.Intervals)
        {
            var r = i.Run;
            var f = r.Freshness!;
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {i.Index} | {i.EndSeconds:F0} | {r.Ok} / {r.Scheduled} | {r.Ms(50):F3} | {r.Ms(99):F3} | {r.Ms(99.9):F3} | {r.MaxMs:F3} | {Errors(r.Errors)} | {f.Acked} / {f.Scheduled} | {FreshnessResult.Ms(f.Plain, 50):F3} | {FreshnessResult.Ms(f.Plain, 99):F3} | {FreshnessResult.Ms(f.Aggregate, 99):F3} | {f.NotSeen} | {Mb(i.HeapBytes):F1} | {Mb(i.LiveHeapBytes):F1} | {Mb(i.WorkingSetBytes):F1} | {i.LoadAverage} |");
        }

        return sb.ToString();
    }

    public static string Summary(SoakReport r) => string.Create(CultureInfo.InvariantCulture, $"""
        read p99 drift (last interval / first): {r.Intervals[^1].Run.Ms(99):F3} / {r.Intervals[0].Run.Ms(99):F3} ms = {r.P99Drift:F2}
        freshness p99 drift (last / first): {r.FreshnessP99Drift:F2}
        live heap growth (last interval - first): {Mb(r.LiveHeapGrowthBytes):+0.0;-0.0} MB ({Mb(r.Intervals[0].LiveHeapBytes):F1} -> {Mb(r.Intervals[^1].LiveHeapBytes):F1}), of which the generator's kept histograms {Mb(r.Intervals[^1].GeneratorHistogramBytes - r.Intervals[0].GeneratorHistogramBytes):+0.0;-0.0} MB; without them {Mb(r.LiveHeapLessGeneratorGrowthBytes):+0.0;-0.0} MB; working set growth {Mb(r.WorkingSetGrowthBytes):+0.0;-0.0} MB ({Mb(r.Intervals[0].WorkingSetBytes):F1} -> {Mb(r.Intervals[^1].WorkingSetBytes):F1})
        errors: reads {r.ReadErrors}, pushes {r.PushErrors}, pushed events not seen {r.NotSeen}

        """);

    public static JsonObject Json(SoakReport r)
    {
        var intervals = new JsonArray();
        foreach (var i in r.Intervals)
        {
            var errors = new JsonObject();
            foreach (var (kind, count) in i.Run.Errors)
            {
                errors[kind] = count;
            }

            intervals.Add(new JsonObject
            {
                ["interval"] = i.Index,
                ["ends_at_s"] = Math.Round(i.EndSeconds, 1),
                ["reads_scheduled"] = i.Run.Scheduled,
                ["reads_ok"] = i.Run.Ok,
                ["read_throughput"] = Math.Round(i.Run.Throughput, 1),
                ["read_latency_ms"] = LoadReport.PercentilesJson(i.Run.Latency),
                ["read_errors"] = errors,
                ["read_error_count"] = i.Run.ErrorCount,
                ["freshness"] = LoadReport.FreshnessJson(i.Run.Freshness!),
                ["gc_heap_bytes"] = i.HeapBytes,
                ["live_heap_bytes"] = i.LiveHeapBytes,
                ["generator_histogram_bytes"] = i.GeneratorHistogramBytes,
                ["live_heap_less_generator_bytes"] = i.LiveHeapLessGeneratorBytes,
                ["working_set_bytes"] = i.WorkingSetBytes,
                ["load_average"] = i.LoadAverage,
            });
        }

        return new JsonObject
        {
            ["scenario"] = "soak",
            ["store"] = r.Store,
            ["connections"] = r.Connections,
            ["max_rate"] = Math.Round(r.MaxRate, 1),
            ["read_rate"] = r.Rate,
            ["push_rate"] = r.PushRate,
            ["push_connections"] = r.PushConnections,
            ["interval_s"] = r.IntervalSeconds,
            ["live_heap_before_bytes"] = r.LiveHeapBeforeBytes,
            ["working_set_before_bytes"] = r.WorkingSetBeforeBytes,
            ["read_p99_drift"] = Math.Round(r.P99Drift, 3),
            ["freshness_p99_drift"] = Math.Round(r.FreshnessP99Drift, 3),
            ["live_heap_growth_bytes"] = r.LiveHeapGrowthBytes,
            ["live_heap_less_generator_growth_bytes"] = r.LiveHeapLessGeneratorGrowthBytes,
            ["working_set_growth_bytes"] = r.WorkingSetGrowthBytes,
            ["read_errors"] = r.ReadErrors,
            ["push_errors"] = r.PushErrors,
            ["not_seen"] = r.NotSeen,
            ["load_average_before"] = r.LoadBefore,
            ["load_average_after"] = r.LoadAfter,
            ["memory_note"] = "one process: the in-process server and the generator",
            ["intervals"] = intervals,
        };
    }

    public static async Task<string> WriteJsonAsync(SoakReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"loadgen-soak-{report.Store}.json");
        await File.WriteAllTextAsync(path, Json(report).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    /// <summary>Read p99 and freshness p99 per interval (left, log ms) and the live heap and working set (right, MB).</summary>
    public static string WriteChart(SoakReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"loadgen-soak-{report.Store}.png");
        var plot = new Plot();
        var xs = report.Intervals.Select(i => i.EndSeconds / 60).ToArray();
        static double Log(double ms) => Math.Log10(Math.Max(double.IsNaN(ms) ? 0.001 : ms, 0.001));
        var p99 = plot.Add.Scatter(xs, report.Intervals.Select(i => Log(i.Run.Ms(99))).ToArray());
        p99.LegendText = "read p99 (ms, left)";
        p99.LineWidth = 2;
        var fresh = plot.Add.Scatter(xs, report.Intervals.Select(i => Log(FreshnessResult.Ms(i.Run.Freshness!.Plain, 99))).ToArray());
        fresh.LegendText = "freshness p99 (ms, left)";
        fresh.LinePattern = LinePattern.Dashed;
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            IntegerTicksOnly = true,
            LabelFormatter = y => Math.Pow(10, y).ToString("0.###", CultureInfo.InvariantCulture),
        };
        var live = plot.Add.Scatter(xs, report.Intervals.Select(i => Mb(i.LiveHeapBytes)).ToArray());
        live.LegendText = "live heap (MB, right)";
        live.Axes.YAxis = plot.Axes.Right;
        var ws = plot.Add.Scatter(xs, report.Intervals.Select(i => Mb(i.WorkingSetBytes)).ToArray());
        ws.LegendText = "working set (MB, right)";
        ws.Axes.YAxis = plot.Axes.Right;
        plot.Title($"soak ({report.Store}): {report.Rate:F0} reads/s + {report.PushRate:F0} pushes/s, load avg {report.LoadBefore}");
        plot.XLabel("minutes");
        plot.YLabel("ms (log scale)");
        plot.Axes.Right.Label.Text = "MB";
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1000, 620);
        return path;
    }
}
