using Freshet.Values;

namespace Freshet.Serving;

/// <summary>The status of one served value, as Feast's <c>FieldStatus</c> (same numbers).</summary>
public enum FieldStatus : byte
{
    /// <summary>Not valid.</summary>
    Invalid = 0,
    /// <summary>A value is present.</summary>
    Present = 1,
    /// <summary>The row exists and the value is null.</summary>
    NullValue = 2,
    /// <summary>No row for the entity (or the row lacks the feature).</summary>
    NotFound = 3,
    /// <summary>The row is older than the view's ttl; no value is served.</summary>
    OutsideMaxAge = 4,
}

/// <summary>
/// A request for online features, as Feast's: either feature references or a feature service, entity
/// columns (join keys and request-time inputs) of equal length.
/// </summary>
public sealed class OnlineRequest
{
    /// <summary><c>view:feature</c> references (or null when <see cref="FeatureService"/> is set).</summary>
    public IReadOnlyList<string>? Features { get; init; }

    /// <summary>A feature service name (or null when <see cref="Features"/> is set).</summary>
    public string? FeatureService { get; init; }

    /// <summary>Column-major entity rows: join keys and request-time inputs.</summary>
    public IReadOnlyDictionary<string, FeatureValue[]> Entities { get; init; } = new Dictionary<string, FeatureValue[]>();

    /// <summary>Output names as <c>view__feature</c> instead of <c>feature</c>.</summary>
    public bool FullFeatureNames { get; init; }
}

/// <summary>One output column: a value, a status and an event time per entity row.</summary>
public sealed class FeatureColumn(int rows)
{
    /// <summary>The values (null where not present).</summary>
    public FeatureValue[] Values { get; } = new FeatureValue[rows];

    /// <summary>The status of each value.</summary>
    public FieldStatus[] Statuses { get; } = new FieldStatus[rows];

    /// <summary>The event time of each value's row, microseconds (0 when there is none).</summary>
    public long[] EventMicros { get; } = new long[rows];
}

/// <summary>The answer: output names (join keys first) and one column per name.</summary>
public sealed class OnlineResponse(IReadOnlyList<string> featureNames, FeatureColumn[] columns, long registryVersion)
{
    /// <summary>Join keys first, then features in request order.</summary>
    public IReadOnlyList<string> FeatureNames { get; } = featureNames;

    /// <summary>One column per name.</summary>
    public FeatureColumn[] Columns { get; } = columns;

    /// <summary>The registry version the request was served from.</summary>
    public long RegistryVersion { get; } = registryVersion;

    /// <summary>The number of entity rows.</summary>
    public int RowCount => Columns.Length == 0 ? 0 : Columns[0].Values.Length;
}
