using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Freshet.Aggregates;
using Freshet.Ingestion;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Cli.Commands;

/// <summary><c>deadletter list</c> and <c>deadletter replay</c>: the events Freshet refused, and a second chance for them.</summary>
internal static class DeadLetterCommands
{
    public static Command Create(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var command = new Command("deadletter", "Events refused by ingestion (too late, too far in the future, malformed, breaking a data-quality rule), with their reasons");
        command.Subcommands.Add(List(context, json));
        command.Subcommands.Add(Replay(context, json));
        return command;
    }

    private static Command List(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var source = new Option<string?>("--source") { Description = "Only the letters of this source" };
        var limit = new Option<int>("--limit") { Description = "At most this many (default 100)", DefaultValueFactory = _ => 100 };
        var after = new Option<long>("--after") { Description = "Only letters with an id above this (paging)" };
        var command = new Command("list", "List dead letters, oldest first");
        command.Options.Add(source);
        command.Options.Add(limit);
        command.Options.Add(after);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var (config, registry, code) = ctx.OpenRegistry();
            if (config is null || registry is null)
            {
                return code;
            }

            await using var store = await Hosting.OpenFeatureStoreAsync(ctx.RepoDirectory, config, registry, ct);
            var letters = Hosting.DeadLetters(store).Store;
            var items = new List<DeadLetter>();
            await foreach (var l in letters.ListAsync(r.GetValue(source), r.GetValue(after), Math.Max(1, r.GetValue(limit)), ct))
            {
                items.Add(l);
            }

            var total = await letters.CountAsync(r.GetValue(source), ct);
            if (r.GetValue(json))
            {
                ctx.WriteJson(new JsonObject
                {
                    ["total"] = total,
                    ["letters"] = new JsonArray([.. items.Select(l => (JsonNode)new JsonObject
                    {
                        ["id"] = l.Id,
                        ["at"] = Micros.ToRfc3339(Micros.From(l.At)),
                        ["source"] = l.Source,
                        ["view"] = l.View,
                        ["partition"] = l.Partition,
                        ["offset"] = l.Offset,
                        ["code"] = l.Code,
                        ["reason"] = l.Reason,
                        ["payload"] = Payload(l.Payload),
                    })]),
                });
                return ExitCodes.Ok;
            }

            var table = new TextTable(["ID", "AT", "SOURCE", "VIEW", "CODE", "REASON", "PAYLOAD"]);
            foreach (var l in items)
            {
                table.Add([l.Id.ToString(CultureInfo.InvariantCulture), Micros.ToRfc3339(Micros.From(l.At)), l.Source, l.View ?? "", l.Code, l.Reason, Shorten(Payload(l.Payload), 60)]);
            }

            table.WriteTo(ctx.Out);
            ctx.Out.WriteLine($"{items.Count} shown, {total} in all{(r.GetValue(source) is { } s ? $" for source '{s}'" : "")}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Replay(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var source = new Option<string?>("--source") { Description = "Only the letters of this source" };
        var ids = new Option<string?>("--ids") { Description = "Comma-separated letter ids (default: all, oldest first)" };
        var command = new Command("replay", "Apply dead letters again (after fixing a definition or the clock); the ones that apply are removed, the others stay with their reason");
        command.Options.Add(source);
        command.Options.Add(ids);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var (config, registry, code) = ctx.OpenRegistry();
            if (config is null || registry is null)
            {
                return code;
            }

            HashSet<long>? wanted = null;
            if (r.GetValue(ids) is { } list)
            {
                wanted = [];
                foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    if (!long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                    {
                        return ctx.Fail($"--ids: '{part}' is not a letter id");
                    }

                    wanted.Add(id);
                }
            }

            await using var store = await Hosting.OpenFeatureStoreAsync(ctx.RepoDirectory, config, registry, ct);
            var letters = Hosting.DeadLetters(store).Store;
            var pending = new List<DeadLetter>();
            await foreach (var l in letters.ListAsync(r.GetValue(source), 0, int.MaxValue, ct))
            {
                if (wanted is null || wanted.Contains(l.Id))
                {
                    pending.Add(l);
                }
            }

            var replayed = new List<long>();
            var failed = new List<(DeadLetter Letter, string Why)>();
            foreach (var letter in pending)
            {
                var why = await ReplayOneAsync(store, letter, ct);
                if (why is null)
                {
                    replayed.Add(letter.Id);
                }
                else
                {
                    failed.Add((letter, why));
                }
            }

            await letters.RemoveAsync(replayed, ct);
            await ctx.AuditAsync("replay_dead_letters", [.. pending.Select(l => l.Source).Distinct(StringComparer.Ordinal).Select(s => new Freshet.Governance.AuditObject("source", s))], new Dictionary<string, string>
            {
                ["replayed"] = replayed.Count.ToString(CultureInfo.InvariantCulture),
                ["still_refused"] = failed.Count.ToString(CultureInfo.InvariantCulture),
            }, ct);
            if (r.GetValue(json))
            {
                ctx.WriteJson(new JsonObject
                {
                    ["replayed"] = new JsonArray([.. replayed.Select(i => (JsonNode)i)]),
                    ["failed"] = new JsonArray([.. failed.Select(f => (JsonNode)new JsonObject { ["id"] = f.Letter.Id, ["reason"] = f.Why })]),
                });
            }
            else
            {
                foreach (var (l, why) in failed)
                {
                    ctx.Err.WriteLine($"letter {l.Id} ({l.Source}): still refused: {why}");
                }

                ctx.Out.WriteLine($"Replayed {replayed.Count} of {pending.Count} dead letter{(pending.Count == 1 ? "" : "s")}; {failed.Count} still refused and kept.");
            }

            return failed.Count == 0 ? ExitCodes.Ok : ExitCodes.Error;
        });
        return command;
    }

    /// <summary>Decodes the letter's payload with its source's schema and applies it to its view(s); null when applied, else why not.</summary>
    private static async Task<string?> ReplayOneAsync(FeatureStore store, DeadLetter letter, CancellationToken ct)
    {
        var registry = store.Registry;
        if (letter.View is { } name && registry.Index.View(name) is { View: Model.FeatureView plain })
        {
            // A plain view's letter (a data-quality rule refused the row): written to that view alone.
            return await PlainViewReplay.ApplyAsync(store, plain, letter.Payload, ct);
        }

        if (registry.Index.Source(letter.Source) is not { } source)
        {
            return $"source '{letter.Source}' is no longer in the registry";
        }

        var views = registry.Index.Repo.AggregationViews
            .Where(v => v.Source == source.Name && v.Online && (letter.View is null || v.Name == letter.View))
            .Select(registry.Aggregation)
            .ToList();
        var decoder = StreamProcessor.Decoder(source, views.SelectMany(v => v.Keys));
        var result = decoder.Decode(letter.Payload, null, out var row);
        if (result.Error is { } error)
        {
            return $"{error.Code}: {error.Reason}";
        }

        var table = StreamProcessor.Table(decoder, source, [row!], [result.EventTimeMicros]);
        var batches = new List<(CompiledAggregationView, IReadOnlyList<AggregationEvent>)>();
        foreach (var v in views)
        {
            var (events, unusable) = AggregationEngine.ToEvents(v, table, rejectBadRows: true);
            if (unusable.Count > 0)
            {
                return $"{unusable[0].Code}: {unusable[0].Reason}";
            }

            batches.Add((v, events));
        }

        var applied = await store.Engine.ApplyAsync(batches, cancellationToken: ct);
        return applied.Rejected.Count > 0 ? $"{applied.Rejected[0].Code}: {applied.Rejected[0].Reason}" : null;
    }

    private static string Payload(byte[] payload)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(payload);
        }
        catch (DecoderFallbackException)
        {
            return "base64:" + Convert.ToBase64String(payload);
        }
    }

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}
