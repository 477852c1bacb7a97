using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Freshet.DuckDb;
using Freshet.Model;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Cli.Commands;

/// <summary>
/// <c>consistency</c>: replays a file of events through the online path and the offline path (the training-data
/// code, <see cref="DuckDbHistoricalRetrieval"/>) of an aggregation view or a plain feature view and compares them at
/// given times (DESIGN §3). Exit 0: no mismatch; 1: mismatches; 2: bad input.
/// </summary>
internal static class ConsistencyCommand
{
    private const int Mismatches = 1;
    private const int BadInput = 2;

    public static Command Create(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var view = new Option<string>("--view") { Description = "The view to check: an aggregation view or a plain feature view", Required = true };
        var events = new Option<string>("--events") { Description = "The events (Parquet, or CSV when it ends in .csv; local or s3://), with the columns of the view's source", Required = true };
        var at = new Option<string?>("--at") { Description = "Comma-separated times to compare at (ISO 8601; no offset means UTC)" };
        var every = new Option<string?>("--at-every") { Description = "Compare at every DURATION (e.g. 15m) from the first event to the last, instead of --at" };
        var examples = new Option<int>("--examples") { Description = "How many mismatches to list (default 10)", DefaultValueFactory = _ => 10 };
        var command = new Command("consistency", "Replay events online and offline and report where the two paths disagree (exit 0: none, 1: mismatches, 2: bad input)");
        foreach (var option in new Option[] { view, events, at, every, examples })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            try
            {
                return await RunAsync(ctx, r.GetValue(json), r.GetValue(view)!, r.GetValue(events)!, r.GetValue(at), r.GetValue(every), r.GetValue(examples), ct);
            }
            catch (CliException e)
            {
                ctx.Err.WriteLine($"error: {e.Message}");
                return BadInput;
            }
            catch (RequestException e)
            {
                ctx.Err.WriteLine($"error: {e.Field}: {e.Message}");
                return BadInput;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                ctx.Err.WriteLine($"error: {e.Message}");
                return BadInput;
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(CliContext ctx, bool json, string view, string eventsPath, string? at, string? every, int examples, CancellationToken ct)
    {
        if ((at is null) == (every is null))
        {
            throw new CliException("give either --at T1,T2,... or --at-every DURATION, not both and not neither");
        }

        List<DateTimeOffset>? times = null;
        var step = TimeSpan.Zero;
        if (at is not null)
        {
            times = [.. at.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t => MaterializeCommands.ParseTime(t, "--at"))];
            if (times.Count == 0)
            {
                throw new CliException("--at names no time");
            }
        }
        else if (!Durations.TryParse(every, out step, out var error) || step <= TimeSpan.Zero)
        {
            throw new CliException($"--at-every '{every}': {error ?? "must be longer than 0"}");
        }

        if (examples < 0)
        {
            throw new CliException("--examples must be 0 or more");
        }

        var (config, state, code) = await ctx.LoadStateAsync(ct);
        if (config is null || state is null)
        {
            return code == ExitCodes.Ok ? ExitCodes.Ok : BadInput;
        }

        var remote = eventsPath.StartsWith("s3://", StringComparison.OrdinalIgnoreCase);
        var path = remote ? eventsPath : Path.GetFullPath(eventsPath);
        if (!remote && !path.Contains('*', StringComparison.Ordinal) && !File.Exists(path))
        {
            throw new CliException($"--events: file '{path}' not found");
        }

        // Validate the view before reading a possibly large file.
        if (state.Objects.All(o => o.Name != view))
        {
            throw new CliException($"--view: view '{view}' is not in the applied registry of {Path.GetFullPath(ctx.RepoDirectory)}; run `freshet apply` or check the name");
        }

        // s3:// events are read through the repo's object cache with freshet.yaml's s3 settings, as view sources are;
        // the offline side is the training-data code itself (DuckDbHistoricalRetrieval over the same file).
        using var s3 = new S3ObjectCache(S3Settings.From(config.S3), Path.Combine(Hosting.DataDirectory(ctx.RepoDirectory, config), "cache", "s3"));
        var table = await EventFile.ReadAsync(path, s3, ct);
        var options = new ConsistencyOptions
        {
            MaxExamples = examples,
            Offline = new DuckDbConsistencyOffline(path, new DuckDbHistoricalOptions { S3 = s3 }),
        };
        var report = times is not null
            ? await ConsistencyCheck.RunAsync(state, config, ctx.RepoDirectory, view, table, times, options, ct)
            : await ConsistencyCheck.RunEveryAsync(state, config, ctx.RepoDirectory, view, table, step, options, ct);

        if (json)
        {
            ctx.WriteJson(Json(report));
        }
        else
        {
            Print(ctx.Out, report);
        }

        return report.Mismatches == 0 ? ExitCodes.Ok : Mismatches;
    }

    private static JsonObject Json(ConsistencyReport report) => new()
    {
        ["view"] = report.View,
        ["events"] = report.Events,
        ["bad_rows"] = report.BadRows,
        ["online_rejected"] = report.OnlineRejected,
        ["entities"] = report.Entities,
        ["times"] = report.Times,
        ["compared"] = report.Compared,
        ["mismatches"] = report.Mismatches,
        ["features"] = new JsonArray([.. report.Features.Select(f => (JsonNode)new JsonObject
        {
            ["feature"] = f.Feature,
            ["function"] = f.Function,
            ["tolerance"] = f.Tolerant ? "relative" : "exact",
            ["compared"] = f.Compared,
            ["non_null"] = f.NonNull,
            ["mismatches"] = f.Mismatches,
            ["max_abs_diff"] = f.MaxAbsoluteDifference,
            ["max_rel_diff"] = f.MaxRelativeDifference,
        })]),
        ["examples"] = new JsonArray([.. report.Examples.Select(e => (JsonNode)new JsonObject
        {
            ["entity"] = e.Entity,
            ["at"] = Micros.ToRfc3339(Micros.From(e.At)),
            ["feature"] = e.Feature,
            ["online"] = Show(e.Online),
            ["offline"] = Show(e.Offline),
        })]),
    };

    private static void Print(TextWriter output, ConsistencyReport report)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"View '{report.View}': {report.Events} event rows ({report.BadRows} unusable, {report.OnlineRejected} refused online), {report.Entities} entities x {report.Times} times x {report.Features.Count} features = {report.Compared} values compared."));
        var table = new TextTable("FEATURE", "FUNCTION", "COMPARED", "NON-NULL", "MISMATCHES", "MAX ABS DIFF", "MAX REL DIFF");
        foreach (var f in report.Features)
        {
            table.Add(f.Feature, f.Function + (f.Tolerant ? " (~)" : ""), Number(f.Compared), Number(f.NonNull), Number(f.Mismatches),
                f.MaxAbsoluteDifference.ToString("G6", CultureInfo.InvariantCulture), f.MaxRelativeDifference.ToString("G6", CultureInfo.InvariantCulture));
        }

        table.WriteTo(output);
        if (report.Examples.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("First mismatches:");
            var examples = new TextTable("ENTITY", "AT", "FEATURE", "ONLINE", "OFFLINE");
            foreach (var e in report.Examples)
            {
                examples.Add(e.Entity, Micros.ToRfc3339(Micros.From(e.At)), e.Feature, Show(e.Online), Show(e.Offline));
            }

            examples.WriteTo(output);
        }

        output.WriteLine();
        output.WriteLine(report.Mismatches == 0
            ? "No mismatches: online equals offline (float sums within the relative tolerance, marked ~)."
            : string.Create(CultureInfo.InvariantCulture, $"{report.Mismatches} mismatch{(report.Mismatches == 1 ? "" : "es")}."));
    }

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Show(FeatureValue v) => v.IsNull ? "null" : v.Kind switch
    {
        ValueKind.Float64 => v.AsFloat64().ToString("R", CultureInfo.InvariantCulture),
        ValueKind.Timestamp => Micros.ToRfc3339(v.TimestampMicros),
        _ => v.ToString(),
    };
}
