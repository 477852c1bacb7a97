using Freshet.Definitions;
using Freshet.Registry;
using Freshet.Serving;

namespace Freshet.DuckDb.Tests;

/// <summary>A feature repo written to a temporary directory, applied, and training data read from it.</summary>
public sealed class HistoricalRepo : IDisposable
{
    private static readonly DateTimeOffset AppliedAt = DateTimeOffset.Parse("2024-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
    private readonly TempDirectory _dir = new();

    /// <summary>Writes freshet.yaml and <paramref name="definitions"/> (repo.yaml); source paths are relative to <see cref="Path"/>.</summary>
    public HistoricalRepo(string definitions)
    {
        System.IO.File.WriteAllText(_dir.File("freshet.yaml"), "project: t\ndata_directory: data\nonline_store: memory\nregistry: file\n");
        System.IO.File.WriteAllText(_dir.File("repo.yaml"), definitions);
        var repo = RepoLoader.Load(_dir.Path).GetValueOrThrow();
        var state = RegistryPlanner.Apply(null, RegistryPlanner.Plan(null, repo).GetValueOrThrow(), "test", AppliedAt);
        Registry = new ServingRegistry(state, repo.Config);
    }

    public ServingRegistry Registry { get; }

    public string Path => _dir.Path;

    public string File(string relative) => _dir.File(relative);

    /// <summary>Runs the retrieval and returns the output rows as column name → value (DuckDB's CLR values, null for SQL NULL).</summary>
    public async Task<List<Dictionary<string, object?>>> RunAsync(string entities, IReadOnlyList<string>? features, string? service = null, bool fullNames = false,
        DuckDbHistoricalOptions? options = null)
    {
        var output = File($"out/{Guid.NewGuid():N}.parquet");
        var result = await new DuckDbHistoricalRetrieval(options).GetHistoricalFeaturesAsync(Registry, Path, new HistoricalRequest
        {
            EntitiesPath = entities,
            OutputPath = output,
            Features = features,
            FeatureService = service,
            FullFeatureNames = fullNames,
        });
        Assert.Equal(output, result.OutputPath);
        var rows = ReadParquet(output);
        Assert.Equal(result.Rows, rows.Count);
        if (rows.Count > 0)
        {
            Assert.Equal(result.Columns, rows[0].Keys);
        }

        return rows;
    }

    /// <summary>Every row of a Parquet file in file order, as column name → value.</summary>
    public static List<Dictionary<string, object?>> ReadParquet(string path)
    {
        using var connection = new DuckDB.NET.Data.DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SET TimeZone = 'UTC'; SELECT * FROM read_parquet({PlainDuckDb.Quote(path)})";
        using var reader = command.ExecuteReader();
        var rows = new List<Dictionary<string, object?>>();
        while (reader.Read())
        {
            var row = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < reader.FieldCount; i++)
            {
                row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>The DuckDB type of each column of a Parquet file.</summary>
    public static Dictionary<string, string> Types(string path) =>
        PlainDuckDb.Query($"DESCRIBE SELECT * FROM read_parquet({PlainDuckDb.Quote(path)})").ToDictionary(r => (string)r[0]!, r => (string)r[1]!);

    public void Dispose() => _dir.Dispose();
}
