using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Freshet.Governance;

namespace Freshet.Cli.Commands;

/// <summary><c>audit verify</c> and <c>audit tail</c> (docs/audit.md).</summary>
internal static class AuditCommands
{
    public static Command Create(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var command = new Command("audit", "Check and read the audit trail: who applied, wrote, materialized and read what");
        command.Subcommands.Add(Verify(context, json));
        command.Subcommands.Add(Tail(context, json));
        return command;
    }

    private static Command Verify(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var command = new Command("verify", "Check every record's hash and link and the head anchor; exit 1 naming the first changed, removed or reordered record");
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var log = Open(ctx, out var code);
            if (log is null)
            {
                return code;
            }

            await using (log)
            {
                var v = await log.VerifyAsync(ct);
                if (r.GetValue(json))
                {
                    ctx.WriteJson(new JsonObject
                    {
                        ["valid"] = v.IsValid,
                        ["records"] = v.Count,
                        ["head_sequence"] = v.HeadSequence,
                        ["head_hash"] = v.HeadHash,
                        ["anchor_sequence"] = v.AnchorSequence,
                        ["bad_sequence"] = v.BadSequence,
                        ["problem"] = v.Problem,
                        ["ignored_unfinished_line"] = v.IgnoredTornTail,
                    });
                }
                else if (v.IsValid)
                {
                    ctx.Out.WriteLine($"Audit log verified: {v.Count} record{(v.Count == 1 ? "" : "s")}, head {v.HeadSequence} {v.HeadHash} ({log.LogPath}).");
                    if (v.IgnoredTornTail)
                    {
                        ctx.Out.WriteLine("Note: an unfinished last line was ignored: an append interrupted before it was flushed and acknowledged.");
                    }
                }

                if (!v.IsValid)
                {
                    ctx.Err.WriteLine($"error: audit log {log.LogPath}: {v.Problem}");
                    ctx.Err.WriteLine($"The first {v.Count} record{(v.Count == 1 ? "" : "s")} are intact; the first bad record is {v.BadSequence}.");
                    return ExitCodes.Error;
                }

                return ExitCodes.Ok;
            }
        });
        return command;
    }

    private static Command Tail(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var count = new Option<int>("-n", "--lines") { Description = "How many of the newest records to print", DefaultValueFactory = _ => 20 };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new records as they are appended, until stopped (Ctrl+C)" };
        var command = new Command("tail", "Print the newest audit records (one JSON object per line with --json)");
        command.Options.Add(count);
        command.Options.Add(follow);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var n = r.GetValue(count);
            if (n < 0)
            {
                return ctx.Fail($"-n must be 0 or more, not {n}");
            }

            var log = Open(ctx, out var code);
            if (log is null)
            {
                return code;
            }

            await using (log)
            {
                var asJson = r.GetValue(json);
                var newest = new Queue<AuditRecord>();
                await foreach (var record in log.ReadAsync(0, ct))
                {
                    newest.Enqueue(record);
                    if (newest.Count > n)
                    {
                        newest.Dequeue();
                    }
                }

                foreach (var record in newest)
                {
                    Print(ctx.Out, record, asJson);
                }

                var last = newest.Count > 0 ? newest.Last().Sequence : await LastSequenceAsync(log, ct);
                if (!r.GetValue(follow))
                {
                    return ExitCodes.Ok;
                }

                await ctx.Out.FlushAsync(ct);
                try
                {
                    while (true)
                    {
                        await Task.Delay(250, ct);
                        await foreach (var record in log.ReadAsync(last, ct))
                        {
                            Print(ctx.Out, record, asJson);
                            last = record.Sequence;
                        }

                        await ctx.Out.FlushAsync(ct);
                    }
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return ExitCodes.Ok;
                }
            }
        });
        return command;
    }

    private static async Task<long> LastSequenceAsync(FileAuditLog log, CancellationToken ct)
    {
        var last = 0L;
        await foreach (var record in log.ReadAsync(0, ct))
        {
            last = record.Sequence;
        }

        return last;
    }

    private static FileAuditLog? Open(CliContext ctx, out int code)
    {
        if (ctx.LoadConfig() is not { } config)
        {
            code = ExitCodes.Error;
            return null;
        }

        // Reading and checking work when recording is off: an old log stays verifiable.
        code = ExitCodes.Ok;
        return new FileAuditLog(Hosting.AuditDirectory(ctx.RepoDirectory, config), Hosting.AuditKey());
    }

    private static void Print(TextWriter w, AuditRecord record, bool json)
    {
        if (json)
        {
            w.WriteLine(AuditEncoding.ToJson(record));
            return;
        }

        var e = record.Entry;
        var objects = e.Objects.Count == 0 ? "-" : string.Join(",", e.Objects);
        var details = string.Join(" ", e.Details.Select(d => $"{d.Key}={d.Value}"));
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{record.Sequence,6}  {e.Time}  {e.Actor}  {e.Action}  {e.Status}  {e.Remote}  {objects}  {details}  {CliContext.ShortHash(record.Hash)}").TrimEnd());
    }
}
