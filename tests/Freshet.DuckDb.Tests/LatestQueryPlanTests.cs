using DuckDB.NET.Data;
using Freshet.Model;

namespace Freshet.DuckDb.Tests;

/// <summary>The shape of DuckDB's plan for the latest-row query: what keeps materialization's memory per entity.</summary>
public sealed class LatestQueryPlanTests
{
    private static string Explain(FileSource source, string path)
    {
        using var connection = DuckDbSql.Open();
        var query = LatestQuery.Plan(connection, Quickstart.View(), Quickstart.DriverKey, source, path);
        using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN " + query.Sql;
        command.Parameters.Add(new DuckDBParameter("path", path));
        command.Parameters.Add(new DuckDBParameter("start", 0L));
        command.Parameters.Add(new DuckDBParameter("end", long.MaxValue / 2));
        using var reader = command.ExecuteReader();
        var plan = new System.Text.StringBuilder();
        while (reader.Read())
        {
            plan.AppendLine(reader.GetString(1));
        }

        return plan.ToString();
    }

    [Theory]
    [InlineData("created")]
    [InlineData(null)]
    public void Latest_row_per_entity_is_a_grouped_aggregate_not_a_window_sort(string? created)
    {
        var plan = Explain(Quickstart.Source(Quickstart.ParquetPath, created: created), Quickstart.ParquetPath);

        Assert.Contains("GROUP_BY", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("WINDOW", plan, StringComparison.Ordinal);
    }
}
