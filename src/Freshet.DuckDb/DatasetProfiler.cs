using System.Globalization;
using System.Text;
using DuckDB.NET.Data;
using Freshet.Model;
using Freshet.Serving;

namespace Freshet.DuckDb;

/// <summary>Which columns to profile and how.</summary>
public sealed record ProfileOptions
{
    /// <summary>Only these columns (null: every column with a profilable type).</summary>
    public IReadOnlyList<string>? Features { get; init; }

    /// <summary>Columns to leave out as keys (entity join keys), reported as skipped.</summary>
    public IReadOnlyCollection<string> Keys { get; init; } = [];

    /// <summary>Quantile bins per numeric feature (10: deciles).</summary>
    public int Bins { get; init; } = 10;

    /// <summary>Most frequent values kept per categorical feature.</summary>
    public int TopK { get; init; } = 10;

    /// <summary>DuckDB's memory limit (e.g. <c>2GB</c>); DuckDB's default when null.</summary>
    public string? MemoryLimit { get; init; }

    /// <summary>Reads <c>s3://</c> datasets; null refuses them.</summary>
    public S3ObjectCache? S3 { get; init; }

    /// <summary>The clock that stamps the profile.</summary>
    public TimeProvider? Clock { get; init; }
}

/// <summary>
/// Computes a <see cref="DatasetProfile"/> with DuckDB over a Parquet or CSV file or glob (local or <c>s3://</c>):
/// one pass for counts, moments and quantiles of every column, one for the bin counts of every numeric column,
/// and one per categorical column for its most frequent values (docs/quality.md "Profiles").
/// </summary>
public static class DatasetProfiler
{
    /// <summary>Profiles <paramref name="path"/> (relative to the current directory).</summary>
    public static async Task<DatasetProfile> ProfileAsync(string path, ProfileOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Bins is < 2 or > 1000)
        {
            throw new RequestException("bins", "bad_option", $"--bins must be from 2 to 1000, not {options.Bins}");
        }

        if (options.TopK is < 1 or > 1000)
        {
            throw new RequestException("top_k", "bad_option", $"--top must be from 1 to 1000, not {options.TopK}");
        }

        using var dataset = await DatasetScan.OpenAsync(path, "dataset", options.S3, cancellationToken);
        try
        {
            return await Task.Run(() => Profile(dataset, path, options, cancellationToken), cancellationToken);
        }
        catch (RequestException e)
        {
            throw dataset.Describe(e);
        }
    }

    private static DatasetProfile Profile(DatasetScan dataset, string path, ProfileOptions options, CancellationToken cancellationToken)
    {
        using var connection = DuckDbSql.Open();
        if (options.MemoryLimit is { } limit)
        {
            dataset.Execute(connection, $"SET memory_limit = {DuckDbSql.Literal(limit)}", cancellationToken);
        }

        var columns = dataset.Columns(connection, cancellationToken);
        var numeric = new List<(string Name, string Type)>();
        var categorical = new List<(string Name, string Type)>();
        var skipped = new List<SkippedColumn>();
        var keys = new HashSet<string>(options.Keys, StringComparer.Ordinal);
        if (options.Features is { } wanted)
        {
            var missing = wanted.Where(w => columns.All(c => c.Name != w)).ToList();
            if (missing.Count > 0)
            {
                throw new RequestException("features", "unknown_column", $"dataset '{path}' has no column {string.Join(", ", missing.Select(m => $"'{m}'"))}; its columns: {string.Join(", ", columns.Select(c => c.Name))}");
            }
        }

        foreach (var (name, type) in columns)
        {
            if (options.Features is { } only && !only.Contains(name))
            {
                continue;
            }

            switch (Classify(type))
            {
                case FeatureKind.Numeric when !keys.Contains(name):
                    numeric.Add((name, type));
                    break;
                case FeatureKind.Categorical when !keys.Contains(name):
                    categorical.Add((name, type));
                    break;
                case not null:
                    skipped.Add(new SkippedColumn(name, type, "join key"));
                    break;
                default:
                    skipped.Add(new SkippedColumn(name, type, IsTime(type) ? "time column" : $"no statistics for type {type}"));
                    break;
            }
        }

        // Pass 1: counts, moments and quantiles of every column in one scan.
        var inner = Enumerable.Range(1, options.Bins - 1).Select(i => (double)i / options.Bins).ToArray();
        var quantiles = DatasetProfile.ReportedQuantiles.Select(q => q.Q).Concat(inner).ToArray();
        var list = "[" + string.Join(", ", quantiles.Select(Number)) + "]";
        var select = new StringBuilder("SELECT count(*)");
        foreach (var (name, _) in numeric)
        {
            var x = Finite($"CAST({DuckDbSql.Identifier(name)} AS DOUBLE)");
            select.Append(CultureInfo.InvariantCulture, $", count({x}), min({x}), max({x}), avg({x}), stddev_samp({x}), quantile_cont({x}, {list})");
        }

        foreach (var (name, _) in categorical)
        {
            var x = $"CAST({DuckDbSql.Identifier(name)} AS VARCHAR)";
            select.Append(CultureInfo.InvariantCulture, $", count({x}), count(DISTINCT {x})");
        }

        long rows = 0;
        var profiles = new Dictionary<string, FeatureProfile>(StringComparer.Ordinal);
        var edges = new Dictionary<string, double[]>(StringComparer.Ordinal);
        dataset.Query(connection, select.Append(" FROM ").Append(dataset.Scan).ToString(), cancellationToken, reader =>
        {
            rows = reader.GetInt64(0);
            var at = 1;
            foreach (var (name, type) in numeric)
            {
                var count = reader.GetInt64(at);
                var q = reader.IsDBNull(at + 5) ? [] : reader.GetFieldValue<List<double>>(at + 5);
                var reported = new Dictionary<string, double>(StringComparer.Ordinal);
                if (q.Count == quantiles.Length)
                {
                    for (var i = 0; i < DatasetProfile.ReportedQuantiles.Count; i++)
                    {
                        reported[DatasetProfile.ReportedQuantiles[i].Name] = q[i];
                    }

                    edges[name] = [.. q.Skip(DatasetProfile.ReportedQuantiles.Count).Distinct().Order()];
                }

                profiles[name] = new FeatureProfile(name, FeatureKind.Numeric, type, count, rows - count)
                {
                    Min = Double(reader, at + 1),
                    Max = Double(reader, at + 2),
                    Mean = Double(reader, at + 3),
                    Stddev = Double(reader, at + 4),
                    Quantiles = reported,
                };
                at += 6;
            }

            foreach (var (name, type) in categorical)
            {
                var count = reader.GetInt64(at);
                profiles[name] = new FeatureProfile(name, FeatureKind.Categorical, type, count, rows - count) { Distinct = reader.GetInt64(at + 1) };
                at += 2;
            }
        });

        // Pass 2: the share of each numeric column's values in each of its quantile bins, in one scan.
        var binned = numeric.Where(n => edges.ContainsKey(n.Name)).ToList();
        if (binned.Count > 0)
        {
            var counts = new StringBuilder("SELECT 1");
            foreach (var (name, _) in binned)
            {
                foreach (var bin in BinCounts(Finite($"CAST({DuckDbSql.Identifier(name)} AS DOUBLE)"), edges[name]))
                {
                    counts.Append(", ").Append(bin);
                }
            }

            dataset.Query(connection, counts.Append(" FROM ").Append(dataset.Scan).ToString(), cancellationToken, reader =>
            {
                var at = 1;
                foreach (var (name, _) in binned)
                {
                    var e = edges[name];
                    var p = profiles[name];
                    var shares = new double[e.Length + 1];
                    for (var i = 0; i < shares.Length; i++)
                    {
                        shares[i] = p.Count == 0 ? 0 : (double)reader.GetInt64(at + i) / p.Count;
                    }

                    profiles[name] = p with { Edges = e, Proportions = shares };
                    at += shares.Length;
                }
            });
        }

        // Pass 3: the most frequent values of each categorical column.
        foreach (var (name, _) in categorical)
        {
            var p = profiles[name];
            var x = $"CAST({DuckDbSql.Identifier(name)} AS VARCHAR)";
            var top = new List<CategoryShare>();
            dataset.Query(connection, $"SELECT {x} AS v, count(*) AS n FROM {dataset.Scan} WHERE {x} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v LIMIT {options.TopK}", cancellationToken, reader =>
            {
                top.Add(new CategoryShare(reader.GetString(0), (double)reader.GetInt64(1) / p.Count));
            });
            profiles[name] = p with { Top = top, Other = p.Count == 0 ? 0 : Math.Max(0, 1 - top.Sum(t => t.Proportion)) };
        }

        var ordered = columns.Where(c => profiles.ContainsKey(c.Name)).Select(c => profiles[c.Name]).ToList();
        return new DatasetProfile(path, (options.Clock ?? TimeProvider.System).GetUtcNow(), rows, options.Bins, options.TopK, ordered, skipped);
    }

    /// <summary>
    /// One count per bin of <paramref name="edges"/> over <paramref name="x"/> (a DOUBLE expression):
    /// <c>x &lt;= e0</c>, <c>e0 &lt; x &lt;= e1</c>, ..., <c>x &gt; e_last</c>. Profiles and drift checks bin alike.
    /// </summary>
    internal static IEnumerable<string> BinCounts(string x, IReadOnlyList<double> edges)
    {
        for (var i = 0; i <= edges.Count; i++)
        {
            var lower = i == 0 ? null : $"{x} > {Number(edges[i - 1])}";
            var upper = i == edges.Count ? null : $"{x} <= {Number(edges[i])}";
            var condition = lower is null ? upper ?? $"{x} IS NOT NULL" : upper is null ? lower : $"{lower} AND {upper}";
            yield return $"count(*) FILTER (WHERE {condition})";
        }
    }

    /// <summary>
    /// The DOUBLE expression with NaN and ±infinity read as null: they have no place in moments, quantiles or
    /// bins (and no JSON form), so profiles and drift checks count them with the nulls.
    /// </summary>
    internal static string Finite(string x) => $"(CASE WHEN isfinite({x}) THEN {x} END)";

    /// <summary>A double as SQL text that reads back to the same double.</summary>
    internal static string Number(double value) => "CAST(" + DuckDbSql.Literal(value.ToString("R", CultureInfo.InvariantCulture)) + " AS DOUBLE)";

    internal static FeatureKind? Classify(string type)
    {
        var t = type.ToUpperInvariant();
        if (t is "TINYINT" or "SMALLINT" or "INTEGER" or "BIGINT" or "HUGEINT" or "UTINYINT" or "USMALLINT" or "UINTEGER" or "UBIGINT" or "UHUGEINT" or "FLOAT" or "DOUBLE"
            || t.StartsWith("DECIMAL", StringComparison.Ordinal))
        {
            return FeatureKind.Numeric;
        }

        return t is "VARCHAR" or "BOOLEAN" ? FeatureKind.Categorical : null;
    }

    private static bool IsTime(string type) => type.ToUpperInvariant() is var t && (t.StartsWith("TIMESTAMP", StringComparison.Ordinal) || t is "DATE" or "TIME" or "TIME WITH TIME ZONE" or "INTERVAL");

    private static double? Double(DuckDBDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetDouble(ordinal);
}

/// <summary>
/// A dataset DuckDB reads: a Parquet or CSV (by extension) file or glob, local or an <c>s3://</c> mirror, as the
/// table expression <see cref="Scan"/>; errors are <see cref="RequestException"/>s on <c>field</c> naming the path.
/// </summary>
internal sealed class DatasetScan : IDisposable
{
    private readonly SourcePath _path;
    private readonly string _field;
    private readonly string _shown;

    private DatasetScan(SourcePath path, string field, string shown, FileFormat format)
    {
        _path = path;
        _field = field;
        _shown = shown;
        Scan = format == FileFormat.Csv
            ? $"read_csv({DuckDbSql.Literal(path.Path)}, header = true, union_by_name = true)"
            : $"read_parquet({DuckDbSql.Literal(path.Path)}, union_by_name = true)";
    }

    /// <summary>The table expression.</summary>
    public string Scan { get; }

    public static async Task<DatasetScan> OpenAsync(string path, string field, S3ObjectCache? s3, CancellationToken cancellationToken)
    {
        var format = path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? FileFormat.Csv : FileFormat.Parquet;
        if (!S3Glob.IsS3(path))
        {
            if (DuckDbSql.RemoteScheme(path) is { } scheme)
            {
                throw new RequestException(field, "remote_source_unsupported", $"'{path}': {scheme}:// is not supported; use a local path or glob, or s3://bucket/key");
            }

            var full = Path.GetFullPath(path);
            if (!full.Contains('*', StringComparison.Ordinal) && !full.Contains('?', StringComparison.Ordinal) && !File.Exists(full))
            {
                throw new RequestException(field, "source_not_found", Directory.Exists(full) ? $"'{path}' is a directory; name a file or a glob such as '{Path.Combine(path, "*.parquet")}'" : $"file '{path}' not found");
            }

            return new DatasetScan(SourcePath.Local(full), field, path, format);
        }

        var resolved = await DuckDbSql.ResolveAsync(new FileSource(field, path) { Format = format }, Environment.CurrentDirectory, field, s3, cancellationToken);
        return new DatasetScan(resolved, field, path, format);
    }

    /// <summary>Wraps a log directory's files (the caller checked the directory exists).</summary>
    public static DatasetScan LogDirectory(string directory, string field) => new(SourcePath.Local(Path.Combine(Path.GetFullPath(directory), "**", "*.parquet")), field, directory, FileFormat.Parquet);

    public RequestException Describe(RequestException e) => _path.Describe(e);

    public List<(string Name, string Type)> Columns(DuckDBConnection connection, CancellationToken cancellationToken)
    {
        var columns = new List<(string, string)>();
        Query(connection, $"DESCRIBE SELECT * FROM {Scan}", cancellationToken, r => columns.Add((r.GetString(0), r.GetString(1))));
        return columns;
    }

    public void Execute(DuckDBConnection connection, string sql, CancellationToken cancellationToken) => Query(connection, sql, cancellationToken, _ => { });

    public void Query(DuckDBConnection connection, string sql, CancellationToken cancellationToken, Action<DuckDBDataReader> row, params DuckDBParameter[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var p in parameters)
        {
            command.Parameters.Add(p);
        }

        using var cancel = cancellationToken.Register(command.Cancel);
        try
        {
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                row(reader);
            }
        }
        catch (DuckDBException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (DuckDBException e) when (e.Message.Contains("No files found", StringComparison.Ordinal))
        {
            throw new RequestException(_field, "source_not_found", $"no file matches '{_shown}'");
        }
        catch (DuckDBException e) when (e.Message.Contains("memory", StringComparison.OrdinalIgnoreCase) && e.Message.Contains("Out of Memory", StringComparison.OrdinalIgnoreCase))
        {
            throw new RequestException("memory_limit", "out_of_memory", $"reading '{_shown}' ran out of memory: {FirstLine(e.Message)}; try a larger --memory-limit");
        }
        catch (DuckDBException e)
        {
            throw new RequestException(_field, "offline_read_failed", $"reading '{_shown}' failed: {FirstLine(_path.Describe(e.Message))}");
        }
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    public void Dispose() => _path.Dispose();
}
