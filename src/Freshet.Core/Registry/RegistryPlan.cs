using System.Text.Json.Nodes;
using Freshet.Model;

namespace Freshet.Registry;

/// <summary>What a plan does to one object.</summary>
public enum PlanAction
{
    /// <summary>Nothing: the spec is the same.</summary>
    Unchanged,
    /// <summary>A new object.</summary>
    Add,
    /// <summary>A changed object.</summary>
    Update,
    /// <summary>An object no longer in the repo.</summary>
    Delete,
}

/// <summary>The planned change of one object.</summary>
public sealed record ObjectChange(ObjectKind Kind, string Name, PlanAction Action)
{
    /// <summary>The version in force before the change (0 for an addition).</summary>
    public int FromVersion { get; init; }

    /// <summary>The version the change makes (the same as <see cref="FromVersion"/> when unchanged).</summary>
    public int ToVersion { get; init; }

    /// <summary>The new spec (null for a deletion).</summary>
    public JsonObject? Spec { get; init; }

    /// <summary>What changed, one line each (<c>ttl: 1d -&gt; 2d</c>).</summary>
    public IReadOnlyList<string> Details { get; init; } = [];

    /// <summary>Why the change is breaking: it changes keys or types that stored data and clients depend on.</summary>
    public IReadOnlyList<string> Breaking { get; init; } = [];

    /// <summary>Why the change drops stored data (online rows, tiles), when it does.</summary>
    public string? DropsData { get; init; }

    /// <summary>True when at least one reason makes the change breaking.</summary>
    public bool IsBreaking => Breaking.Count > 0;
}

/// <summary>
/// The difference between the registry and a repo: what <c>apply</c> would add, update and delete.
/// </summary>
public sealed record RegistryPlan(string Project, long BaseVersion, IReadOnlyList<ObjectChange> Changes)
{
    /// <summary>The changes that do something.</summary>
    public IEnumerable<ObjectChange> Effective => Changes.Where(c => c.Action != PlanAction.Unchanged);

    /// <summary>True when applying would change nothing.</summary>
    public bool IsEmpty => !Effective.Any();

    /// <summary>True when a change is breaking or drops data, so apply must be confirmed.</summary>
    public bool NeedsConfirmation => Changes.Any(c => c.IsBreaking || c.DropsData is not null);

    /// <summary>Counts of additions, updates and deletions.</summary>
    public (int Add, int Update, int Delete) Counts() =>
        (Changes.Count(c => c.Action == PlanAction.Add), Changes.Count(c => c.Action == PlanAction.Update), Changes.Count(c => c.Action == PlanAction.Delete));
}
