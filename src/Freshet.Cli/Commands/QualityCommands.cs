using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Freshet.DuckDb;
using Freshet.Model;
using Freshet.Serving;

namespace Freshet.Cli.Commands;

/// <summary><c>profile</c> and <c>drift</c> (docs/quality.md).</summary>
internal static class QualityCommands
{
    private const int Drifted = 1;
    private const int BadInput = 2;

    public static Command Profile(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var dataset = new Argument<string>("DATASET") { Description = "A Parquet file or glob (CSV when it ends in .csv), local or s3://" };
        var output = new Option<string?>("--out") { Description = "Write the profile JSON here (the baseline of `freshet drift`)" };
        var features = new Option<string?>("--features") { Description = "Only these columns (comma-separated)" };
        var bins = new Option<int>("--bins") { Description = "Quantile bins per numeric feature (default 10, deciles)", DefaultValueFactory = _ => 10 };
        var top = new Option<int>("--top") { Description = "Most frequent values kept per categorical feature (default 10)", DefaultValueFactory = _ => 10 };
        var keys = new Option<string?>("--keys") { Description = "Columns to skip as keys (comma-separated); the applied entities' join keys are skipped anyway when --repo holds a repo" };
        var memory = new Option<string?>("--memory-limit") { Description = "DuckDB's memory limit (e.g. 2GB)" };
        var command = new Command("profile", "Per-feature statistics of a dataset (count, nulls, min, max, mean, stddev, quantiles, bins; top values of strings), printed and optionally written as a profile JSON");
        command.Arguments.Add(dataset);
        foreach (var option in new Option[] { output, features, bins, top, keys, memory })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            try
            {
                return await ProfileAsync(ctx, r.GetValue(json), r.GetValue(dataset)!, r.GetValue(output), List(r.GetValue(features)), r.GetValue(bins), r.GetValue(top), List(r.GetValue(keys)) ?? [], r.GetValue(memory), ct);
            }
            catch (Exception e) when (e is CliException or RequestException or IOException or UnauthorizedAccessException)
            {
                return Fail(ctx, e, ExitCodes.Error);
            }
        });
        return command;
    }

    public static Command Drift(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var baseline = new Option<string>("--baseline") { Description = "A profile JSON written by `freshet profile --out`", Required = true };
        var logged = new Option<string>("--logged") { Description = "A feature log directory (feature_logging.path under the data directory), or a dataset file or glob to compare", Required = true };
        var since = new Option<string?>("--since") { Description = "Only values served at or after this time (ISO 8601, or a duration back from now such as 24h)" };
        var threshold = new Option<double>("--threshold") { Description = "Flag features whose PSI is above this (default 0.2)", DefaultValueFactory = _ => 0.2 };
        var minSamples = new Option<long>("--min-samples") { Description = "Features with fewer values are reported as too few, not scored (default 100)", DefaultValueFactory = _ => 100 };
        var command = new Command("drift", "Population stability index (PSI) per feature of served values against a baseline profile (exit 0: none flagged, 1: drift flagged, 2: bad input)");
        foreach (var option in new Option[] { baseline, logged, since, threshold, minSamples })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            try
            {
                return await DriftAsync(ctx, r.GetValue(json), r.GetValue(baseline)!, r.GetValue(logged)!, r.GetValue(since), r.GetValue(threshold), r.GetValue(minSamples), ct);
            }
            catch (Exception e) when (e is CliException or RequestException or IOException or UnauthorizedAccessException)
            {
                return Fail(ctx, e, BadInput);
            }
        });
        return command;
    }

    private static int Fail(CliContext ctx, Exception e, int code)
    {
        ctx.Err.WriteLine(e is RequestException re ? $"error: {re.Field}: {re.Message}" : $"error: {e.Message}");
        return code;
    }

    private static List<string>? List(string? text) =>
        text is null ? null : [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    private static async Task<int> ProfileAsync(CliContext ctx, bool json, string dataset, string? output, List<string>? features, int bins, int top, List<string> keys, string? memory, CancellationToken ct)
    {
        if (features is { Count: 0 })
        {
            throw new CliException("--features names no column");
        }

        // In a repo, the applied entities' join keys are keys, and s3:// reads use its settings and object cache.
        using var s3 = await RepoContextAsync(ctx, keys, ct);
        var profile = await DatasetProfiler.ProfileAsync(dataset, new ProfileOptions { Features = features, Keys = keys, Bins = bins, TopK = top, MemoryLimit = memory, S3 = s3 }, ct);
        if (output is not null)
        {
            var full = Path.GetFullPath(output);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            var temporary = full + ".tmp";
            await File.WriteAllTextAsync(temporary, profile.ToJson().ToJsonString(CliContext.JsonOptions) + "\n", ct);
            File.Move(temporary, full, overwrite: true);
        }

        if (json)
        {
            ctx.WriteJson(profile.ToJson());
            return ExitCodes.Ok;
        }

        ctx.Out.WriteLine($"Dataset '{dataset}': {profile.Rows} rows, {profile.Features.Count} features profiled" + (profile.Skipped.Count > 0 ? $", {profile.Skipped.Count} columns skipped" : "") + ".");
        var table = new TextTable("FEATURE", "KIND", "TYPE", "COUNT", "NULLS", "MIN", "P25", "P50", "P75", "MAX", "MEAN", "STDDEV", "DISTINCT", "TOP");
        foreach (var f in profile.Features)
        {
            if (f.Kind == FeatureKind.Numeric)
            {
                table.Add(f.Name, "numeric", f.Type, Count(f.Count), Count(f.Nulls), Num(f.Min), Quantile(f, "p25"), Quantile(f, "p50"), Quantile(f, "p75"), Num(f.Max), Num(f.Mean), Num(f.Stddev), "", "");
            }
            else
            {
                var shown = string.Join(" ", f.Top.Take(3).Select(t => $"{t.Value}:{(t.Proportion * 100).ToString("0.0", CultureInfo.InvariantCulture)}%"));
                table.Add(f.Name, "categorical", f.Type, Count(f.Count), Count(f.Nulls), "", "", "", "", "", "", "", Count(f.Distinct), shown);
            }
        }

        table.WriteTo(ctx.Out);
        foreach (var s in profile.Skipped)
        {
            ctx.Out.WriteLine($"skipped {s.Name} ({s.Type}): {s.Reason}");
        }

        if (output is not null)
        {
            ctx.Out.WriteLine($"Profile written to {output} (format {DatasetProfile.Format} v{DatasetProfile.FormatVersion}).");
        }

        return ExitCodes.Ok;
    }

    private static async Task<S3ObjectCache?> RepoContextAsync(CliContext ctx, List<string> keys, CancellationToken ct)
    {
        if (!File.Exists(Path.Combine(ctx.RepoDirectory, RepoConfig.FileName)))
        {
            return null;
        }

        var (config, state, _) = await ctx.LoadStateAsync(ct);
        if (config is null || state is null)
        {
            throw new CliException($"the repo at {Path.GetFullPath(ctx.RepoDirectory)} cannot be read (see above); fix it or pass another --repo");
        }

        foreach (var o in state.Live())
        {
            if (o.Kind == ObjectKind.Entity && o.Current() is Entity entity)
            {
                keys.AddRange(entity.JoinKeys.Select(k => k.Name).Where(k => !keys.Contains(k)));
            }
        }

        return new S3ObjectCache(S3Settings.From(config.S3), Path.Combine(Hosting.DataDirectory(ctx.RepoDirectory, config), "cache", "s3"));
    }

    private static async Task<int> DriftAsync(CliContext ctx, bool json, string baselinePath, string logged, string? sinceText, double threshold, long minSamples, CancellationToken ct)
    {
        if (!File.Exists(baselinePath))
        {
            throw new CliException($"--baseline: file '{baselinePath}' not found");
        }

        if (minSamples < 1)
        {
            throw new CliException("--min-samples must be 1 or more");
        }

        DateTimeOffset? since = null;
        if (sinceText is not null)
        {
            since = Durations.TryParse(sinceText, out var back, out _) && back > TimeSpan.Zero
                ? DateTimeOffset.UtcNow - back
                : MaterializeCommands.ParseTime(sinceText, "--since");
        }

        var baseline = DatasetProfile.Parse(await File.ReadAllTextAsync(baselinePath, ct), baselinePath);
        var remote = logged.StartsWith("s3://", StringComparison.OrdinalIgnoreCase);
        if (!remote && !Directory.Exists(logged) && !logged.Contains('*', StringComparison.Ordinal) && !File.Exists(logged))
        {
            throw new CliException($"--logged: '{logged}' is neither a feature log directory nor a dataset file");
        }

        using var s3 = remote ? await RepoContextAsync(ctx, [], ct) : null;
        var report = await DriftCheck.RunAsync(baseline, logged, new DriftOptions { Threshold = threshold, MinSamples = minSamples, Since = since, S3 = s3 }, ct);
        if (json)
        {
            ctx.WriteJson(Json(report, baselinePath));
        }
        else
        {
            var table = new TextTable("FEATURE", "KIND", "SAMPLES", "PSI", "DRIFT", "NOTE");
            foreach (var f in report.Features)
            {
                table.Add(f.Feature, f.Kind == FeatureKind.Numeric ? "numeric" : "categorical", Count(f.Samples), f.Psi is { } p ? p.ToString("F4", CultureInfo.InvariantCulture) : "-", f.Flagged ? "FLAGGED" : f.Psi is null ? "-" : "ok", f.Note ?? "");
            }

            table.WriteTo(ctx.Out);
            var unscored = report.Features.Count(f => f.Psi is null);
            ctx.Out.WriteLine($"{report.FlaggedCount} of {report.Features.Count} features drifted (PSI > {threshold.ToString(CultureInfo.InvariantCulture)})" +
                (unscored > 0 ? $"; {unscored} not scored (fewer than {minSamples} values)" : "") + ".");
        }

        return report.FlaggedCount > 0 ? Drifted : ExitCodes.Ok;
    }

    private static JsonObject Json(DriftReport report, string baseline) => new()
    {
        ["baseline"] = baseline,
        ["logged"] = report.Source,
        ["source"] = report.FromLog ? "feature_log" : "dataset",
        ["threshold"] = report.Threshold,
        ["min_samples"] = report.MinSamples,
        ["flagged"] = report.FlaggedCount,
        ["features"] = new JsonArray([.. report.Features.Select(f => (JsonNode)new JsonObject
        {
            ["feature"] = f.Feature,
            ["kind"] = f.Kind == FeatureKind.Numeric ? "numeric" : "categorical",
            ["samples"] = f.Samples,
            ["psi"] = f.Psi,
            ["flagged"] = f.Flagged,
            ["note"] = f.Note,
            ["expected"] = new JsonArray([.. f.Expected.Select(e => (JsonNode)e)]),
            ["actual"] = new JsonArray([.. f.Actual.Select(a => (JsonNode)a)]),
        })]),
    };

    private static string Count(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Num(double? v) => v is { } d ? d.ToString("G6", CultureInfo.InvariantCulture) : "-";

    private static string Quantile(FeatureProfile f, string name) => f.Quantiles.TryGetValue(name, out var v) ? Num(v) : "-";
}
