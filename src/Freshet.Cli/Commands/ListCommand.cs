using System.CommandLine;
using System.Text.Json.Nodes;
using Freshet.Model;
using Freshet.Registry;

namespace Freshet.Cli.Commands;

/// <summary><c>freshet list [entities|sources|views|services]</c>: the applied objects of the registry.</summary>
internal static class ListCommand
{
    private static readonly string[] What = ["entities", "sources", "views", "services"];

    public static Command Create(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var what = new Argument<string?>("WHAT")
        {
            Description = "entities, sources, views or services; all of them when left out",
            Arity = ArgumentArity.ZeroOrOne,
        };
        what.AcceptOnlyFromAmong(What);
        var command = new Command("list", "List the applied objects of the registry");
        command.Arguments.Add(what);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var (config, state, code) = await ctx.LoadStateAsync(ct);
            if (config is null || state is null)
            {
                return code;
            }

            var sections = r.GetValue(what) is { } one ? [one] : What;
            if (r.GetValue(json))
            {
                var o = new JsonObject { ["project"] = state.Project, ["registry_version"] = state.Version };
                foreach (var section in sections)
                {
                    o[section] = new JsonArray([.. Objects(state, section).Select(x => (JsonNode)ObjectJson.Summary(x))]);
                }

                ctx.WriteJson(o);
                return ExitCodes.Ok;
            }

            ctx.Out.WriteLine($"Project '{state.Project}', registry version {state.Version}{(state.UpdatedAt is { } at ? $", applied {CliContext.Time(at)} by {state.UpdatedBy}" : " (nothing applied yet)")}");
            var index = new RepoIndex(state.ToDefinition(config));
            foreach (var section in sections)
            {
                ctx.Out.WriteLine();
                WriteSection(ctx.Out, section, Objects(state, section).ToList(), index);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static IEnumerable<RegistryObject> Objects(RegistryState state, string section) =>
        state.Live().Where(o => section switch
        {
            "entities" => o.Kind == ObjectKind.Entity,
            "sources" => o.Kind == ObjectKind.Source,
            "views" => ObjectKinds.IsView(o.Kind),
            _ => o.Kind == ObjectKind.FeatureService,
        }).OrderBy(o => o.Name, StringComparer.Ordinal);

    private static void WriteSection(TextWriter w, string section, List<RegistryObject> objects, RepoIndex index)
    {
        w.WriteLine($"{char.ToUpperInvariant(section[0])}{section[1..]} ({objects.Count})");
        TextTable table;
        switch (section)
        {
            case "entities":
                table = new TextTable("NAME", "JOIN KEYS", "VERSION", "DESCRIPTION");
                foreach (var o in objects)
                {
                    var e = (Entity)o.Current()!;
                    table.Add(e.Name, string.Join(", ", e.JoinKeys.Select(k => $"{k.Name}:{k.Type}")), $"v{o.Version}", e.Description);
                }

                break;
            case "sources":
                table = new TextTable("NAME", "TYPE", "WHERE", "VERSION");
                foreach (var o in objects)
                {
                    var s = (DataSource)o.Current()!;
                    table.Add(s.Name, DataSource.KindName(s.Kind), ObjectJson.Where(s), $"v{o.Version}");
                }

                break;
            case "views":
                table = new TextTable("NAME", "KIND", "ENTITIES", "FEATURES", "TTL/WINDOWS", "VERSION");
                foreach (var o in objects)
                {
                    var d = o.Current()!;
                    var features = index.FeaturesOf(d);
                    var (entities, timing) = d switch
                    {
                        FeatureView v => (string.Join(", ", v.Entities), v.Ttl == TimeSpan.Zero ? "no ttl" : $"ttl {Durations.Format(v.Ttl)}"),
                        AggregationView v => (string.Join(", ", v.Entities), string.Join(", ", v.Aggregations.Select(a => Durations.Format(a.Window)).Distinct())),
                        _ => ("-", "on demand"),
                    };
                    table.Add(o.Name, ObjectKinds.Name(o.Kind), entities, features.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), timing, $"v{o.Version}");
                }

                break;
            default:
                table = new TextTable("NAME", "FEATURES", "VERSION", "DESCRIPTION");
                foreach (var o in objects)
                {
                    var s = (FeatureService)o.Current()!;
                    var views = s.Features.Select(f => f.Split(':')[0].Split('@')[0]).Distinct();
                    table.Add(s.Name, $"{s.Features.Count} features from {string.Join(", ", views)}", $"v{o.Version}", s.Description);
                }

                break;
        }

        if (table.Count == 0)
        {
            w.WriteLine("  (none)");
            return;
        }

        table.WriteTo(w);
    }
}

/// <summary>The JSON shapes of registry objects printed by list and describe.</summary>
internal static class ObjectJson
{
    public static JsonObject Summary(RegistryObject o) => new()
    {
        ["kind"] = ObjectKinds.Name(o.Kind),
        ["name"] = o.Name,
        ["version"] = o.Version,
        ["spec_hash"] = o.Latest.SpecHash,
        ["applied_at"] = CliContext.Time(o.Latest.AppliedAt),
        ["applied_by"] = o.Latest.AppliedBy,
        ["spec"] = CliContext.Clone(o.Latest.Spec),
    };

    public static JsonObject Version(ObjectVersion v) => new()
    {
        ["version"] = v.Version,
        ["change"] = v.Change.ToString().ToLowerInvariant(),
        ["spec_hash"] = v.SpecHash,
        ["applied_at"] = CliContext.Time(v.AppliedAt),
        ["applied_by"] = v.AppliedBy,
        ["registry_version"] = v.RegistryVersion,
        ["restored_from"] = v.RestoredFrom,
    };

    public static string Where(DataSource s) => s switch
    {
        FileSource f => f.Path,
        KafkaSource k => $"{k.BootstrapServers}/{k.Topic}",
        NatsSource n => $"{n.Url} {n.Subject}",
        PushSource p => p.BatchSource is null ? "POST /push" : $"POST /push, archived to {p.BatchSource}",
        RequestSource r => "request: " + string.Join(", ", r.Schema.Select(f => f.Name)),
        _ => "",
    };
}
