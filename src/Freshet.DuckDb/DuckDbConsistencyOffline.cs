using System.Globalization;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.DuckDb;

/// <summary>
/// The offline side of <c>freshet consistency</c> computed by the training-data code itself: every entity × every
/// time is written as an entity file (Parquet), <see cref="DuckDbHistoricalRetrieval"/> joins it with the view read
/// from the events file in place of the view's batch source (same columns and time fields), and the result is read
/// back. So the check compares the online store with exactly what <c>freshet historical</c> would write: DuckDB's
/// reading and typing of the file, the ASOF join of plain views, the sorted stream of aggregation views.
/// </summary>
/// <param name="eventsPath">The events file the online side replays (Parquet, or CSV when it ends in <c>.csv</c>; a glob or <c>s3://</c> is fine).</param>
/// <param name="options">Limits and the S3 cache of the training-data run; its temporary directory also holds the entity and result files.</param>
public sealed class DuckDbConsistencyOffline(string eventsPath, DuckDbHistoricalOptions? options = null) : IConsistencyOffline
{
    // The entity file's own columns: the row number (entity-major, then time) and the time. Neither can be a join key.
    private const string RowColumn = "__freshet_consistency_row";
    private const string TimeColumn = "__freshet_consistency_at";

    private readonly DuckDbHistoricalOptions _options = options ?? new DuckDbHistoricalOptions();

    /// <inheritdoc />
    public async Task<FeatureValue[][][]> ComputeAsync(ConsistencyOfflineRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Entities.Count == 0)
        {
            return [];
        }

        var temp = Path.Combine(_options.TempDirectory ?? Path.Combine(Path.GetTempPath(), "freshet-consistency"), Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(temp);
        try
        {
            var entities = Path.Combine(temp, "entities.parquet");
            var output = Path.Combine(temp, "training.parquet");
            await Task.Run(() => WriteEntities(request, entities), cancellationToken);
            await new DuckDbHistoricalRetrieval(_options with { TempDirectory = temp }).GetHistoricalFeaturesAsync(request.Registry, request.RepoDirectory, new HistoricalRequest
            {
                EntitiesPath = entities,
                OutputPath = output,
                Features = [request.View],
                FullFeatureNames = true,
                TimestampColumn = TimeColumn,
                SourceOverrides = new Dictionary<string, string>(StringComparer.Ordinal) { [request.View] = eventsPath },
            }, null, cancellationToken);
            return await Task.Run(() => ReadBack(request, output, cancellationToken), cancellationToken);
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

    /// <summary>One row per (entity, time), entity-major: the row number, the join keys in their declared types, the time.</summary>
    private static void WriteEntities(ConsistencyOfflineRequest request, string path)
    {
        using var connection = DuckDbSql.Open();
        using (var create = connection.CreateCommand())
        {
            create.CommandText = $"CREATE TABLE staging ({DuckDbSql.Identifier(RowColumn)} BIGINT, "
                + string.Concat(request.Keys.Select(k => $"{DuckDbSql.Identifier(k.Name)} {HistoricalColumns.StagingType(k.Type)}, "))
                + $"{DuckDbSql.Identifier(TimeColumn)} BIGINT)";
            create.ExecuteNonQuery();
        }

        using (var appender = connection.CreateAppender("staging"))
        {
            long n = 0;
            foreach (var entity in request.Entities)
            {
                foreach (var time in request.Times)
                {
                    var row = appender.CreateRow();
                    row.AppendValue((long?)n++);
                    foreach (var value in entity)
                    {
                        HistoricalColumns.Append(row, value);
                    }

                    row.AppendValue((long?)time);
                    row.EndRow();
                }
            }
        }

        using var copy = connection.CreateCommand();
        var keys = string.Concat(request.Keys.Select(k => $"{HistoricalColumns.FromStaging(DuckDbSql.Identifier(k.Name), k.Type)} AS {DuckDbSql.Identifier(k.Name)}, "));
        copy.CommandText = $"COPY (SELECT {DuckDbSql.Identifier(RowColumn)}, {keys}CAST(make_timestamp({DuckDbSql.Identifier(TimeColumn)}) AS TIMESTAMPTZ) AS {DuckDbSql.Identifier(TimeColumn)} "
            + $"FROM staging ORDER BY {DuckDbSql.Identifier(RowColumn)}) TO {DuckDbSql.Literal(path)} (FORMAT parquet)";
        copy.ExecuteNonQuery();
    }

    /// <summary>The training data's feature columns, placed by row number and converted to their declared types.</summary>
    private static FeatureValue[][][] ReadBack(ConsistencyOfflineRequest request, string path, CancellationToken ct)
    {
        var plan = HistoricalPlan.Build(request.Registry, [request.View], null, fullFeatureNames: true);
        var types = plan.Outputs.ToDictionary(o => o.Name, o => plan.ColumnTypes[o.Column], StringComparer.Ordinal);
        var names = request.Features.Select(f => $"{request.View}__{f}").ToArray();
        var result = new FeatureValue[request.Entities.Count][][];
        for (var e = 0; e < result.Length; e++)
        {
            result[e] = new FeatureValue[request.Times.Count][];
        }

        using var connection = DuckDbSql.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {DuckDbSql.Identifier(RowColumn)}{string.Concat(names.Select(n => ", " + DuckDbSql.Identifier(n)))} FROM read_parquet({DuckDbSql.Literal(path)})";
        using var cancel = ct.Register(command.Cancel);
        using var reader = command.ExecuteReader();
        long rows = 0;
        while (reader.Read())
        {
            var n = reader.GetInt64(0);
            var values = new FeatureValue[names.Length];
            for (var f = 0; f < names.Length; f++)
            {
                var type = types[names[f]];
                if (!reader.IsDBNull(1 + f) && !DuckDbValues.TryConvert(reader.GetValue(1 + f), type, out values[f], out var error))
                {
                    throw new InvalidOperationException($"training data of '{request.View}': column '{names[f]}' row {n} does not read back as {type}: {error}");
                }
            }

            result[n / request.Times.Count][n % request.Times.Count] = values;
            rows++;
        }

        var expected = (long)request.Entities.Count * request.Times.Count;
        return rows == expected
            ? result
            : throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"training data of '{request.View}' has {rows} rows, not {expected}"));
    }
}
