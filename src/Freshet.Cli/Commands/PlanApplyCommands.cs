using System.CommandLine;
using System.Text.Json.Nodes;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Registry;

namespace Freshet.Cli.Commands;

/// <summary><c>freshet plan</c> and <c>freshet apply [--yes]</c>.</summary>
internal static class PlanApplyCommands
{
    public static Command Plan(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var command = new Command("plan", "Show what apply would add, update and delete, with breaking changes flagged");
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var (plan, _, _, code) = await MakePlanAsync(ctx, ct);
            if (plan is null)
            {
                return code;
            }

            if (r.GetValue(json))
            {
                ctx.WriteJson(ToJson(plan, null));
            }
            else
            {
                WritePlan(ctx.Out, plan);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Apply(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var yes = new Option<bool>("--yes", "-y") { Description = "Confirm breaking changes and changes that drop stored data" };
        var command = new Command("apply", "Register the repo's definitions as a new registry version; removes objects deleted from the repo");
        command.Options.Add(yes);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var (plan, store, config, code) = await MakePlanAsync(ctx, ct);
            if (plan is null || store is null || config is null)
            {
                return code;
            }

            var asJson = r.GetValue(json);
            var shown = false;
            if (plan.NeedsConfirmation && !r.GetValue(yes))
            {
                if (!asJson)
                {
                    WritePlan(ctx.Out, plan);
                    shown = true;
                }

                if (asJson || !ctx.Confirm("This apply has breaking changes or drops stored data. Apply it?"))
                {
                    ctx.Err.WriteLine("error: this apply has breaking changes or drops stored data (see above); run again with --yes to confirm. Nothing was changed.");
                    return ExitCodes.NeedsConfirmation;
                }
            }

            var current = await store.LoadAsync(ct);
            RegistryState next;
            try
            {
                // Another apply may have committed since the plan was made: Apply refuses a stale plan, CommitAsync
                // one that goes stale between this load and the commit. Both are the same conflict to the user.
                next = RegistryPlanner.Apply(current, plan, CliContext.AppliedBy, DateTimeOffset.UtcNow);
                if (!plan.IsEmpty)
                {
                    await store.CommitAsync(next, plan.BaseVersion, ct);
                }
            }
            catch (RegistryConflictException e)
            {
                ctx.Err.WriteLine($"error: {e.Message}");
                return ExitCodes.Conflict;
            }

            if (!plan.IsEmpty)
            {
                await RemoveDroppedDataAsync(ctx, config, plan, ct);
            }

            await ctx.AuditAsync("apply", [.. plan.Effective.Select(c => new Freshet.Governance.AuditObject(ObjectKinds.Name(c.Kind), c.Name))],
                new Dictionary<string, string> { ["registry_version"] = Invariant(next.Version), ["changes"] = Invariant(plan.Effective.Count()) }, ct);

            if (asJson)
            {
                ctx.WriteJson(ToJson(plan, next.Version));
                return ExitCodes.Ok;
            }

            if (!shown)
            {
                WritePlan(ctx.Out, plan);
            }

            ctx.Out.WriteLine(plan.IsEmpty
                ? $"Registry unchanged at version {next.Version}."
                : $"Applied: registry version {next.Version}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<(RegistryPlan? Plan, IRegistryStore? Store, RepoConfig? Config, int ExitCode)> MakePlanAsync(CliContext ctx, CancellationToken ct)
    {
        var (config, store, code) = ctx.OpenRegistry();
        if (config is null || store is null)
        {
            return (null, null, null, code);
        }

        var repo = RepoLoader.Load(ctx.RepoDirectory);
        if (!repo.IsValid)
        {
            return (null, null, null, ctx.Fail(repo.Diagnostics));
        }

        var current = await store.LoadAsync(ct);
        var plan = RegistryPlanner.Plan(current, repo.Value!);
        return plan.IsValid ? (plan.Value, store, config, ExitCodes.Ok) : (null, null, null, ctx.Fail(plan.Diagnostics));
    }

    /// <summary>
    /// Removes the online data of views the apply deleted or changed incompatibly. When a running server holds
    /// the embedded store, the server does it as it follows the registry (deleted views only).
    /// </summary>
    private static async Task RemoveDroppedDataAsync(CliContext ctx, RepoConfig config, RegistryPlan plan, CancellationToken ct)
    {
        var views = plan.Effective.Where(c => ObjectKinds.IsView(c.Kind) && c.DropsData is not null).Select(c => c.Name).ToList();
        if (views.Count == 0)
        {
            return;
        }

        var online = Hosting.TryOpenOnlineStore(ctx.RepoDirectory, config, out var busy);
        if (online is null)
        {
            ctx.Err.WriteLine($"note: {busy}; the server removes the online data of deleted views when it picks up this version.");
            return;
        }

        await using (online)
        {
            foreach (var view in views)
            {
                var removed = await Freshet.Aggregates.AggregationEngine.DeleteViewDataAsync(online, view, ct);
                ctx.Err.WriteLine($"removed {removed} online row{(removed == 1 ? "" : "s")} of view '{view}'");
            }
        }
    }

    private static string Invariant(long n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static void WritePlan(TextWriter w, RegistryPlan plan)
    {
        var (add, update, delete) = plan.Counts();
        w.WriteLine($"Plan for project '{plan.Project}' (registry version {plan.BaseVersion}):");
        if (plan.IsEmpty)
        {
            w.WriteLine("  no changes: the registry matches the repo.");
            return;
        }

        foreach (var c in plan.Effective)
        {
            var (sign, versions) = c.Action switch
            {
                PlanAction.Add => ("+", $"v{c.ToVersion}"),
                PlanAction.Update => ("~", $"v{c.FromVersion} -> v{c.ToVersion}"),
                _ => ("-", $"v{c.FromVersion} -> deleted"),
            };
            var flags = (c.IsBreaking ? "  BREAKING" : "") + (c.DropsData is not null ? "  DROPS DATA" : "");
            w.WriteLine($"  {sign} {ObjectKinds.Name(c.Kind)} {c.Name} ({versions}){flags}");
            foreach (var d in c.Details)
            {
                w.WriteLine($"      {d}");
            }

            foreach (var b in c.Breaking)
            {
                w.WriteLine($"      breaking: {b}");
            }

            if (c.DropsData is not null)
            {
                w.WriteLine($"      drops data: {c.DropsData}");
            }
        }

        var breaking = plan.Changes.Count(c => c.IsBreaking);
        var drops = plan.Changes.Count(c => c.DropsData is not null);
        w.WriteLine($"{add} to add, {update} to update, {delete} to delete; {breaking} breaking, {drops} dropping data.");
    }

    private static JsonObject ToJson(RegistryPlan plan, long? appliedVersion)
    {
        var (add, update, delete) = plan.Counts();
        var o = new JsonObject
        {
            ["project"] = plan.Project,
            ["base_version"] = plan.BaseVersion,
            ["summary"] = new JsonObject { ["add"] = add, ["update"] = update, ["delete"] = delete },
            ["needs_confirmation"] = plan.NeedsConfirmation,
            ["changes"] = new JsonArray([.. plan.Effective.Select(c => (JsonNode)new JsonObject
            {
                ["kind"] = ObjectKinds.Name(c.Kind),
                ["name"] = c.Name,
                ["action"] = c.Action.ToString().ToLowerInvariant(),
                ["from_version"] = c.FromVersion,
                ["to_version"] = c.ToVersion,
                ["details"] = CliContext.Array(c.Details),
                ["breaking"] = CliContext.Array(c.Breaking),
                ["drops_data"] = c.DropsData,
            })]),
        };
        if (appliedVersion is not null)
        {
            o["registry_version"] = appliedVersion;
        }

        return o;
    }
}
