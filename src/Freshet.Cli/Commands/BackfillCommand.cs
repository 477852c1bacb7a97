using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Freshet.DuckDb;

namespace Freshet.Cli.Commands;

/// <summary><c>backfill VIEW --until TIME</c>: lambda backfill of an aggregation view from its batch source, and the cut-over.</summary>
internal static class BackfillCommand
{
    public static Command Create(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var view = new Argument<string>("VIEW") { Description = "The aggregation view to backfill" };
        var until = new Option<string>("--until") { Description = "The cut-over, exclusive: an ISO 8601 time (UTC when it has no offset) or 'now'. Backfill applies the batch events before it; the stream applies only events at or after it", Required = true };
        var replace = new Option<bool>("--replace") { Description = "Delete the view's online rows first (needed when it already has tiles or a cut-over)" };
        var command = new Command("backfill", "Build an aggregation view's tiles from its batch source for events before the cut-over, and store the cut-over (lambda)");
        command.Arguments.Add(view);
        command.Options.Add(until);
        command.Options.Add(replace);
        command.SetAction((r, ct) => RunAsync(context(r), r.GetValue(json), r.GetValue(view)!, MaterializeCommands.ParseTime(r.GetValue(until)!, "--until"), r.GetValue(replace), ct));
        return command;
    }

    private static async Task<int> RunAsync(CliContext ctx, bool json, string view, DateTimeOffset until, bool replace, CancellationToken ct)
    {
        var (config, registry, code) = ctx.OpenRegistry();
        if (config is null || registry is null)
        {
            return code;
        }

        await using var store = await Hosting.OpenFeatureStoreAsync(ctx.RepoDirectory, config, registry, ct);
        var bar = new MaterializeCommands.ProgressBar(ctx.Err, animated: ctx.Terminal is not null && !json);
        var result = await new DuckDbBackfill().RunAsync(store, view, until, replace, bar, ct);
        bar.Finish();
        await ctx.AuditAsync("backfill", [new Freshet.Governance.AuditObject("aggregation_view", result.View)], new Dictionary<string, string>
        {
            ["registry_version"] = store.Registry.Version.ToString(CultureInfo.InvariantCulture),
            ["rows"] = result.RowsRead.ToString(CultureInfo.InvariantCulture),
            ["events_applied"] = result.EventsApplied.ToString(CultureInfo.InvariantCulture),
            ["cut_over"] = CliContext.Time(result.CutOver),
        }, ct);
        if (json)
        {
            ctx.WriteJson(new JsonObject
            {
                ["view"] = result.View,
                ["cut_over"] = result.CutOver.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                ["rows_read"] = result.RowsRead,
                ["events_applied"] = result.EventsApplied,
                ["rejected"] = result.Rejected,
                ["entities"] = result.Entities,
                ["seconds"] = Math.Round(result.Elapsed.TotalSeconds, 3),
            });
            return ExitCodes.Ok;
        }

        var table = new TextTable(["VIEW", "CUT-OVER", "ROWS READ", "APPLIED", "REJECTED", "ENTITIES", "SECONDS"]);
        table.Add([result.View, CliContext.Time(result.CutOver), Count(result.RowsRead), Count(result.EventsApplied), Count(result.Rejected), Count(result.Entities),
            result.Elapsed.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)]);
        table.WriteTo(ctx.Out);
        ctx.Out.WriteLine($"Backfilled '{result.View}' up to {CliContext.Time(result.CutOver)}; the stream applies only events at or after it.{(result.Rejected > 0 ? " Rejected rows are in the dead-letter store (freshet deadletter list)." : "")}");
        return ExitCodes.Ok;
    }

    private static string Count(long n) => n.ToString(CultureInfo.InvariantCulture);
}
