using System.Text.Json.Nodes;
using Freshet.Definitions;
using Freshet.Model;

namespace Freshet.Registry;

/// <summary>
/// Plans, applies and rolls back registry changes. Pure functions of the registry state and the
/// definitions: the stores only keep the result.
/// </summary>
public static partial class RegistryPlanner
{
    /// <summary>
    /// Validates <paramref name="repo"/> against the registry (for version pins) and compares the two.
    /// <paramref name="hasState"/> says whether a view holds data; when null every applied view is
    /// assumed to, which flags more changes as breaking, never fewer.
    /// </summary>
    public static ValidationResult<RegistryPlan> Plan(RegistryState? current, FeatureRepoDefinition repo, Func<ObjectKind, string, bool>? hasState = null)
    {
        var state = current ?? RegistryState.Empty(repo.Config.Project);
        if (current is not null && current.Project != repo.Config.Project && current.Objects.Count > 0)
        {
            return new ValidationResult<RegistryPlan>(null,
                [new Diagnostic("config.project", null, $"this registry belongs to project '{current.Project}', not '{repo.Config.Project}'")]);
        }

        var desired = new Dictionary<(ObjectKind, string), JsonObject>();
        foreach (var (kind, o) in repo.AllObjects())
        {
            desired.TryAdd((kind, o.Name), SpecJson.ToNode(kind, o));
        }

        var changes = new List<ObjectChange>();
        foreach (var ((kind, name), spec) in desired)
        {
            var existing = state.Find(kind, name);
            if (existing is null || existing.IsDeleted)
            {
                var from = existing?.Version ?? 0;
                changes.Add(new ObjectChange(kind, name, PlanAction.Add) { FromVersion = from, ToVersion = from + 1, Spec = spec });
                continue;
            }

            var old = existing.Latest.Spec!;
            if (SpecJson.Hash(old) == SpecJson.Hash(spec))
            {
                changes.Add(new ObjectChange(kind, name, PlanAction.Unchanged) { FromVersion = existing.Version, ToVersion = existing.Version, Spec = spec });
                continue;
            }

            var stateful = hasState?.Invoke(kind, name) ?? true;
            var (details, breaking, drops) = Compare(kind, old, spec, stateful);
            changes.Add(new ObjectChange(kind, name, PlanAction.Update)
            {
                FromVersion = existing.Version,
                ToVersion = existing.Version + 1,
                Spec = spec,
                Details = details,
                Breaking = breaking,
                DropsData = drops,
            });
        }

        foreach (var o in state.Live())
        {
            if (!desired.ContainsKey((o.Kind, o.Name)))
            {
                var stateful = hasState?.Invoke(o.Kind, o.Name) ?? true;
                changes.Add(new ObjectChange(o.Kind, o.Name, PlanAction.Delete)
                {
                    FromVersion = o.Version,
                    ToVersion = o.Version + 1,
                    DropsData = stateful ? DeletionDrops(o) : null,
                });
            }
        }

        AddEntityImpact(changes, repo);
        changes.Sort((a, b) => a.Kind != b.Kind ? a.Kind.CompareTo(b.Kind) : string.CompareOrdinal(a.Name, b.Name));

        // Pins name registry versions, including the ones this plan creates.
        var pins = PinLookup(state, changes);
        var bag = new DiagnosticBag();
        RepoValidator.Validate(repo, bag, pins);
        var plan = new RegistryPlan(repo.Config.Project, state.Version, changes);
        return new ValidationResult<RegistryPlan>(plan, bag.Sorted());
    }

    /// <summary>Finds a view's spec at a version: stored history first, then the version this plan creates.</summary>
    public static PinnedViewLookup PinLookup(RegistryState state, IReadOnlyList<ObjectChange>? changes = null) => (view, version) =>
    {
        var planned = changes?.FirstOrDefault(c => ObjectKinds.IsView(c.Kind) && c.Name == view && c.ToVersion == version && c.Spec is not null);
        if (planned is not null)
        {
            return SpecJson.FromNode(planned.Kind, planned.Spec!);
        }

        foreach (var o in state.Objects)
        {
            if (ObjectKinds.IsView(o.Kind) && o.Name == view && o.At(version) is { } d)
            {
                return d;
            }
        }

        return null;
    };

    private static string? DeletionDrops(RegistryObject o) => o.Kind switch
    {
        ObjectKind.FeatureView when o.Latest.Spec?["online"]?.GetValue<bool>() != false => "its online rows are removed",
        ObjectKind.AggregationView => "its tiles (aggregation state) are removed",
        _ => null,
    };

    /// <summary>
    /// Marks a join key change of an entity as breaking, naming the views keyed by it: their stored keys
    /// no longer match.
    /// </summary>
    private static void AddEntityImpact(List<ObjectChange> changes, FeatureRepoDefinition repo)
    {
        for (var i = 0; i < changes.Count; i++)
        {
            var c = changes[i];
            if (c.Kind != ObjectKind.Entity || !c.IsBreaking)
            {
                continue;
            }

            var users = repo.FeatureViews.Where(v => v.Entities.Contains(c.Name)).Select(v => v.Name)
                .Concat(repo.AggregationViews.Where(v => v.Entities.Contains(c.Name)).Select(v => v.Name))
                .Order(StringComparer.Ordinal)
                .ToList();
            if (users.Count > 0)
            {
                changes[i] = c with { Breaking = [.. c.Breaking, $"views keyed by '{c.Name}' must be re-materialized: {string.Join(", ", users)}"] };
            }
        }
    }
}
