using DuckDB.NET.Data;
using Freshet.Serving;

namespace Freshet.DuckDb;

/// <summary>How <see cref="DriftCheck"/> compares.</summary>
public sealed record DriftOptions
{
    /// <summary>PSI above this flags a feature (0.2: a common "significant shift" rule of thumb).</summary>
    public double Threshold { get; init; } = 0.2;

    /// <summary>Features with fewer logged values are reported as too few, not scored.</summary>
    public long MinSamples { get; init; } = 100;

    /// <summary>Only log rows served at or after this time (log directories only).</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>Reads <c>s3://</c> datasets; null refuses them.</summary>
    public S3ObjectCache? S3 { get; init; }
}

/// <summary>The drift of one feature of the baseline.</summary>
public sealed record FeatureDrift(string Feature, FeatureKind Kind, long Samples, double? Psi, bool Flagged, string? Note)
{
    /// <summary>The expected shares per bin (the baseline's).</summary>
    public IReadOnlyList<double> Expected { get; init; } = [];

    /// <summary>The observed shares per bin.</summary>
    public IReadOnlyList<double> Actual { get; init; } = [];
}

/// <summary>The result of a drift check.</summary>
public sealed record DriftReport(string Source, bool FromLog, double Threshold, long MinSamples, IReadOnlyList<FeatureDrift> Features)
{
    /// <summary>Features whose PSI is above the threshold.</summary>
    public int FlaggedCount => Features.Count(f => f.Flagged);
}

/// <summary>
/// Population stability index of served (or any other) values against a baseline profile (docs/quality.md
/// "Drift"): each feature's values are binned with the baseline's own bins (numeric: its quantile edges;
/// categorical: its top values and "other"), and <c>PSI = Σ (a_i − e_i) · ln(a_i / e_i)</c> over the bins, with
/// shares below <see cref="Epsilon"/> raised to it so that an empty bin gives a large but finite term.
/// </summary>
public static class DriftCheck
{
    /// <summary>The floor of a bin's share in the PSI sum.</summary>
    public const double Epsilon = 1e-4;

    /// <summary>PSI of <paramref name="actual"/> shares against <paramref name="expected"/> shares, bin by bin.</summary>
    public static double Psi(IReadOnlyList<double> expected, IReadOnlyList<double> actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        if (expected.Count != actual.Count)
        {
            throw new ArgumentException($"{expected.Count} expected bins but {actual.Count} actual ones", nameof(actual));
        }

        var psi = 0.0;
        for (var i = 0; i < expected.Count; i++)
        {
            var e = Math.Max(expected[i], Epsilon);
            var a = Math.Max(actual[i], Epsilon);
            psi += (a - e) * Math.Log(a / e);
        }

        return psi;
    }

    /// <summary>
    /// Compares <paramref name="logged"/> with <paramref name="baseline"/>: a directory is a served-vector log
    /// (<c>**/*.parquet</c> in the log layout; only PRESENT values count), anything else a dataset file or glob
    /// whose columns are the features.
    /// </summary>
    public static async Task<DriftReport> RunAsync(DatasetProfile baseline, string logged, DriftOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentException.ThrowIfNullOrWhiteSpace(logged);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Threshold <= 0 || !double.IsFinite(options.Threshold))
        {
            throw new RequestException("threshold", "bad_option", $"--threshold must be a number above 0, not {options.Threshold}");
        }

        var fromLog = Directory.Exists(logged);
        if (!fromLog && options.Since is not null)
        {
            throw new RequestException("since", "bad_option", $"--since filters a log directory by serving time, but '{logged}' is not a directory");
        }

        using var scan = fromLog ? DatasetScan.LogDirectory(logged, "logged") : await DatasetScan.OpenAsync(logged, "logged", options.S3, cancellationToken);
        try
        {
            return await Task.Run(() => Run(baseline, logged, fromLog, scan, options, cancellationToken), cancellationToken);
        }
        catch (RequestException e)
        {
            throw scan.Describe(e);
        }
    }

    private static DriftReport Run(DatasetProfile baseline, string logged, bool fromLog, DatasetScan scan, DriftOptions options, CancellationToken cancellationToken)
    {
        using var connection = DuckDbSql.Open();
        HashSet<string> columns;
        if (fromLog)
        {
            if (!Directory.EnumerateFiles(logged, "*.parquet", SearchOption.AllDirectories).Any())
            {
                // Nothing logged yet is a state, not an error: every feature has too few samples.
                return new DriftReport(logged, true, options.Threshold, options.MinSamples, [.. baseline.Features.Select(f => Unscored(f, 0, "no logged values"))]);
            }

            columns = [.. scan.Columns(connection, cancellationToken).Select(c => c.Name)];
            var missing = ParquetFeatureLog.Columns.Where(c => !columns.Contains(c)).ToList();
            if (missing.Count > 0)
            {
                throw new RequestException("logged", "not_a_feature_log", $"'{logged}' holds Parquet files without the feature log's column(s) {string.Join(", ", missing)}; give a feature log directory or a dataset file");
            }
        }
        else
        {
            columns = [.. scan.Columns(connection, cancellationToken).Select(c => c.Name)];
        }

        var results = new List<FeatureDrift>();
        foreach (var feature in baseline.Features)
        {
            if (!fromLog && !columns.Contains(feature.Name))
            {
                results.Add(Unscored(feature, 0, "not in the dataset"));
                continue;
            }

            var (samples, counts) = feature.Kind == FeatureKind.Numeric
                ? NumericCounts(connection, scan, feature, fromLog, options.Since, cancellationToken)
                : CategoricalCounts(connection, scan, feature, fromLog, options.Since, cancellationToken);
            if (feature.Count == 0)
            {
                results.Add(Unscored(feature, samples, "the baseline has no values"));
                continue;
            }

            if (samples < options.MinSamples)
            {
                results.Add(Unscored(feature, samples, samples == 0 ? "no logged values" : $"too few values ({samples} < {options.MinSamples})"));
                continue;
            }

            var actual = counts.Select(c => (double)c / samples).ToArray();
            var psi = Psi(feature.Expected, actual);
            results.Add(new FeatureDrift(feature.Name, feature.Kind, samples, psi, psi > options.Threshold, null) { Expected = feature.Expected, Actual = actual });
        }

        return new DriftReport(logged, fromLog, options.Threshold, options.MinSamples, results);
    }

    private static FeatureDrift Unscored(FeatureProfile feature, long samples, string note) => new(feature.Name, feature.Kind, samples, null, false, note);

    private static (long Samples, long[] Counts) NumericCounts(DuckDBConnection connection, DatasetScan scan, FeatureProfile feature, bool fromLog, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        var x = DatasetProfiler.Finite(fromLog ? "value_double" : $"CAST({DuckDbSql.Identifier(feature.Name)} AS DOUBLE)");
        var sql = $"SELECT count({x}), {string.Join(", ", DatasetProfiler.BinCounts(x, feature.Edges))} FROM {scan.Scan} WHERE {x} IS NOT NULL{Filter(fromLog, since)}";
        long samples = 0;
        var counts = new long[feature.Edges.Count + 1];
        scan.Query(connection, sql, cancellationToken, reader =>
        {
            samples = reader.GetInt64(0);
            for (var i = 0; i < counts.Length; i++)
            {
                counts[i] = reader.GetInt64(i + 1);
            }
        }, Parameters(feature, fromLog, since));
        return (samples, counts);
    }

    private static (long Samples, long[] Counts) CategoricalCounts(DuckDBConnection connection, DatasetScan scan, FeatureProfile feature, bool fromLog, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        var x = fromLog ? "value_string" : $"CAST({DuckDbSql.Identifier(feature.Name)} AS VARCHAR)";
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < feature.Top.Count; i++)
        {
            index[feature.Top[i].Value] = i;
        }

        long samples = 0;
        var counts = new long[feature.Top.Count + 1];
        scan.Query(connection, $"SELECT {x} AS v, count(*) FROM {scan.Scan} WHERE {x} IS NOT NULL{Filter(fromLog, since)} GROUP BY 1", cancellationToken, reader =>
        {
            var n = reader.GetInt64(1);
            samples += n;
            counts[index.TryGetValue(reader.GetString(0), out var i) ? i : feature.Top.Count] += n;
        }, Parameters(feature, fromLog, since));
        return (samples, counts);
    }

    private static string Filter(bool fromLog, DateTimeOffset? since) =>
        !fromLog ? "" : " AND feature = $feature AND status = 'PRESENT'" + (since is null ? "" : " AND served_at >= $since");

    private static DuckDBParameter[] Parameters(FeatureProfile feature, bool fromLog, DateTimeOffset? since) =>
        !fromLog ? [] : since is { } s ? [new("feature", feature.Name), new("since", s.UtcDateTime)] : [new("feature", feature.Name)];
}
