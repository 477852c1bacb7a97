using System.CommandLine;
using System.Reflection;
using System.Text.Json.Nodes;
using Freshet.Model;
using Freshet.Registry;

namespace Freshet.Cli.Commands;

/// <summary><c>rollback</c>, <c>lineage</c> and <c>version</c>.</summary>
internal static class RegistryCommands
{
    private static readonly Dictionary<string, ObjectKind> KindNames = Enum.GetValues<ObjectKind>().ToDictionary(ObjectKinds.Name);

    public static Command Rollback(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var name = new Argument<string>("NAME") { Description = "The object to roll back" };
        var to = new Option<int>("--to") { Description = "The version whose spec to restore", Required = true };
        var kind = new Option<string?>("--kind") { Description = "The kind, when several objects share the name" };
        kind.AcceptOnlyFromAmong([.. KindNames.Keys]);
        var command = new Command("rollback", "Restore an object's spec from an earlier version, as a new version");
        command.Arguments.Add(name);
        command.Options.Add(to);
        command.Options.Add(kind);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var (config, store, code) = ctx.OpenRegistry();
            if (config is null || store is null)
            {
                return code;
            }

            var state = await store.LoadAsync(ct);
            if (state is null)
            {
                return ctx.Fail("nothing is applied yet: there is nothing to roll back");
            }

            ObjectKind? k = r.GetValue(kind) is { } kindName ? KindNames[kindName] : null;
            var result = RegistryPlanner.Rollback(state, r.GetValue(name)!, k, r.GetValue(to), CliContext.AppliedBy, DateTimeOffset.UtcNow);
            if (!result.IsValid)
            {
                return ctx.Fail(result.Diagnostics);
            }

            var next = result.Value!;
            try
            {
                await store.CommitAsync(next, state.Version, ct);
            }
            catch (RegistryConflictException e)
            {
                ctx.Err.WriteLine($"error: {e.Message}");
                return ExitCodes.Conflict;
            }

            var restored = next.Objects.First(o => o.Latest.RegistryVersion == next.Version);
            await ctx.AuditAsync("rollback", [new Freshet.Governance.AuditObject(ObjectKinds.Name(restored.Kind), restored.Name)], new Dictionary<string, string>
            {
                ["registry_version"] = next.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["restored_from"] = r.GetValue(to).ToString(System.Globalization.CultureInfo.InvariantCulture),
            }, ct);
            if (r.GetValue(json))
            {
                ctx.WriteJson(new JsonObject
                {
                    ["kind"] = ObjectKinds.Name(restored.Kind),
                    ["name"] = restored.Name,
                    ["version"] = restored.Version,
                    ["restored_from"] = r.GetValue(to),
                    ["registry_version"] = next.Version,
                });
            }
            else
            {
                ctx.Out.WriteLine($"Rolled back {ObjectKinds.Words(restored.Kind)} '{restored.Name}' to the spec of v{r.GetValue(to)}, as v{restored.Version}. Registry version {next.Version}.");
                ctx.Out.WriteLine("Note: the repo files still hold the newer definition; the next apply from them would undo this rollback.");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Lineage(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var command = new Command("lineage", "Show how sources feed views and views feed feature services");
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var (config, state, code) = await ctx.LoadStateAsync(ct);
            if (config is null || state is null)
            {
                return code;
            }

            var graph = LineageGraph.Of(state);
            if (r.GetValue(json))
            {
                ctx.WriteJson(new JsonObject
                {
                    ["project"] = graph.Project,
                    ["registry_version"] = graph.RegistryVersion,
                    ["nodes"] = new JsonArray([.. graph.Nodes.Select(n => (JsonNode)new JsonObject
                    {
                        ["id"] = LineageGraph.Id(KindNames[n.Kind], n.Name),
                        ["kind"] = n.Kind,
                        ["name"] = n.Name,
                        ["version"] = n.Version,
                    })]),
                    ["edges"] = new JsonArray([.. graph.Edges.Select(e => (JsonNode)new JsonObject { ["from"] = e.From, ["to"] = e.To, ["relation"] = e.Relation })]),
                });
                return ExitCodes.Ok;
            }

            ctx.Out.WriteLine($"Lineage of project '{graph.Project}' (registry version {graph.RegistryVersion}):");
            var table = new TextTable("FROM", "TO", "AS");
            foreach (var e in graph.Edges)
            {
                table.Add(e.From, e.To, e.Relation);
            }

            table.WriteTo(ctx.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Version(TextWriter output, Option<bool> json)
    {
        var command = new Command("version", "Print the version of Freshet");
        command.SetAction(r =>
        {
            var info = typeof(RegistryState).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            var version = info.Split('+')[0];
            var commit = info.Contains('+', StringComparison.Ordinal) ? info.Split('+')[1] : null;
            if (r.GetValue(json))
            {
                output.WriteLine(new JsonObject { ["version"] = version, ["commit"] = commit, ["registry_format"] = 1, ["dotnet"] = Environment.Version.ToString() }.ToJsonString(SpecJson.IndentedOptions));
            }
            else
            {
                output.WriteLine($"freshet {version}{(commit is null ? "" : $" ({commit[..Math.Min(12, commit.Length)]})")}, registry format 1, .NET {Environment.Version}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
