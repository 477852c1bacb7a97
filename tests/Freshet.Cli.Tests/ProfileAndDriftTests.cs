using System.Globalization;
using DuckDB.NET.Data;
using Freshet.DuckDb;
using Freshet.Model;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Cli.Tests;

/// <summary>
/// <c>freshet profile</c> and <c>freshet drift</c> (docs/quality.md): statistics checked against values computed
/// here from the file's rows, PSI against the formula written out by hand, and the exit codes.
/// </summary>
public sealed class ProfileAndDriftTests : IDisposable
{
    private const string DriverStats = "/work/shared/data/driver_stats.parquet";
    private readonly TempRepo _repo = new();

    public void Dispose() => _repo.Dispose();

    private string At(string name) => Path.Combine(_repo.Root, name);

    [Fact]
    public async Task Profile_of_driver_stats_equals_statistics_computed_from_its_rows()
    {
        var file = File.Exists(DriverStats) ? DriverStats : Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "examples", "quickstart", "data", "driver_stats.parquet");
        var r = await TempRepo.Run("profile", file, "--keys", "driver_id", "--out", At("p.json"), "--repo", _repo.Root);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("conv_rate", r.Out, StringComparison.Ordinal);
        var profile = DatasetProfile.Parse(File.ReadAllText(At("p.json")), "p.json");

        var columns = ReadColumns(file, "conv_rate", "acc_rate", "avg_daily_trips");
        Assert.Equal(columns["conv_rate"].Count, profile.Rows);
        foreach (var (name, values) in columns)
        {
            var f = profile.Feature(name) ?? throw new Xunit.Sdk.XunitException($"no profile of {name}");
            var present = values.Where(v => v is not null).Select(v => v!.Value).Order().ToArray();
            Assert.Equal(FeatureKind.Numeric, f.Kind);
            Assert.Equal(present.Length, f.Count);
            Assert.Equal(values.Count - present.Length, f.Nulls);
            Assert.Equal(present[0], f.Min);
            Assert.Equal(present[^1], f.Max);
            var mean = present.Average();
            Close(mean, f.Mean!.Value);
            Close(Math.Sqrt(present.Sum(v => (v - mean) * (v - mean)) / (present.Length - 1)), f.Stddev!.Value);
            foreach (var (q, p) in DatasetProfile.ReportedQuantiles)
            {
                Close(Quantile(present, p), f.Quantiles[q]);
            }

            var edges = Enumerable.Range(1, 9).Select(i => Quantile(present, i / 10.0)).Distinct().Order().ToArray();
            Assert.Equal(edges.Length, f.Edges.Count);
            for (var i = 0; i < edges.Length; i++)
            {
                Close(edges[i], f.Edges[i]);
            }

            // Bin i holds (e[i-1], e[i]]; counted here over the profile's own edges.
            for (var b = 0; b <= f.Edges.Count; b++)
            {
                var lower = b == 0 ? double.NegativeInfinity : f.Edges[b - 1];
                var upper = b == f.Edges.Count ? double.PositiveInfinity : f.Edges[b];
                Assert.Equal((double)present.Count(v => v > lower && v <= upper) / present.Length, f.Proportions[b], 12);
            }
        }

        Assert.Contains(profile.Skipped, s => s.Name == "event_timestamp" && s.Reason == "time column");
        Assert.Contains(profile.Skipped, s => s.Name == "driver_id" && s.Reason == "join key");
    }

    [Fact]
    public async Task Psi_equals_the_formula_for_a_small_hand_made_case()
    {
        // Baseline: x = 1..10 (two bins split at the median 5.5), colour a x5, b x5 (top 2, other 0).
        File.WriteAllText(At("base.csv"), "x,colour\n" + string.Join("\n", Enumerable.Range(1, 10).Select(i => $"{i},{(i <= 5 ? "a" : "b")}")) + "\n");
        // Actual: three values at or below 5.5 and five above; colour a x6, c x2 (b empty, c is other).
        File.WriteAllText(At("actual.csv"), "x,colour\n1,a\n2,a\n3,a\n7,a\n8,a\n9,a\n10,c\n11,c\n");
        var p = await TempRepo.Run("profile", At("base.csv"), "--bins", "2", "--top", "2", "--out", At("base.json"), "--repo", _repo.Root);
        Assert.True(p.ExitCode == 0, p.ToString());

        var r = await TempRepo.Run("drift", "--baseline", At("base.json"), "--logged", At("actual.csv"), "--min-samples", "1", "--threshold", "100", "--json", "--repo", _repo.Root);
        Assert.True(r.ExitCode == 0, r.ToString());
        var features = r.Json()["features"]!.AsArray();
        static double Term(double e, double a) => (a - e) * Math.Log(a / e);
        const double Eps = 1e-4;
        var x = features.Single(f => f!["feature"]!.GetValue<string>() == "x")!;
        Assert.Equal(Term(0.5, 3.0 / 8) + Term(0.5, 5.0 / 8), x["psi"]!.GetValue<double>(), 12);
        Assert.Equal(8, x["samples"]!.GetValue<long>());
        var colour = features.Single(f => f!["feature"]!.GetValue<string>() == "colour")!;
        Assert.Equal(Term(0.5, 0.75) + Term(0.5, Eps) + Term(Eps, 0.25), colour["psi"]!.GetValue<double>(), 12);
    }

    [Fact]
    public async Task Drift_over_a_feature_log_flags_the_shifted_feature_and_not_the_others()
    {
        const int N = 2000;
        File.WriteAllText(At("train.csv"), "steady,shifted,city\n" + string.Join("\n", Enumerable.Range(0, N).Select(i => $"{Uniform(i, N)},{Uniform(i, N)},{(i % 4 == 0 ? "paris" : "rome")}")) + "\n");
        Assert.Equal(0, (await TempRepo.Run("profile", At("train.csv"), "--out", At("train.json"), "--repo", _repo.Root)).ExitCode);

        // Served: the same distributions, except that 'shifted' moved up by half its range. NOT_FOUND rows carry
        // no value and must not count.
        var log = At("feature_log");
        await using (var writer = new ParquetFeatureLog(log, new FeatureLoggingConfig { SampleRate = 1, FlushInterval = TimeSpan.FromHours(1), MaxFileRows = 1500 }))
        {
            for (var start = 0; start < N; start += 100)
            {
                var rows = Enumerable.Range(start, 100).ToArray();
                writer.Record(new OnlineRequest(), Response(
                    ("driver_id", rows.Select(i => FeatureValue.FromInt64(i)).ToArray(), FieldStatus.Present),
                    ("steady", rows.Select(i => FeatureValue.FromFloat64(Uniform(i + 0.5, N))).ToArray(), FieldStatus.Present),
                    ("shifted", rows.Select(i => FeatureValue.FromFloat64(Uniform(i, N) + 0.5)).ToArray(), FieldStatus.Present),
                    ("city", rows.Select(i => FeatureValue.FromString(i % 4 == 1 ? "paris" : "rome")).ToArray(), FieldStatus.Present),
                    ("missing", rows.Select(_ => FeatureValue.Null).ToArray(), FieldStatus.NotFound)), 1);
            }
        }

        Assert.NotEmpty(Directory.GetFiles(log, "*.parquet", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(log, "*.tmp", SearchOption.AllDirectories));
        var r = await TempRepo.Run("drift", "--baseline", At("train.json"), "--logged", log, "--json", "--repo", _repo.Root);
        Assert.True(r.ExitCode == 1, r.ToString());
        var features = r.Json()["features"]!.AsArray().ToDictionary(f => f!["feature"]!.GetValue<string>(), f => f!);
        Assert.True(features["shifted"]["flagged"]!.GetValue<bool>(), r.Out);
        Assert.False(features["steady"]["flagged"]!.GetValue<bool>(), r.Out);
        Assert.False(features["city"]["flagged"]!.GetValue<bool>(), r.Out);
        Assert.Equal(N, features["steady"]["samples"]!.GetValue<long>());
        Assert.True(features["steady"]["psi"]!.GetValue<double>() < 0.01, r.Out);

        // The table names the flagged feature; a later --since leaves too few values to score, and nothing is flagged.
        var table = await TempRepo.Run("drift", "--baseline", At("train.json"), "--logged", log, "--repo", _repo.Root);
        Assert.Contains(table.Out.Split('\n'), l => l.StartsWith("shifted", StringComparison.Ordinal) && l.Contains("FLAGGED", StringComparison.Ordinal));
        var later = await TempRepo.Run("drift", "--baseline", At("train.json"), "--logged", log, "--since", "2999-01-01", "--repo", _repo.Root);
        Assert.True(later.ExitCode == 0, later.ToString());
        Assert.Contains("no logged values", later.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_inputs_get_one_line_errors()
    {
        var missing = await TempRepo.Run("drift", "--baseline", At("nope.json"), "--logged", _repo.Root, "--repo", _repo.Root);
        Assert.Equal(2, missing.ExitCode);
        Assert.Equal($"error: --baseline: file '{At("nope.json")}' not found", missing.Err.Trim());

        File.WriteAllText(At("v2.json"), """{"format": "freshet-profile", "version": 2, "features": []}""");
        var version = await TempRepo.Run("drift", "--baseline", At("v2.json"), "--logged", _repo.Root, "--repo", _repo.Root);
        Assert.Equal(2, version.ExitCode);
        Assert.Single(version.Err.Trim().Split('\n'));
        Assert.Contains("format version 2", version.Err, StringComparison.Ordinal);

        File.WriteAllText(At("other.json"), """{"hello": 1}""");
        var other = await TempRepo.Run("drift", "--baseline", At("other.json"), "--logged", _repo.Root, "--repo", _repo.Root);
        Assert.Equal(2, other.ExitCode);
        Assert.Contains("is not a Freshet profile", other.Err, StringComparison.Ordinal);

        var noData = await TempRepo.Run("profile", At("absent.parquet"), "--repo", _repo.Root);
        Assert.Equal(1, noData.ExitCode);
        Assert.Single(noData.Err.Trim().Split('\n'));
        Assert.Contains("absent.parquet' not found", noData.Err, StringComparison.Ordinal);

        File.WriteAllText(At("a.csv"), "x\n1\n");
        var column = await TempRepo.Run("profile", At("a.csv"), "--features", "y", "--repo", _repo.Root);
        Assert.Equal(1, column.ExitCode);
        Assert.Contains("has no column 'y'", column.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_feature_logging_setting_is_reported_with_its_place()
    {
        await _repo.InitQuickstart();
        File.AppendAllText(Path.Combine(_repo.Dir, "freshet.yaml"), "feature_logging:\n  sample_rate: 2\n  flush_interval: soon\n");
        var r = await _repo.Freshet("plan");
        Assert.Equal(1, r.ExitCode);
        var lines = File.ReadAllLines(Path.Combine(_repo.Dir, "freshet.yaml"));
        var rateLine = Array.FindIndex(lines, l => l.Contains("sample_rate", StringComparison.Ordinal)) + 1;
        Assert.Contains($"freshet.yaml:{rateLine}:16: error: feature_logging: 'sample_rate' must be a number from 0 to 1", r.Err, StringComparison.Ordinal);
        Assert.Contains($"freshet.yaml:{rateLine + 1}:19: error: feature_logging: 'flush_interval'", r.Err, StringComparison.Ordinal);
    }

    private static double Uniform(double i, int n) => (i + 0.5) / n;

    private static OnlineResponse Response(params (string Name, FeatureValue[] Values, FieldStatus Status)[] columns)
    {
        var built = columns.Select(c =>
        {
            var column = new FeatureColumn(c.Values.Length);
            c.Values.CopyTo(column.Values, 0);
            Array.Fill(column.Statuses, c.Status);
            return column;
        }).ToArray();
        return new OnlineResponse([.. columns.Select(c => c.Name)], built, 1);
    }

    private static void Close(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-9 * Math.Max(1, Math.Abs(expected)), $"expected {expected.ToString("R", CultureInfo.InvariantCulture)}, got {actual.ToString("R", CultureInfo.InvariantCulture)}");

    /// <summary>Linear interpolation between the closest ranks (h = (n − 1)·p), over sorted values.</summary>
    private static double Quantile(double[] sorted, double p)
    {
        var h = (sorted.Length - 1) * p;
        var lo = (int)Math.Floor(h);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + ((h - lo) * (sorted[hi] - sorted[lo]));
    }

    /// <summary>The columns' values as doubles (null for nulls), read plainly.</summary>
    private static Dictionary<string, List<double?>> ReadColumns(string parquet, params string[] names)
    {
        var result = names.ToDictionary(n => n, _ => new List<double?>());
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {string.Join(", ", names)} FROM read_parquet('{parquet.Replace("'", "''", StringComparison.Ordinal)}')";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            for (var i = 0; i < names.Length; i++)
            {
                result[names[i]].Add(reader.IsDBNull(i) ? null : Convert.ToDouble(reader.GetValue(i), CultureInfo.InvariantCulture));
            }
        }

        return result;
    }
}
