using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Freshet.Model;

namespace Freshet.Registry;

/// <summary>What happened to an object in one registry version.</summary>
public enum ChangeType
{
    /// <summary>The object is new.</summary>
    Create,
    /// <summary>The object's spec changed.</summary>
    Update,
    /// <summary>The object was removed from the repo.</summary>
    Delete,
    /// <summary>The object's spec was restored from an earlier version.</summary>
    Rollback,
}

/// <summary>
/// One version of one object. Every change bumps the version, a deletion too (its <see cref="Spec"/> is null),
/// so <c>view@vN</c> always names one spec.
/// </summary>
public sealed record ObjectVersion(int Version, ChangeType Change, JsonObject? Spec, string? SpecHash, DateTimeOffset AppliedAt, string AppliedBy, long RegistryVersion)
{
    /// <summary>For a rollback, the version whose spec was restored.</summary>
    public int? RestoredFrom { get; init; }
}

/// <summary>An object of the registry with its whole history, oldest first.</summary>
public sealed record RegistryObject(ObjectKind Kind, string Name, IReadOnlyList<ObjectVersion> History)
{
    /// <summary>The newest version.</summary>
    [JsonIgnore]
    public ObjectVersion Latest => History[^1];

    /// <summary>True when the newest version is a deletion.</summary>
    [JsonIgnore]
    public bool IsDeleted => Latest.Spec is null;

    /// <summary>The version number now in force.</summary>
    [JsonIgnore]
    public int Version => Latest.Version;

    /// <summary>The definition now in force, or null when deleted.</summary>
    public Definition? Current() => Latest.Spec is { } spec ? SpecJson.FromNode(Kind, spec) : null;

    /// <summary>The definition at a version, or null when that version does not exist or is a deletion.</summary>
    public Definition? At(int version)
    {
        foreach (var v in History)
        {
            if (v.Version == version)
            {
                return v.Spec is { } spec ? SpecJson.FromNode(Kind, spec) : null;
            }
        }

        return null;
    }
}

/// <summary>One materialization of a view: the event-time interval [start, end) read, when, and how many rows.</summary>
public sealed record MaterializationRecord(string View, DateTimeOffset Start, DateTimeOffset End, DateTimeOffset At, long Rows);

/// <summary>
/// The whole registry of a project at one version: every object ever applied with its history.
/// </summary>
public sealed record RegistryState(string Project, long Version, IReadOnlyList<RegistryObject> Objects)
{
    /// <summary>The format of the stored state; bumped on incompatible changes.</summary>
    public int Format { get; init; } = 1;

    /// <summary>When this registry version was made.</summary>
    public DateTimeOffset? UpdatedAt { get; init; }

    /// <summary>Who made this registry version.</summary>
    public string? UpdatedBy { get; init; }

    /// <summary>The intervals materialized into the online store, oldest first.</summary>
    public IReadOnlyList<MaterializationRecord> Materializations { get; init; } = [];

    /// <summary>The empty registry of a project, before the first apply.</summary>
    public static RegistryState Empty(string project) => new(project, 0, []);

    /// <summary>An object by kind and name, deleted or not.</summary>
    public RegistryObject? Find(ObjectKind kind, string name)
    {
        foreach (var o in Objects)
        {
            if (o.Kind == kind && o.Name == name)
            {
                return o;
            }
        }

        return null;
    }

    /// <summary>The live (not deleted) objects.</summary>
    public IEnumerable<RegistryObject> Live() => Objects.Where(o => !o.IsDeleted);

    /// <summary>A live view of any kind by name.</summary>
    public RegistryObject? FindView(string name) =>
        Objects.FirstOrDefault(o => ObjectKinds.IsView(o.Kind) && o.Name == name && !o.IsDeleted)
        ?? Objects.FirstOrDefault(o => ObjectKinds.IsView(o.Kind) && o.Name == name);

    /// <summary>The live objects as a definition set (with <paramref name="config"/> as settings).</summary>
    public FeatureRepoDefinition ToDefinition(RepoConfig config)
    {
        var live = Live().OrderBy(o => o.Name, StringComparer.Ordinal).ToList();
        return new FeatureRepoDefinition(config)
        {
            Entities = [.. live.Where(o => o.Kind == ObjectKind.Entity).Select(o => (Entity)o.Current()!)],
            Sources = [.. live.Where(o => o.Kind == ObjectKind.Source).Select(o => (DataSource)o.Current()!)],
            FeatureViews = [.. live.Where(o => o.Kind == ObjectKind.FeatureView).Select(o => (FeatureView)o.Current()!)],
            AggregationViews = [.. live.Where(o => o.Kind == ObjectKind.AggregationView).Select(o => (AggregationView)o.Current()!)],
            OnDemandViews = [.. live.Where(o => o.Kind == ObjectKind.OnDemandView).Select(o => (OnDemandView)o.Current()!)],
            FeatureServices = [.. live.Where(o => o.Kind == ObjectKind.FeatureService).Select(o => (FeatureService)o.Current()!)],
        };
    }
}
