using Freshet.Definitions;
using Freshet.Model;

namespace Freshet.Registry;

public static partial class RegistryPlanner
{
    /// <summary>
    /// The registry state after <paramref name="plan"/>: a new registry version in which every changed object
    /// has a new version; unchanged objects keep theirs. An empty plan returns <paramref name="current"/>.
    /// </summary>
    public static RegistryState Apply(RegistryState? current, RegistryPlan plan, string appliedBy, DateTimeOffset now)
    {
        var state = current ?? RegistryState.Empty(plan.Project);
        if (state.Version != plan.BaseVersion)
        {
            throw new RegistryConflictException(plan.BaseVersion, state.Version);
        }

        if (plan.IsEmpty)
        {
            return state;
        }

        var version = state.Version + 1;
        var objects = state.Objects.ToDictionary(o => (o.Kind, o.Name));
        foreach (var c in plan.Effective)
        {
            var history = objects.TryGetValue((c.Kind, c.Name), out var existing) ? existing.History : [];
            var change = c.Action switch
            {
                PlanAction.Add => ChangeType.Create,
                PlanAction.Update => ChangeType.Update,
                _ => ChangeType.Delete,
            };
            var entry = new ObjectVersion(c.ToVersion, change, c.Spec, c.Spec is null ? null : SpecJson.Hash(c.Spec), now, appliedBy, version);
            objects[(c.Kind, c.Name)] = new RegistryObject(c.Kind, c.Name, [.. history, entry]);
        }

        return Sealed(state, objects.Values, version, appliedBy, now);
    }

    /// <summary>
    /// Restores the spec an object had at version <paramref name="toVersion"/>, as a new version. The restored
    /// object must still fit the registry (its entities, sources and views must exist).
    /// </summary>
    public static ValidationResult<RegistryState> Rollback(RegistryState state, string name, ObjectKind? kind, int toVersion, string appliedBy, DateTimeOffset now)
    {
        var matches = state.Objects.Where(o => o.Name == name && (kind is null || o.Kind == kind)).ToList();
        if (matches.Count == 0)
        {
            return Fail($"no object named '{name}' in the registry");
        }

        if (matches.Count > 1)
        {
            return Fail($"several objects are named '{name}' ({string.Join(", ", matches.Select(m => ObjectKinds.Name(m.Kind)))}); say which with --kind");
        }

        var target = matches[0];
        var restored = target.History.FirstOrDefault(v => v.Version == toVersion);
        if (restored is null)
        {
            return Fail($"{ObjectKinds.Words(target.Kind)} '{name}' has no version {toVersion}; its versions are 1 to {target.Version}");
        }

        if (restored.Spec is null)
        {
            return Fail($"version {toVersion} of {ObjectKinds.Words(target.Kind)} '{name}' is its deletion; roll back to a version with a spec");
        }

        if (!target.IsDeleted && target.Latest.SpecHash == restored.SpecHash)
        {
            return Fail($"{ObjectKinds.Words(target.Kind)} '{name}' already has the spec of version {toVersion}");
        }

        var version = state.Version + 1;
        var entry = new ObjectVersion(target.Version + 1, ChangeType.Rollback, restored.Spec, restored.SpecHash, now, appliedBy, version) { RestoredFrom = toVersion };
        var objects = state.Objects.Select(o => o == target ? o with { History = [.. o.History, entry] } : o).ToList();
        var next = Sealed(state, objects, version, appliedBy, now);

        // The restored spec must fit what is there now: its entity may be gone, or a service may name its old features.
        var check = RepoValidator.Validate(next.ToDefinition(new RepoConfig(state.Project)), PinLookup(next));
        return check.IsValid
            ? new ValidationResult<RegistryState>(next, [])
            : new ValidationResult<RegistryState>(null, [.. check.Diagnostics.Select(d => d with { Message = $"after rolling back '{name}' to version {toVersion}: {d.Message}" })]);

        static ValidationResult<RegistryState> Fail(string message) => new(null, [new Diagnostic("rollback", null, message)]);
    }

    private static RegistryState Sealed(RegistryState state, IEnumerable<RegistryObject> objects, long version, string appliedBy, DateTimeOffset now) =>
        state with
        {
            Version = version,
            Objects = [.. objects.OrderBy(o => o.Kind).ThenBy(o => o.Name, StringComparer.Ordinal)],
            UpdatedAt = now,
            UpdatedBy = appliedBy,
        };
}
