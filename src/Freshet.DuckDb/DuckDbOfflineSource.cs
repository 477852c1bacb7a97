using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using DuckDB.NET.Data;
using Freshet.Model;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.DuckDb;

/// <summary>
/// Reads plain feature views' file sources (Parquet or CSV, a path or a glob, relative to the repository)
/// with an in-process DuckDB: the latest row per entity key with its event time in [start, end), ties broken
/// by the greatest created time, streamed in batches. Timestamps without an offset are UTC. <c>s3://</c> paths
/// and globs are read through an <see cref="S3ObjectCache"/> (DuckDB's httpfs extension is not bundled); other
/// URLs are refused.
/// </summary>
/// <remarks>
/// Errors are <see cref="RequestException"/>s whose <see cref="RequestException.Field"/> is
/// <c>{view}.{column}</c> (or <c>{view}.source</c>) and whose message names the view, the column and the file:
/// <c>missing_column</c>, <c>wrong_type</c>, <c>source_not_found</c>, <c>remote_source_unsupported</c>,
/// <c>source_access_denied</c> and <c>source_unreachable</c> (S3), <c>offline_read_failed</c>. Rows whose join
/// key or event time is null are skipped.
/// </remarks>
public sealed class DuckDbOfflineSource : IOfflineSource
{
    // Batches start this small and double up to the batch size, so a large batch size costs nothing
    // when an interval holds few entities.
    private const int InitialBatchCapacity = 1024;

    private readonly S3ObjectCache? _s3;
    private readonly ConcurrentDictionary<string, S3ObjectCache> _defaultS3 = new(StringComparer.Ordinal);

    /// <summary>
    /// A source whose <c>s3://</c> paths are cached in <c>{repo}/data/cache/s3</c> and reached as the AWS
    /// environment says (<c>AWS_ENDPOINT_URL</c>, <c>AWS_REGION</c>, the credential chain).
    /// </summary>
    public DuckDbOfflineSource()
    {
    }

    /// <summary>A source whose <c>s3://</c> paths go through <paramref name="s3"/>.</summary>
    public DuckDbOfflineSource(S3ObjectCache s3)
    {
        ArgumentNullException.ThrowIfNull(s3);
        _s3 = s3;
    }

    /// <summary>
    /// The S3 object cache for sources of the repository in <paramref name="repoDirectory"/>: the one given to the
    /// constructor, else one in <c>{repo}/data/cache/s3</c> with settings from the environment. Other readers of
    /// file sources (see <see cref="DuckDbSql"/>) share it.
    /// </summary>
    public S3ObjectCache S3For(string repoDirectory) => _s3 ?? _defaultS3.GetOrAdd(Path.GetFullPath(repoDirectory),
        repo => new S3ObjectCache(S3Settings.From(null), Path.Combine(repo, "data", "cache", "s3")));

    /// <inheritdoc />
    public async IAsyncEnumerable<ColumnTable> ReadLatestAsync(FeatureView view, IReadOnlyList<JoinKey> joinKeys, FileSource source, string repoDirectory,
        DateTimeOffset start, DateTimeOffset end, int batchSize, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(joinKeys);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        using var path = await DuckDbSql.ResolveAsync(source, repoDirectory, view.Name, S3Glob.IsS3(source.Path) ? S3For(repoDirectory) : null, cancellationToken);
        await using var batches = ReadResolvedAsync(view, joinKeys, source, path.Path, start, end, batchSize, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await batches.MoveNextAsync())
                {
                    break;
                }
            }
            catch (RequestException e)
            {
                // A mirror of S3 objects is named by the s3:// path it stands for.
                throw path.Describe(e);
            }

            yield return batches.Current;
        }
    }

    private static async IAsyncEnumerable<ColumnTable> ReadResolvedAsync(FeatureView view, IReadOnlyList<JoinKey> joinKeys, FileSource source, string path,
        DateTimeOffset start, DateTimeOffset end, int batchSize, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var connection = DuckDbSql.Open();
        var query = await Task.Run(() => LatestQuery.Plan(connection, view, joinKeys, source, path), cancellationToken);

        using var command = connection.CreateCommand();
        command.CommandText = query.Sql;
        command.UseStreamingMode = true;
        command.Parameters.Add(new DuckDBParameter("path", path));
        command.Parameters.Add(new DuckDBParameter("start", Micros.From(start)));
        command.Parameters.Add(new DuckDBParameter("end", Micros.From(end)));
        using var cancel = cancellationToken.Register(command.Cancel);

        // The window over the whole interval runs before the first row arrives: off the caller's thread.
        using var reader = await Task.Run(() => query.Guard(() => command.ExecuteReader(), cancellationToken), cancellationToken);
        var columns = query.Columns;
        var readers = new Func<DuckDBDataReader, int, FeatureValue>?[columns.Count];
        for (var c = 0; c < columns.Count; c++)
        {
            readers[c] = DuckDbValues.ReaderFor(reader.GetFieldType(c));
        }

        var fileOrdinal = columns.Count;
        var batch = NewBatch(columns.Count, Math.Min(batchSize, InitialBatchCapacity));
        var rows = 0;
        while (query.Guard(reader.Read, cancellationToken))
        {
            if (rows == batch[0].Length)
            {
                Grow(batch, Math.Min(batchSize, rows * 2));
            }

            for (var c = 0; c < columns.Count; c++)
            {
                batch[c][rows] = ReadCell(reader, c, columns[c], readers[c], view, fileOrdinal);
            }

            if (++rows == batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return Table(columns, batch, rows);
                batch = NewBatch(columns.Count, Math.Min(batchSize, InitialBatchCapacity));
                rows = 0;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (rows > 0)
        {
            yield return Table(columns, batch, rows);
        }
    }

    /// <inheritdoc />
    public async ValueTask<long?> CountLatestAsync(FeatureView view, IReadOnlyList<JoinKey> joinKeys, FileSource source, string repoDirectory,
        DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(joinKeys);
        ArgumentNullException.ThrowIfNull(source);
        using var path = await DuckDbSql.ResolveAsync(source, repoDirectory, view.Name, S3Glob.IsS3(source.Path) ? S3For(repoDirectory) : null, cancellationToken);
        try
        {
            using var connection = DuckDbSql.Open();
            var query = await Task.Run(() => LatestQuery.Plan(connection, view, joinKeys, source, path.Path), cancellationToken);
            using var command = connection.CreateCommand();
            command.CommandText = query.CountSql;
            command.Parameters.Add(new DuckDBParameter("path", path.Path));
            command.Parameters.Add(new DuckDBParameter("start", Micros.From(start)));
            command.Parameters.Add(new DuckDBParameter("end", Micros.From(end)));
            using var cancel = cancellationToken.Register(command.Cancel);
            var count = await Task.Run(() => query.Guard(() => command.ExecuteScalar(), cancellationToken), cancellationToken);
            return Convert.ToInt64(count, System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (RequestException e)
        {
            throw path.Describe(e);
        }
    }

    private static FeatureValue ReadCell(DuckDBDataReader reader, int ordinal, OutputColumn column, Func<DuckDBDataReader, int, FeatureValue>? read, FeatureView view, int fileOrdinal)
    {
        if (reader.IsDBNull(ordinal))
        {
            return FeatureValue.Null;
        }

        if (column.Role != ColumnRole.Value)
        {
            // Event and created times arrive as epoch microseconds (see LatestQuery).
            return FeatureValue.FromTimestampMicros(reader.GetInt64(ordinal));
        }

        FeatureValue result;
        string? error;
        try
        {
            var ok = read is not null
                ? ValueCoercion.TryCoerce(read(reader, ordinal), column.Type, out result, out error)
                : DuckDbValues.TryConvert(reader.GetValue(ordinal), column.Type, out result, out error);
            if (ok)
            {
                return result;
            }
        }
        catch (InvalidCastException e)
        {
            error = e.Message;
        }

        throw new RequestException($"{view.Name}.{column.Name}", "wrong_type",
            $"view '{view.Name}': column '{column.Name}' in file '{reader.GetString(fileOrdinal)}' does not fit its declared type {column.Type}: {error}");
    }

    private static void Grow(FeatureValue[][] batch, int rows)
    {
        for (var c = 0; c < batch.Length; c++)
        {
            Array.Resize(ref batch[c], rows);
        }
    }

    private static FeatureValue[][] NewBatch(int columns, int rows)
    {
        var batch = new FeatureValue[columns][];
        for (var c = 0; c < columns; c++)
        {
            batch[c] = new FeatureValue[rows];
        }

        return batch;
    }

    private static ColumnTable Table(IReadOnlyList<OutputColumn> columns, FeatureValue[][] batch, int rows)
    {
        var table = new Dictionary<string, FeatureValue[]>(columns.Count, StringComparer.Ordinal);
        for (var c = 0; c < columns.Count; c++)
        {
            var values = batch[c];
            if (values.Length != rows)
            {
                Array.Resize(ref values, rows);
            }

            table[columns[c].Name] = values;
        }

        return new ColumnTable(table);
    }
}
