using Freshet.Model;

namespace Freshet.Registry;

/// <summary>One object in the lineage graph.</summary>
public sealed record LineageNode(string Kind, string Name, int Version);

/// <summary>An edge: data or meaning flows from <see cref="From"/> to <see cref="To"/>.</summary>
public sealed record LineageEdge(string From, string To, string Relation);

/// <summary>How sources feed views and views feed services. Node ids are <c>kind:name</c>.</summary>
public sealed record LineageGraph(string Project, long RegistryVersion, IReadOnlyList<LineageNode> Nodes, IReadOnlyList<LineageEdge> Edges)
{
    /// <summary>The lineage of the live objects of a registry.</summary>
    public static LineageGraph Of(RegistryState state)
    {
        var repo = state.ToDefinition(new RepoConfig(state.Project));
        var index = new RepoIndex(repo);
        var nodes = state.Live()
            .OrderBy(o => o.Kind).ThenBy(o => o.Name, StringComparer.Ordinal)
            .Select(o => new LineageNode(ObjectKinds.Name(o.Kind), o.Name, o.Version))
            .ToList();
        var edges = new List<LineageEdge>();
        foreach (var s in repo.Sources)
        {
            var batch = s switch
            {
                PushSource p => p.BatchSource,
                KafkaSource k => k.BatchSource,
                NatsSource n => n.BatchSource,
                _ => null,
            };
            if (batch is not null)
            {
                edges.Add(new LineageEdge(Id(ObjectKind.Source, batch), Id(ObjectKind.Source, s.Name), "batch_source"));
            }
        }

        foreach (var v in repo.FeatureViews)
        {
            var id = Id(ObjectKind.FeatureView, v.Name);
            edges.AddRange(v.Entities.Select(e => new LineageEdge(Id(ObjectKind.Entity, e), id, "entity")));
            edges.Add(new LineageEdge(Id(ObjectKind.Source, v.Source), id, "source"));
        }

        foreach (var v in repo.AggregationViews)
        {
            var id = Id(ObjectKind.AggregationView, v.Name);
            edges.AddRange(v.Entities.Select(e => new LineageEdge(Id(ObjectKind.Entity, e), id, "entity")));
            edges.Add(new LineageEdge(Id(ObjectKind.Source, v.Source), id, "source"));
            if (v.BatchSource is not null)
            {
                edges.Add(new LineageEdge(Id(ObjectKind.Source, v.BatchSource), id, "batch_source"));
            }
        }

        foreach (var v in repo.OnDemandViews)
        {
            var id = Id(ObjectKind.OnDemandView, v.Name);
            foreach (var input in v.Inputs)
            {
                var from = index.View(input) is { } view ? Id(view.Kind, input) : Id(ObjectKind.Source, input);
                edges.Add(new LineageEdge(from, id, "input"));
            }
        }

        foreach (var s in repo.FeatureServices)
        {
            var id = Id(ObjectKind.FeatureService, s.Name);
            var views = new HashSet<string>(StringComparer.Ordinal);
            foreach (var text in s.Features)
            {
                if (FeatureReference.TryParse(text, out var r, out _) && index.View(r.View) is { } view && views.Add(r.View))
                {
                    edges.Add(new LineageEdge(Id(view.Kind, r.View), id, "features"));
                }
            }
        }

        return new LineageGraph(state.Project, state.Version, nodes, edges);
    }

    /// <summary>The node id of an object.</summary>
    public static string Id(ObjectKind kind, string name) => $"{ObjectKinds.Name(kind)}:{name}";
}
