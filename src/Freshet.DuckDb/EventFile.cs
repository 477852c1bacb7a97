using DuckDB.NET.Data;
using Freshet.Model;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.DuckDb;

/// <summary>
/// Reads a whole file of events (Parquet, or CSV when the name ends in <c>.csv</c>; a glob reads several files as
/// one) into memory as columns, for tools that replay a stream from a file (<c>freshet consistency</c>). Values
/// keep DuckDB's types (timestamps without an offset are UTC); the caller coerces them to a view's schema.
/// </summary>
public static class EventFile
{
    /// <summary>
    /// Every row of <paramref name="path"/> (relative to the current directory), in file order. A missing file is
    /// <c>source_not_found</c>, a file DuckDB cannot read or a column with a type Freshet has no value for is
    /// <c>offline_read_failed</c>; both are <see cref="RequestException"/>s on field <c>events</c> naming the file.
    /// </summary>
    public static ColumnTable Read(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var format = Format(path);
        return ReadResolved(DuckDbSql.Resolve(new FileSource("events", path) { Format = format }, Environment.CurrentDirectory, "events"), format, cancellationToken);
    }

    /// <summary>
    /// As <see cref="Read"/>, and an <c>s3://</c> key or glob is read through <paramref name="s3"/> (cached and
    /// mirrored locally, as view sources are); errors name the <c>s3://</c> path.
    /// </summary>
    public static async Task<ColumnTable> ReadAsync(string path, S3ObjectCache? s3, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!S3Glob.IsS3(path))
        {
            return await Task.Run(() => Read(path, cancellationToken), cancellationToken);
        }

        var format = Format(path);
        using var resolved = await DuckDbSql.ResolveAsync(new FileSource("events", path) { Format = format }, Environment.CurrentDirectory, "events", s3, cancellationToken);
        try
        {
            return await Task.Run(() => ReadResolved(resolved.Path, format, cancellationToken), cancellationToken);
        }
        catch (RequestException e)
        {
            throw resolved.Describe(e);
        }
    }

    private static FileFormat Format(string path) => path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? FileFormat.Csv : FileFormat.Parquet;

    private static ColumnTable ReadResolved(string resolved, FileFormat format, CancellationToken cancellationToken)
    {
        using var connection = DuckDbSql.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT * EXCLUDE ({DuckDbSql.Identifier(DuckDbSql.FileColumn)}) FROM {DuckDbSql.Scan(format)}";
        command.Parameters.Add(new DuckDBParameter("path", resolved));
        using var cancel = cancellationToken.Register(command.Cancel);
        try
        {
            using var reader = command.ExecuteReader();
            var columns = new List<FeatureValue>[reader.FieldCount];
            for (var c = 0; c < columns.Length; c++)
            {
                columns[c] = [];
            }

            while (reader.Read())
            {
                for (var c = 0; c < columns.Length; c++)
                {
                    columns[c].Add(reader.IsDBNull(c) ? FeatureValue.Null : Cell(reader, c, resolved));
                }
            }

            var table = new Dictionary<string, FeatureValue[]>(StringComparer.Ordinal);
            for (var c = 0; c < columns.Length; c++)
            {
                table[reader.GetName(c)] = [.. columns[c]];
            }

            return new ColumnTable(table);
        }
        catch (DuckDBException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (DuckDBException e) when (e.Message.Contains("No files found", StringComparison.Ordinal))
        {
            throw new RequestException("events", "source_not_found", $"events file '{resolved}' not found");
        }
        catch (DuckDBException e)
        {
            throw new RequestException("events", "offline_read_failed", $"reading events file '{resolved}' failed: {e.Message}");
        }
    }

    private static FeatureValue Cell(DuckDBDataReader reader, int ordinal, string path)
    {
        try
        {
            return DuckDbValues.FromObject(reader.GetValue(ordinal));
        }
        catch (InvalidCastException e)
        {
            throw new RequestException("events", "offline_read_failed", $"events file '{path}': column '{reader.GetName(ordinal)}': {e.Message}");
        }
    }
}
