using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Freshet.DuckDb;
using Freshet.Serving;

namespace Freshet.Cli.Commands;

/// <summary><c>historical</c>: point-in-time-correct training data (Feast's <c>get_historical_features</c>) as Parquet.</summary>
internal static class HistoricalCommand
{
    public static Command Create(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var entities = new Option<string>("--entities") { Description = "The entity file (Parquet, or CSV when it ends in .csv; local or s3://): join keys, the time column (--timestamp-column) and any label columns", Required = true };
        var features = new Option<string?>("--features") { Description = "Comma-separated feature references (view:feature or view)" };
        var service = new Option<string?>("--service") { Description = "A feature service instead of --features" };
        var output = new Option<string>("--output", "-o") { Description = "The Parquet file to write (replaced if it exists)", Required = true };
        var fullNames = new Option<bool>("--full-feature-names") { Description = "Name output columns view__feature instead of feature" };
        var memory = new Option<string?>("--memory-limit") { Description = "DuckDB's memory limit (e.g. 2GB); larger joins and sorts spill to the temp directory" };
        var temp = new Option<string?>("--temp-directory") { Description = "Where DuckDB spills (default: a new directory under the system temp folder, removed after)" };
        var timestamp = new Option<string>("--timestamp-column")
        {
            Description = "The entity file's column holding each row's time (default event_timestamp)",
            DefaultValueFactory = _ => HistoricalRequest.DefaultTimestampColumn,
        };
        var command = new Command("historical", "Write training data: each entity row with the requested features as of its time (point in time), in the entity file's order");
        foreach (var option in new Option[] { entities, features, service, output, fullNames, memory, temp, timestamp })
        {
            command.Options.Add(option);
        }

        command.SetAction((r, ct) => RunAsync(context(r), r.GetValue(json), new HistoricalRequest
        {
            EntitiesPath = r.GetValue(entities)!.StartsWith("s3://", StringComparison.OrdinalIgnoreCase) ? r.GetValue(entities)! : Path.GetFullPath(r.GetValue(entities)!),
            OutputPath = Path.GetFullPath(r.GetValue(output)!),
            Features = Split(r.GetValue(features)),
            FeatureService = r.GetValue(service),
            FullFeatureNames = r.GetValue(fullNames),
            TimestampColumn = r.GetValue(timestamp)!,
        }, new DuckDbHistoricalOptions { MemoryLimit = r.GetValue(memory), TempDirectory = r.GetValue(temp) }, ct));
        return command;
    }

    private static List<string>? Split(string? features) =>
        features is null ? null : [.. features.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    private static async Task<int> RunAsync(CliContext ctx, bool json, HistoricalRequest request, DuckDbHistoricalOptions options, CancellationToken ct)
    {
        if ((request.Features is null) == (request.FeatureService is null))
        {
            throw new CliException("give either --features (view:feature,...) or --service, not both and not neither");
        }

        var (config, state, code) = await ctx.LoadStateAsync(ct);
        if (config is null || state is null)
        {
            return code;
        }

        // Reads only the registry and the offline files: no online store is opened, so it runs beside `freshet serve`.
        var registry = new ServingRegistry(state, config);
        var bar = new MaterializeCommands.ProgressBar(ctx.Err, animated: ctx.Terminal is not null && !json);
        // s3:// sources go through the repo's object cache, with freshet.yaml's s3 settings, as materialize's do.
        using var s3 = new S3ObjectCache(S3Settings.From(config.S3), Path.Combine(Hosting.DataDirectory(ctx.RepoDirectory, config), "cache", "s3"));
        HistoricalResult result;
        try
        {
            result = await new DuckDbHistoricalRetrieval(options with { S3 = s3 }).GetHistoricalFeaturesAsync(registry, ctx.RepoDirectory, request, bar, ct);
        }
        catch (RequestException e) when (e.Code == DuckDbHistoricalRetrieval.OutOfMemoryCode)
        {
            // Not bad input: the same run may pass with a larger limit or more spill space, hence its own exit code.
            await ctx.Err.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.OutOfMemory;
        }

        bar.Finish();

        if (json)
        {
            ctx.WriteJson(new JsonObject
            {
                ["registry_version"] = registry.Version,
                ["output"] = result.OutputPath,
                ["rows"] = result.Rows,
                ["columns"] = CliContext.Array(result.Columns),
                ["seconds"] = Math.Round(result.Elapsed.TotalSeconds, 3),
            });
            return ExitCodes.Ok;
        }

        ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Wrote {result.Rows} row{(result.Rows == 1 ? "" : "s")} x {result.Columns.Count} columns to {result.OutputPath} in {result.Elapsed.TotalSeconds:0.000} s; registry version {registry.Version}."));
        return ExitCodes.Ok;
    }
}
