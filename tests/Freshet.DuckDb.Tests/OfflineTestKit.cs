using DuckDB.NET.Data;
using Freshet.Model;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.DuckDb.Tests;

/// <summary>A directory under the system temp folder, deleted after the test.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string? name = null)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "freshet-duckdb-tests", name ?? Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string relative)
    {
        var full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        return full;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// Plain DuckDB for the tests' own expectations and fixture files: nothing here goes through the code under test.
/// </summary>
public static class PlainDuckDb
{
    public static string Quote(string path) => "'" + path.Replace("'", "''", StringComparison.Ordinal) + "'";

    public static void Execute(string sql)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public static List<object?[]> Query(string sql)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>Writes the result of a query to a Parquet file.</summary>
    public static void WriteParquet(string path, string select) => Execute($"COPY ({select}) TO {Quote(path)} (FORMAT parquet)");
}

/// <summary>The quickstart's driver view and helpers to run the source.</summary>
public static class Quickstart
{
    public static string ParquetPath => Path.Combine(AppContext.BaseDirectory, "data", "driver_stats.parquet");

    public static readonly JoinKey[] DriverKey = [new("driver_id", FeatureType.Of(ScalarKind.Int64))];

    public static FeatureView View(params Field[] extra) => new("driver_hourly_stats", ["driver"], "driver_stats_source",
    [
        new Field("conv_rate", FeatureType.Of(ScalarKind.Float32)),
        new Field("acc_rate", FeatureType.Of(ScalarKind.Float32)),
        new Field("avg_daily_trips", FeatureType.Of(ScalarKind.Int32)),
        .. extra,
    ]);

    public static FileSource Source(string path, FileFormat format = FileFormat.Parquet, string? created = "created") =>
        new("driver_stats_source", path) { Format = format, TimestampField = "event_timestamp", CreatedTimestampField = created };

    public static async Task<List<ColumnTable>> ReadAsync(FeatureView view, IReadOnlyList<JoinKey> keys, FileSource source, string repoDirectory,
        DateTimeOffset start, DateTimeOffset end, int batchSize = 1000)
    {
        var batches = new List<ColumnTable>();
        await foreach (var batch in new DuckDbOfflineSource().ReadLatestAsync(view, keys, source, repoDirectory, start, end, batchSize))
        {
            batches.Add(batch);
        }

        return batches;
    }

    /// <summary>Rows of every batch as name → value maps.</summary>
    public static List<Dictionary<string, FeatureValue>> Rows(IEnumerable<ColumnTable> batches)
    {
        var rows = new List<Dictionary<string, FeatureValue>>();
        foreach (var batch in batches)
        {
            for (var r = 0; r < batch.RowCount; r++)
            {
                rows.Add(batch.Names.ToDictionary(n => n, n => batch.Column(n)![r], StringComparer.Ordinal));
            }
        }

        return rows;
    }

    public static DateTimeOffset At(string text) => DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
}
