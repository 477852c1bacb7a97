using System.Diagnostics;
using DuckDB.NET.Data;
using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Serving;

namespace Freshet.DuckDb;

/// <summary>Limits of a training-data run.</summary>
public sealed record DuckDbHistoricalOptions
{
    /// <summary>
    /// DuckDB's memory limit (<c>2GB</c>, <c>512MB</c>); beyond it joins and sorts spill to
    /// <see cref="TempDirectory"/>. Null keeps DuckDB's default (80% of RAM).
    /// </summary>
    public string? MemoryLimit { get; init; }

    /// <summary>
    /// Where the run keeps its working database and DuckDB spills: each run makes its own subdirectory there and
    /// removes it at the end. Null means the system temp folder.
    /// </summary>
    public string? TempDirectory { get; init; }

    /// <summary>DuckDB worker threads; null keeps DuckDB's default (one per core).</summary>
    public int? Threads { get; init; }

    /// <summary>
    /// The cache through which <c>s3://</c> view sources are read (see <see cref="S3ObjectCache"/>); null means one in
    /// <c>{repo}/data/cache/s3</c> with settings from the environment, made only when a source is on S3.
    /// </summary>
    public S3ObjectCache? S3 { get; init; }

    /// <summary>
    /// How many key-hash buckets each aggregation view's events are sorted and swept in; null (the default) sizes
    /// them from the row count and DuckDB's memory limit. The result does not depend on it.
    /// </summary>
    public int? AggregationBuckets { get; init; }

    /// <summary>How many rows of a .NET pass (aggregations, on-demand features) between progress reports.</summary>
    public int ProgressEvery { get; init; } = 65_536;
}

/// <summary>
/// Training data with an in-process DuckDB (DESIGN §3): the entity file is loaded once, each plain view is joined
/// with an ASOF join (Feast's rule), each aggregation view is computed by <see cref="OfflineAggregation"/> over one
/// sorted stream of its events and entity rows, on-demand features by the online evaluator, and the result is
/// written as Parquet in the entity file's row order. Everything larger than memory stays in DuckDB, which spills
/// to a temporary directory under <see cref="DuckDbHistoricalOptions.MemoryLimit"/>; .NET holds one entity's
/// tiles and one row at a time.
/// </summary>
public sealed partial class DuckDbHistoricalRetrieval(DuckDbHistoricalOptions? options = null) : IHistoricalRetrieval
{
    private readonly DuckDbHistoricalOptions _options = options ?? new DuckDbHistoricalOptions();

    /// <inheritdoc />
    public Task<HistoricalResult> GetHistoricalFeaturesAsync(ServingRegistry registry, string repoDirectory, HistoricalRequest request,
        IProgress<MaterializeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrWhiteSpace(request.EntitiesPath))
        {
            throw new RequestException("entities", "missing_entities", "give the entity file (Parquet or CSV with the join keys and event_timestamp)");
        }

        if (string.IsNullOrWhiteSpace(request.OutputPath))
        {
            throw new RequestException("output", "missing_output", "give the output file (Parquet)");
        }

        if (string.IsNullOrWhiteSpace(request.TimestampColumn))
        {
            throw new RequestException("timestamp_column", "bad_option", "the entity file's time column has no name");
        }

        var plan = HistoricalPlan.Build(registry, request.Features, request.FeatureService, request.FullFeatureNames);
        Override(plan, request.SourceOverrides);
        return RunAsync(plan, repoDirectory, request, progress, cancellationToken);
    }

    /// <summary>
    /// Points the plan's reads of overridden views at their replacement files (same columns and time fields; paths
    /// relative to the current directory, as the entity file's). The plan is this request's own.
    /// </summary>
    private static void Override(HistoricalPlan plan, IReadOnlyDictionary<string, string>? overrides)
    {
        if (overrides is null)
        {
            return;
        }

        FileSource Replace(FileSource source, string path) => source with
        {
            Path = S3Glob.IsS3(path) ? path : System.IO.Path.GetFullPath(path),
            Format = path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? FileFormat.Csv : FileFormat.Parquet,
        };

        foreach (var (view, path) in overrides)
        {
            var plain = Array.FindIndex(plan.PlainViews, r => r.View.Name == view);
            var aggregation = Array.FindIndex(plan.Aggregations, r => r.View.View.Name == view);
            if (plain >= 0)
            {
                plan.PlainViews[plain] = plan.PlainViews[plain] with { Source = Replace(plan.PlainViews[plain].Source, path) };
            }
            else if (aggregation >= 0)
            {
                plan.Aggregations[aggregation] = plan.Aggregations[aggregation] with { Source = Replace(plan.Aggregations[aggregation].Source, path) };
            }
            else
            {
                throw new RequestException("source_overrides", "unknown_view", $"view '{view}' has a replacement source but is not among the requested features");
            }
        }
    }

    private async Task<HistoricalResult> RunAsync(HistoricalPlan plan, string repoDirectory, HistoricalRequest request, IProgress<MaterializeProgress>? progress, CancellationToken ct)
    {
        // Every view source is resolved through DuckDbSql.ResolveAsync (s3:// objects are mirrored locally) and
        // kept until the run ends; errors are described with the s3:// path, not the mirror's.
        var paths = new List<SourcePath>();
        S3ObjectCache? defaultS3 = null;
        try
        {
            async ValueTask<SourcePath> Resolve(FileSource source, string view)
            {

                var s3 = S3Glob.IsS3(source.Path)
                    ? _options.S3 ?? (defaultS3 ??= new S3ObjectCache(S3Settings.From(null), Path.Combine(repoDirectory, "data", "cache", "s3")))
                    : null;
                var path = await DuckDbSql.ResolveAsync(source, repoDirectory, view, s3, ct);
                paths.Add(path);
                return path;
            }

            // The entity file may be on S3 as well (relative local paths are against the current directory).
            var entityFile = new FileSource("entities", request.EntitiesPath) { Format = EntityFormat(request) };
            var entityS3 = S3Glob.IsS3(request.EntitiesPath)
                ? _options.S3 ?? (defaultS3 ??= new S3ObjectCache(S3Settings.From(null), Path.Combine(repoDirectory, "data", "cache", "s3")))
                : null;
            var entityPath = await DuckDbSql.ResolveAsync(entityFile, Environment.CurrentDirectory, "entities", entityS3, ct);
            paths.Add(entityPath);

            var plain = new SourcePath[plan.PlainViews.Length];
            for (var i = 0; i < plain.Length; i++)
            {
                plain[i] = await Resolve(plan.PlainViews[i].Source, plan.PlainViews[i].View.Name);
            }

            var aggregations = new SourcePath[plan.Aggregations.Length];
            for (var i = 0; i < aggregations.Length; i++)
            {
                aggregations[i] = await Resolve(plan.Aggregations[i].Source, plan.Aggregations[i].View.View.Name);
            }

            try
            {
                return await Task.Run(() => Run(plan, request, entityPath.Path, plain, aggregations, progress, ct), ct);
            }
            catch (RequestException e)
            {
                var described = e;
                foreach (var path in paths)
                {
                    described = path.Describe(described);
                }

                if (ReferenceEquals(described, e))
                {
                    throw;
                }

                throw described;
            }
        }
        finally
        {
            foreach (var path in paths)
            {
                path.Dispose();
            }

            defaultS3?.Dispose();
        }
    }

    private HistoricalResult Run(HistoricalPlan plan, HistoricalRequest request, string entitiesPath, SourcePath[] plainPaths, SourcePath[] aggregationPaths,
        IProgress<MaterializeProgress>? progress, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        // A directory of its own, so two runs sharing --temp-directory never open each other's database.
        var temp = Path.Combine(_options.TempDirectory ?? Path.Combine(Path.GetTempPath(), "freshet-historical"), Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(temp);
        // The pass running, to say where memory ran out when the failing call did not know.
        var stage = "entities";
        try
        {
            using var connection = Open(Database(temp));
            Configure(connection, temp);
            var entities = LoadEntities(connection, plan, request, entitiesPath, ct);

            // Only the entity table needed insertion order (its row ids are the file's order); the output is sorted
            // by row id explicitly, and keeping order elsewhere costs memory.
            Execute(connection, "SET preserve_insertion_order = false", null, e => new RequestException("entities", "offline_read_failed", e.Message), ct);
            progress?.Report(new MaterializeProgress("entities", entities.Rows, entities.Rows, clock.Elapsed));

            for (var i = 0; i < plan.PlainViews.Length; i++)
            {
                var read = plan.PlainViews[i];
                stage = read.View.Name;
                progress?.Report(new MaterializeProgress(read.View.Name, 0, entities.Rows, clock.Elapsed));
                var path = plainPaths[i].Path;
                var types = LatestQuery.Describe(connection, DuckDbSql.Scan(read.Source.Format), read.View.Name, path);
                Execute(connection, HistoricalQuery.PlainSql(i, read, types, path), path, e => LatestQuery.Failure(e, read.View.Name, path), ct);
                progress?.Report(new MaterializeProgress(read.View.Name, entities.Rows, entities.Rows, clock.Elapsed));
            }

            for (var i = 0; i < plan.Aggregations.Length; i++)
            {
                stage = plan.Aggregations[i].View.View.Name;
                Aggregate(connection, temp, plan, i, aggregationPaths[i].Path, progress, clock, ct);
            }

            if (plan.OnDemand.Length > 0)
            {
                stage = "on-demand";
                EvaluateOnDemand(connection, temp, plan, entities, progress, clock, ct);
            }

            stage = "write";
            progress?.Report(new MaterializeProgress("write", 0, entities.Rows, clock.Elapsed));
            var columns = Write(connection, plan, entities, request.OutputPath, ct);
            progress?.Report(new MaterializeProgress("write", entities.Rows, entities.Rows, clock.Elapsed));
            return new HistoricalResult(Path.GetFullPath(request.OutputPath), entities.Rows, columns, clock.Elapsed);
        }
        catch (DuckDbOutOfMemory e)
        {
            throw OutOfMemoryError(e.Stage ?? stage, e.Reason);
        }
        catch (DuckDBException e) when (OutOfMemory(e) && !ct.IsCancellationRequested)
        {
            // Any call not translated where it was made (closing a reader, a connection).
            throw OutOfMemoryError(stage, e);
        }
        finally
        {
            try
            {
                Directory.Delete(temp, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>
    /// The run's working tables live in a database file in the temp directory rather than in memory: DuckDB can
    /// then evict their blocks under the memory limit, which an in-memory database cannot do for table data.
    /// </summary>
    private static string Database(string temp) => Path.Combine(temp, "historical.duckdb");

    /// <summary>A connection to the run's database with the session settings of <see cref="DuckDbSql.Open"/> (UTC, no downloads).</summary>
    internal static DuckDBConnection Open(string database)
    {
        var connection = new DuckDBConnection($"Data Source={database}");
        try
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SET autoinstall_known_extensions = false; SET TimeZone = 'UTC';";
            command.ExecuteNonQuery();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private void Configure(DuckDBConnection connection, string temp)
    {
        // Insertion order is kept here (DuckDbSql.Open turns it off): the entity table's row ids are the file's order.
        var settings = $"SET preserve_insertion_order = true; SET temp_directory = {DuckDbSql.Literal(temp)};";
        if (_options.MemoryLimit is { } limit)
        {
            settings += $" SET memory_limit = {DuckDbSql.Literal(limit)};";
        }

        if (_options.Threads is { } threads)
        {
            settings += $" SET threads = {Math.Max(1, threads)};";
        }

        using var command = connection.CreateCommand();
        command.CommandText = settings;
        try
        {
            command.ExecuteNonQuery();
        }
        catch (DuckDBException e)
        {
            throw new RequestException("memory_limit", "bad_option", $"DuckDB refused the settings (memory limit '{_options.MemoryLimit}', temp directory '{temp}'): {e.Message}");
        }
    }

    /// <summary>The entity file as loaded: its path, its columns in order, its row count.</summary>
    private sealed record EntityTable(string Path, IReadOnlyList<string> Columns, Dictionary<string, string> Types, long Rows);

    private static FileFormat EntityFormat(HistoricalRequest request) =>
        request.EntitiesPath.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? FileFormat.Csv : FileFormat.Parquet;

    /// <summary>Loads the entity file at <paramref name="path"/> (resolved: local, or the mirror of its s3:// objects).</summary>
    private static EntityTable LoadEntities(DuckDBConnection connection, HistoricalPlan plan, HistoricalRequest request, string path, CancellationToken ct)
    {
        var scan = DuckDbSql.Scan(EntityFormat(request));
        RequestException Failure(DuckDBException e) => e.Message.Contains("No files found", StringComparison.Ordinal)
            ? new RequestException("entities", "source_not_found", $"entity file '{path}' not found")
            : new RequestException("entities", "offline_read_failed", $"reading entity file '{path}' failed: {e.Message}");

        var columns = new List<string>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        using (var describe = connection.CreateCommand())
        {
            describe.CommandText = $"DESCRIBE SELECT * EXCLUDE ({DuckDbSql.Identifier(DuckDbSql.FileColumn)}) FROM {scan}";
            describe.Parameters.Add(new DuckDBParameter("path", path));
            try
            {
                using var reader = describe.ExecuteReader();
                while (reader.Read())
                {
                    columns.Add(reader.GetString(0));
                    types[reader.GetString(0)] = reader.GetString(1);
                }
            }
            catch (DuckDBException e) when (OutOfMemory(e))
            {
                throw new DuckDbOutOfMemory("entities", e);
            }
            catch (DuckDBException e)
            {
                throw Failure(e);
            }
        }

        var present = string.Join(", ", columns);
        foreach (var key in plan.JoinKeys)
        {
            if (!types.ContainsKey(key.Name))
            {
                throw new RequestException($"entities.{key.Name}", "missing_join_key", $"entity file '{path}' has no column '{key.Name}' (a join key of the requested features); its columns are: {present}");
            }
        }

        foreach (var input in plan.RequestInputs)
        {
            if (!types.ContainsKey(input.Name))
            {
                throw new RequestException($"entities.{input.Name}", "missing_request_field", $"entity file '{path}' has no column '{input.Name}' (a request field read by an on-demand feature); its columns are: {present}");
            }
        }

        var timeColumn = request.TimestampColumn;
        if (!types.TryGetValue(timeColumn, out var timeType))
        {
            var hint = timeColumn == HistoricalRequest.DefaultTimestampColumn ? "; name another with --timestamp-column" : "";
            throw new RequestException($"entities.{timeColumn}", "missing_column", $"entity file '{path}' has no column '{timeColumn}' (the time of each row{hint}); its columns are: {present}");
        }

        var time = LatestQuery.Timestamp(timeType, timeColumn)
            ?? throw new RequestException($"entities.{timeColumn}", "wrong_type", $"entity file '{path}': column '{timeColumn}' is {timeType}, not a timestamp (expected a TIMESTAMP, DATE, text or Unix seconds)");

        foreach (var (name, _) in plan.Outputs)
        {
            if (types.ContainsKey(name))
            {
                throw new RequestException("features", "duplicate_column", $"the feature output '{name}' has the name of a column of entity file '{path}'; rename the column or use full feature names");
            }
        }

        Execute(connection, $"CREATE TABLE {HistoricalQuery.Entities} AS SELECT * EXCLUDE ({DuckDbSql.Identifier(DuckDbSql.FileColumn)}) FROM {scan}", path, Failure, ct);
        Execute(connection, HistoricalQuery.KeysSql(plan, time), null, e => e.Message.StartsWith("Conversion Error", StringComparison.Ordinal)
            ? new RequestException("entities", "wrong_type", $"entity file '{path}': a join key or '{timeColumn}' does not fit its declared type: {e.Message}")
            : Failure(e), ct);
        using var count = connection.CreateCommand();
        count.CommandText = $"SELECT count(*) FROM {HistoricalQuery.Entities}";
        var rows = Convert.ToInt64(count.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        return new EntityTable(path, columns, types, rows);
    }

    private static void Execute(DuckDBConnection connection, string sql, string? path, Func<DuckDBException, RequestException> failure, CancellationToken ct)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (path is not null)
        {
            command.Parameters.Add(new DuckDBParameter("path", path));
        }

        using var cancel = ct.Register(command.Cancel);
        try
        {
            command.ExecuteNonQuery();
        }
        catch (DuckDBException) when (ct.IsCancellationRequested)
        {
            throw new OperationCanceledException(ct);
        }
        catch (DuckDBException e) when (OutOfMemory(e))
        {
            throw new DuckDbOutOfMemory(null, e);
        }
        catch (DuckDBException e)
        {
            throw failure(e);
        }
    }

    private static List<string> Write(DuckDBConnection connection, HistoricalPlan plan, EntityTable entities, string outputPath, CancellationToken ct)
    {
        // The outputs are features only (HistoricalPlan.Outputs): the keys table would be a join for nothing.
        var (expressions, from) = HistoricalQuery.Layout(plan, plan.OnDemand.Length > 0, withKeys: false);
        var outputs = plan.Outputs.ToList();
        var select = string.Concat(outputs.Select(o => $", {expressions[o.Column]} AS {DuckDbSql.Identifier(o.Name)}"));
        var final = Path.GetFullPath(outputPath);
        var directory = Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(final)}.{Guid.NewGuid():N}.tmp");
        try
        {
            Execute(connection, $"COPY (SELECT e.*{select} FROM {from} ORDER BY e.rowid) TO {DuckDbSql.Literal(temporary)} (FORMAT parquet)", null,
                e => new RequestException("output", "offline_write_failed", $"writing '{final}' failed: {e.Message}"), ct);
            File.Move(temporary, final, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }

        return [.. entities.Columns, .. outputs.Select(o => o.Name)];
    }
}
