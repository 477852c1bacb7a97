using System.CommandLine;
using System.Text.Json.Nodes;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Registry;

namespace Freshet.Cli.Commands;

/// <summary><c>freshet describe NAME</c>: one object's spec, features, history and users.</summary>
internal static class DescribeCommand
{
    public static Command Create(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var name = new Argument<string>("NAME") { Description = "The name of an entity, source, view or feature service" };
        var command = new Command("describe", "Show an applied object: its spec, features, version history and what uses it");
        command.Arguments.Add(name);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var (config, state, code) = await ctx.LoadStateAsync(ct);
            if (config is null || state is null)
            {
                return code;
            }

            var wanted = r.GetValue(name)!;
            var matches = state.Objects.Where(o => o.Name == wanted).ToList();
            if (matches.Count == 0)
            {
                var known = state.Live().Select(o => o.Name).Distinct().Order(StringComparer.Ordinal).ToList();
                return ctx.Fail($"no object named '{wanted}' in the registry of project '{state.Project}'" +
                    (known.Count == 0 ? " (nothing applied yet)" : $"; known: {string.Join(", ", known)}"));
            }

            var lineage = LineageGraph.Of(state);
            var index = new RepoIndex(state.ToDefinition(config));
            if (r.GetValue(json))
            {
                var array = new JsonArray([.. matches.Select(o => (JsonNode)Json(o, lineage, index))]);
                ctx.WriteJson(matches.Count == 1 ? array[0]!.DeepClone() : array);
                return ExitCodes.Ok;
            }

            foreach (var o in matches)
            {
                WriteHuman(ctx.Out, o, lineage, index);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static JsonObject Json(RegistryObject o, LineageGraph lineage, RepoIndex index)
    {
        var json = ObjectJson.Summary(o);
        json["deleted"] = o.IsDeleted;
        if (o.Current() is { } d && ObjectKinds.IsView(o.Kind))
        {
            json["features"] = new JsonArray([.. index.FeaturesOf(d).Select(f => (JsonNode)new JsonObject { ["name"] = f.Name, ["type"] = f.Type.ToString() })]);
        }

        var id = LineageGraph.Id(o.Kind, o.Name);
        json["used_by"] = CliContext.Array(lineage.Edges.Where(e => e.From == id).Select(e => e.To));
        json["depends_on"] = CliContext.Array(lineage.Edges.Where(e => e.To == id).Select(e => e.From));
        json["history"] = new JsonArray([.. o.History.Select(v => (JsonNode)ObjectJson.Version(v))]);
        return json;
    }

    private static void WriteHuman(TextWriter w, RegistryObject o, LineageGraph lineage, RepoIndex index)
    {
        w.WriteLine($"{ObjectKinds.Words(o.Kind)} '{o.Name}', version {o.Version}{(o.IsDeleted ? " (deleted)" : "")}");
        w.WriteLine($"  spec hash   {CliContext.ShortHash(o.Latest.SpecHash)}");
        w.WriteLine($"  applied     {CliContext.Time(o.Latest.AppliedAt)} by {o.Latest.AppliedBy} (registry version {o.Latest.RegistryVersion})");
        var id = LineageGraph.Id(o.Kind, o.Name);
        var dependsOn = lineage.Edges.Where(e => e.To == id).Select(e => e.From).ToList();
        var usedBy = lineage.Edges.Where(e => e.From == id).Select(e => e.To).ToList();
        if (dependsOn.Count > 0)
        {
            w.WriteLine($"  depends on  {string.Join(", ", dependsOn)}");
        }

        if (usedBy.Count > 0)
        {
            w.WriteLine($"  used by     {string.Join(", ", usedBy)}");
        }

        if (o.Current() is { } d)
        {
            if (ObjectKinds.IsView(o.Kind))
            {
                w.WriteLine();
                var features = new TextTable("FEATURE", "TYPE");
                foreach (var f in index.FeaturesOf(d))
                {
                    features.Add(f.Name, f.Type.ToString());
                }

                features.WriteTo(w);
            }

            w.WriteLine();
            w.WriteLine("Definition:");
            foreach (var line in DefinitionWriter.Write(d).TrimEnd().Split('\n'))
            {
                w.WriteLine("  " + line);
            }
        }

        w.WriteLine();
        var history = new TextTable("VERSION", "CHANGE", "SPEC HASH", "APPLIED AT", "APPLIED BY");
        foreach (var v in o.History)
        {
            var change = v.Change.ToString().ToLowerInvariant() + (v.RestoredFrom is { } from ? $" to v{from}" : "");
            history.Add($"v{v.Version}", change, CliContext.ShortHash(v.SpecHash), CliContext.Time(v.AppliedAt), v.AppliedBy);
        }

        history.WriteTo(w);
        w.WriteLine();
    }
}
