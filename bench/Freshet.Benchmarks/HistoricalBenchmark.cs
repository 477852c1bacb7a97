using System.Diagnostics;
using System.Globalization;
using DuckDB.NET.Data;
using Freshet.Definitions;
using Freshet.DuckDb;
using Freshet.Registry;
using Freshet.Serving;

namespace Freshet.Benchmarks;

/// <summary>
/// Training data, Freshet against a hand-written DuckDB query, in one process and one run
/// (<c>-- historical [entityRows] [sourceRows] [--keys N] [--memory-limit X] [--threads N] [--reps N] [--agg-reps N] [--dir D]</c>).
/// The repo of <see cref="HistoricalBenchData"/> is generated once per directory. Then, alternating which goes
/// first, each repetition runs (a) <see cref="DuckDbHistoricalRetrieval"/> for <c>user_stats:score,amount</c> and
/// (b) one <c>COPY (... ASOF LEFT JOIN ...) TO</c> computing the same rows, each on a fresh DuckDB connection with
/// the same memory limit, threads and temp directory, both writing Parquet. The two outputs are compared (row
/// count and a row-by-row comparison in file order) before any time is printed; a difference fails the run.
/// Last, the aggregation path: <c>user_txn</c> (count 1d, sum 7d, count_distinct 7d) through the same
/// retrieval, reported as source rows per second.
/// </summary>
internal static class HistoricalBenchmark
{
    private static readonly string[] PlainFeatures = ["user_stats:score", "user_stats:amount"];

    public static async Task<int> RunAsync(string[] args)
    {
        var positional = new List<long>();
        var named = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Length; i++)
        {
            if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
            {
                named[args[i][2..]] = args[++i];
            }
            else
            {
                positional.Add(long.Parse(args[i], CultureInfo.InvariantCulture));
            }
        }

        var entityRows = positional.Count > 0 ? positional[0] : 1_000_000;
        var sourceRows = positional.Count > 1 ? positional[1] : 10_000_000;
        long Named(string name, long fallback) => named.TryGetValue(name, out var v) ? long.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var keys = Named("keys", 1_000_000);
        var seed = Named("seed", 20261129);
        var reps = (int)Named("reps", 3);
        var aggregationReps = (int)Named("agg-reps", 1);
        int? threads = named.ContainsKey("threads") ? (int)Named("threads", 0) : null;
        var memoryLimit = named.GetValueOrDefault("memory-limit");
        var phases = named.GetValueOrDefault("phases") == "true" ? new PhaseLog() : null;
        var directory = named.GetValueOrDefault("dir")
            ?? Path.Combine(Path.GetTempPath(), "freshet-bench-historical", $"{entityRows}x{sourceRows}x{keys}-s{seed}");

        Console.WriteLine($"load before: {LoadAverage()}");
        var generate = Stopwatch.StartNew();
        var generated = HistoricalBenchData.Ensure(directory, entityRows, sourceRows, keys, seed);
        Console.WriteLine($"repo {directory}: {(generated ? $"generated in {generate.Elapsed.TotalSeconds:F1} s" : "reused")} " +
                          $"({entityRows:N0} entity rows, {sourceRows:N0} source rows, {keys:N0} keys, seed {seed})");

        var registry = Registry(directory);
        var entities = Path.Combine(directory, "data", "labels.parquet");
        var events = Path.Combine(directory, "data", "events.parquet");
        var output = Path.Combine(directory, "out");
        var spill = Path.Combine(directory, "spill");
        Directory.CreateDirectory(output);
        Directory.CreateDirectory(spill);
        var options = new DuckDbHistoricalOptions { MemoryLimit = memoryLimit, Threads = threads, TempDirectory = spill };
        Console.WriteLine($"memory limit {memoryLimit ?? "DuckDB default"}, threads {threads?.ToString(CultureInfo.InvariantCulture) ?? "DuckDB default"}, {reps} repetitions each");

        var freshetTimes = new List<double>();
        var baselineTimes = new List<double>();
        var freshetPeaks = new List<long>();
        var baselinePeaks = new List<long>();
        for (var r = 0; r < reps; r++)
        {
            var freshetFirst = r % 2 == 0;
            for (var turn = 0; turn < 2; turn++)
            {
                var isFreshet = (turn == 0) == freshetFirst;
                var file = Path.Combine(output, isFreshet ? "freshet.parquet" : "baseline.parquet");
                File.Delete(file);
                GC.Collect();
                ResetPeak();
                var clock = Stopwatch.StartNew();
                if (isFreshet)
                {
                    await new DuckDbHistoricalRetrieval(options).GetHistoricalFeaturesAsync(registry, directory,
                        new HistoricalRequest { EntitiesPath = entities, OutputPath = file, Features = PlainFeatures }, phases);
                }
                else
                {
                    Baseline(entities, events, file, memoryLimit, threads, spill);
                }

                var seconds = clock.Elapsed.TotalSeconds;
                var peak = PeakRss();
                (isFreshet ? freshetTimes : baselineTimes).Add(seconds);
                (isFreshet ? freshetPeaks : baselinePeaks).Add(peak);
                Console.WriteLine($"rep {r + 1} {(isFreshet ? "freshet " : "baseline")}: {seconds,7:F2} s, peak RSS {Mb(peak)}");
            }

            // Checked every repetition: a fast wrong answer is not a result.
            var (rows, differences) = Compare(Path.Combine(output, "freshet.parquet"), Path.Combine(output, "baseline.parquet"));
            if (differences != 0)
            {
                Console.Error.WriteLine($"outputs differ: {differences} of {rows} rows (file order) — no times reported");
                return 1;
            }

            Console.WriteLine($"rep {r + 1} outputs equal: {rows:N0} rows, compared row by row in file order");
        }

        if (reps > 0)
        {
            PrintPlain(entityRows, sourceRows, freshetTimes, baselineTimes, freshetPeaks, baselinePeaks);
        }

        var aggregationTimes = new List<double>();
        for (var r = 0; r < aggregationReps; r++)
        {
            var file = Path.Combine(output, "aggregation.parquet");
            GC.Collect();
            ResetPeak();
            var clock = Stopwatch.StartNew();
            await new DuckDbHistoricalRetrieval(options).GetHistoricalFeaturesAsync(registry, directory,
                new HistoricalRequest { EntitiesPath = entities, OutputPath = file, Features = ["user_txn"] });
            var seconds = clock.Elapsed.TotalSeconds;
            aggregationTimes.Add(seconds);
            Console.WriteLine($"aggregation rep {r + 1}: {seconds:F2} s, {sourceRows / seconds:N0} source rows/s " +
                              $"({(sourceRows + entityRows) / seconds:N0} streamed rows/s), peak RSS {Mb(PeakRss())}");
        }

        if (aggregationTimes.Count > 0)
        {
            var median = Median(aggregationTimes);
            Console.WriteLine($"aggregation view user_txn: median {median:F2} s, {sourceRows / median:N0} source rows/s");
        }

        Console.WriteLine($"load after: {LoadAverage()}");
        Directory.Delete(output, recursive: true);
        return 0;
    }

    private static void PrintPlain(long entityRows, long sourceRows, List<double> freshetTimes, List<double> baselineTimes, List<long> freshetPeaks, List<long> baselinePeaks)
    {
        var freshet = Median(freshetTimes);
        var baseline = Median(baselineTimes);
        Console.WriteLine($"plain view {entityRows:N0} x {sourceRows:N0}: freshet median {freshet:F2} s, baseline median {baseline:F2} s, " +
                          $"ratio {freshet / baseline:F2} (goal <= 1.30); peak RSS freshet {Mb(freshetPeaks.Max())}, baseline {Mb(baselinePeaks.Max())}");
    }

    /// <summary>Prints where a Freshet run spends its time (<c>--phases true</c>): each stage's start and end, synchronously.</summary>
    private sealed class PhaseLog : IProgress<MaterializeProgress>
    {
        public void Report(MaterializeProgress value)
        {
            if (value.Rows == 0 || value.Rows == value.Total)
            {
                Console.WriteLine($"    {value.Elapsed.TotalSeconds,7:F2} s  {value.View} {(value.Rows == 0 ? "start" : "done")}");
            }
        }
    }

    private static ServingRegistry Registry(string directory)
    {
        var repo = RepoLoader.Load(directory).GetValueOrThrow();
        var state = RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "bench", DateTimeOffset.UtcNow);
        return new ServingRegistry(state, repo.Config);
    }

    /// <summary>
    /// The hand-written query: Feast's rule in one ASOF LEFT JOIN straight on the files. The inequality is on a
    /// struct (event time, created time with null as the smallest), so among rows with event time &lt;= T the one
    /// with the greatest created time matches; the ttl nulls a match older than T − 30 days; the entity file's row
    /// number restores its order.
    /// </summary>
    public static string BaselineSql(string entities, string events, string output) => $"""
        COPY (
          SELECT e.* EXCLUDE (file_row_number),
                 CASE WHEN s.event_timestamp >= e.event_timestamp - INTERVAL 30 DAY THEN s.score END AS score,
                 CASE WHEN s.event_timestamp >= e.event_timestamp - INTERVAL 30 DAY THEN s.amount END AS amount
          FROM read_parquet({Quote(entities)}, file_row_number = true) e
          ASOF LEFT JOIN (
            SELECT user_id, event_timestamp, score, amount,
                   {"{"}'t': event_timestamp, 'c': coalesce(created, TIMESTAMPTZ '-infinity'){"}"} AS o
            FROM read_parquet({Quote(events)})
            WHERE user_id IS NOT NULL AND event_timestamp IS NOT NULL) s
            ON e.user_id = s.user_id
           AND CASE WHEN e.event_timestamp IS NOT NULL THEN {"{"}'t': e.event_timestamp, 'c': TIMESTAMPTZ 'infinity'{"}"} END >= s.o
          ORDER BY e.file_row_number
        ) TO {Quote(output)} (FORMAT parquet)
        """;

    private static void Baseline(string entities, string events, string output, string? memoryLimit, int? threads, string spill)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        var settings = $"SET TimeZone = 'UTC'; SET temp_directory = {Quote(spill)};";
        settings += memoryLimit is null ? "" : $" SET memory_limit = {Quote(memoryLimit)};";
        settings += threads is null ? "" : $" SET threads = {threads.Value.ToString(CultureInfo.InvariantCulture)};";
        command.CommandText = settings + BaselineSql(entities, events, output);
        command.ExecuteNonQuery();
    }

    /// <summary>Rows of each file, and how many positions differ (a row missing on one side counts).</summary>
    private static (long Rows, long Differences) Compare(string a, string b)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SET TimeZone = 'UTC';
            SELECT (SELECT count(*) FROM read_parquet({Quote(a)})),
                   (SELECT count(*) FROM read_parquet({Quote(b)})),
                   count(*) FILTER (WHERE x.file_row_number IS NULL OR y.file_row_number IS NULL
                                       OR (x.user_id, x.event_timestamp, x.label, x.score, x.amount)
                                          IS DISTINCT FROM (y.user_id, y.event_timestamp, y.label, y.score, y.amount)),
                   count(*) FILTER (WHERE x.score IS NOT NULL)
            FROM read_parquet({Quote(a)}, file_row_number = true) x
            FULL JOIN read_parquet({Quote(b)}, file_row_number = true) y USING (file_row_number)
            """;
        using var reader = command.ExecuteReader();
        reader.Read();
        var rowsA = reader.GetInt64(0);
        var rowsB = reader.GetInt64(1);
        var differences = reader.GetInt64(2);
        Console.WriteLine($"  compare: {rowsA:N0} vs {rowsB:N0} rows, {reader.GetInt64(3):N0} with a match");
        return (rowsA, rowsA == rowsB ? differences : Math.Max(1, differences));
    }

    private static string Quote(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";

    /// <summary>Linux: writing 5 to clear_refs resets the process's peak RSS (VmHWM), so each run's peak is its own.</summary>
    private static void ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static long PeakRss()
    {
        if (!File.Exists("/proc/self/status"))
        {
            return 0;
        }

        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    private static string Mb(long bytes) => bytes == 0 ? "n/a" : $"{bytes / (1024 * 1024)} MB";
}
