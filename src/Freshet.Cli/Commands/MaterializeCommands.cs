using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Freshet.Serving;

namespace Freshet.Cli.Commands;

/// <summary><c>materialize START END</c> and <c>materialize-incremental END</c>.</summary>
internal static class MaterializeCommands
{
    public static Command Materialize(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var start = new Argument<string>("START") { Description = "Start of the interval, inclusive: an ISO 8601 time (UTC when it has no offset) or 'now'" };
        var end = new Argument<string>("END") { Description = "End of the interval, exclusive: an ISO 8601 time or 'now'" };
        var views = ViewsOption();
        var command = new Command("materialize", "Load the latest row per entity with event time in [START, END) from each plain view's batch source into the online store");
        command.Arguments.Add(start);
        command.Arguments.Add(end);
        command.Options.Add(views);
        command.SetAction((r, ct) => RunAsync(context(r), "materialize", r.GetValue(json), ct, async (store, progress) =>
            await store.MaterializeAsync(ParseTime(r.GetValue(start)!, "START"), ParseTime(r.GetValue(end)!, "END"), SplitViews(r.GetValue(views)), progress, ct)));
        return command;
    }

    public static Command MaterializeIncremental(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var end = new Argument<string>("END") { Description = "End of the interval, exclusive: an ISO 8601 time (UTC when it has no offset) or 'now'" };
        var views = ViewsOption();
        var command = new Command("materialize-incremental", "Materialize each plain view from where its last materialization ended (or END - ttl the first time) up to END");
        command.Arguments.Add(end);
        command.Options.Add(views);
        command.SetAction((r, ct) => RunAsync(context(r), "materialize-incremental", r.GetValue(json), ct, async (store, progress) =>
            await store.MaterializeIncrementalAsync(ParseTime(r.GetValue(end)!, "END"), SplitViews(r.GetValue(views)), progress, ct)));
        return command;
    }

    private static Option<string?> ViewsOption() => new("--views") { Description = "Comma-separated plain views (default: every online plain view with a batch source)" };

    private static List<string>? SplitViews(string? views) =>
        views is null ? null : [.. views.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    /// <summary>ISO 8601 with or without offset (none means UTC), a date alone, or 'now'.</summary>
    internal static DateTimeOffset ParseTime(string text, string what)
    {
        if (text.Equals("now", StringComparison.OrdinalIgnoreCase))
        {
            return DateTimeOffset.UtcNow;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
        {
            return time;
        }

        throw new CliException($"{what} '{text}' is not a time: use ISO 8601 such as 2021-04-12T10:00:00Z or 2021-04-12, or 'now'");
    }

    private static async Task<int> RunAsync(CliContext ctx, string commandName, bool json, CancellationToken ct,
        Func<FeatureStore, IProgress<MaterializeProgress>, Task<IReadOnlyList<MaterializeViewResult>>> run)
    {
        var (config, registry, code) = ctx.OpenRegistry();
        if (config is null || registry is null)
        {
            return code;
        }

        await using var store = await Hosting.OpenFeatureStoreAsync(ctx.RepoDirectory, config, registry, ct);
        var bar = new ProgressBar(ctx.Err, animated: ctx.Terminal is not null && !json);
        var results = await run(store, bar);
        bar.Finish();
        await ctx.AuditAsync("materialize", [.. results.Select(x => new Freshet.Governance.AuditObject("feature_view", x.View))], new Dictionary<string, string>
        {
            ["command"] = commandName,
            ["registry_version"] = store.Registry.Version.ToString(CultureInfo.InvariantCulture),
            ["rows"] = results.Sum(x => x.Rows).ToString(CultureInfo.InvariantCulture),
        }, ct);

        if (json)
        {
            ctx.WriteJson(new JsonObject
            {
                ["registry_version"] = store.Registry.Version,
                ["views"] = new JsonArray([.. results.Select(x => (JsonNode)new JsonObject
                {
                    ["view"] = x.View,
                    ["start"] = x.Start.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                    ["end"] = x.End.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                    ["rows"] = x.Rows,
                    ["applied"] = x.Applied,
                    ["seconds"] = Math.Round(x.Elapsed.TotalSeconds, 3),
                    ["rule_violations"] = RuleViolationOutput.Json(x.Violations),
                })]),
            });
            return ExitCodes.Ok;
        }

        if (results.Count == 0)
        {
            ctx.Out.WriteLine("Nothing to materialize: no online plain view with a batch source needs it.");
            return ExitCodes.Ok;
        }

        var table = new TextTable(["VIEW", "START", "END", "ROWS", "APPLIED", "SECONDS", "ROWS/S"]);
        foreach (var x in results)
        {
            table.Add([x.View, Format(x.Start), Format(x.End), x.Rows.ToString(CultureInfo.InvariantCulture), x.Applied.ToString(CultureInfo.InvariantCulture),
                x.Elapsed.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture), Rate(x.Rows, x.Elapsed).ToString("0", CultureInfo.InvariantCulture)]);
        }

        table.WriteTo(ctx.Out);
        RuleViolationOutput.Write(ctx.Out, results);
        var rows = results.Sum(x => x.Rows);
        ctx.Out.WriteLine($"Materialized {rows} row{(rows == 1 ? "" : "s")} into {results.Count} view{(results.Count == 1 ? "" : "s")}; registry version {store.Registry.Version}.");
        return ExitCodes.Ok;
    }

    private static string Format(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static double Rate(long rows, TimeSpan elapsed) => elapsed.TotalSeconds > 0 ? rows / elapsed.TotalSeconds : 0;

    /// <summary>
    /// Rows, rows/s and ETA per view on stderr: redrawn in place at a terminal (at most 10 times a second), one
    /// line per view otherwise, so logs stay readable.
    /// </summary>
    internal sealed class ProgressBar(TextWriter err, bool animated) : IProgress<MaterializeProgress>
    {
        private const int Width = 30;
        private readonly Stopwatch _sinceDraw = Stopwatch.StartNew();
        private MaterializeProgress? _current;

        public void Report(MaterializeProgress value)
        {
            if (_current is { } previous && previous.View != value.View)
            {
                Draw(previous, final: true);
            }

            _current = value;
            if (animated && _sinceDraw.ElapsedMilliseconds >= 100)
            {
                Draw(value, final: false);
                _sinceDraw.Restart();
            }
        }

        public void Finish()
        {
            if (_current is { } last)
            {
                Draw(last, final: true);
                _current = null;
            }
        }

        private void Draw(MaterializeProgress p, bool final)
        {
            var rate = Rate(p.Rows, p.Elapsed);
            string bar, eta;
            if (p.Total is > 0 and var total)
            {
                var share = Math.Clamp((double)p.Rows / total, 0, 1);
                var filled = (int)Math.Round(share * Width);
                bar = $"[{new string('#', filled)}{new string('.', Width - filled)}] {share * 100,5:0.0}%";
                eta = final ? "done" : rate > 0 ? $"ETA {TimeSpan.FromSeconds(Math.Ceiling((total - p.Rows) / rate)):hh\\:mm\\:ss}" : "ETA --:--:--";
            }
            else
            {
                bar = "";
                eta = final ? "done" : "";
            }

            var line = string.Create(CultureInfo.InvariantCulture, $"{p.View} {bar} {p.Rows} rows {rate:0} rows/s {eta}");
            if (animated)
            {
                err.Write($"\r{line}\u001b[K");
                if (final)
                {
                    err.WriteLine();
                }
            }
            else if (final)
            {
                err.WriteLine(line);
            }

            err.Flush();
        }
    }
}
