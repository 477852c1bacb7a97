namespace Freshet.Model;

/// <summary>A typed column: a feature of a view, a field of a source schema or a request input.</summary>
public sealed record Field(string Name, FeatureType Type)
{
    /// <summary>Free text for people.</summary>
    public string? Description { get; init; }

    /// <summary>Labels for search and permissions.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = Metadata.NoTags;

    /// <summary>Data-quality rules checked on ingestion (docs/quality.md#rules); null when the field has none.</summary>
    public FieldRules? Rules { get; init; }
}

/// <summary>Helpers shared by the definition records.</summary>
public static class Metadata
{
    /// <summary>The empty tag set.</summary>
    public static readonly IReadOnlyDictionary<string, string> NoTags = new SortedDictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>Description, owner and tags, which every named object carries.</summary>
public abstract record Definition(string Name)
{
    /// <summary>Free text for people.</summary>
    public string? Description { get; init; }

    /// <summary>Who answers for this object (an e-mail or team).</summary>
    public string? Owner { get; init; }

    /// <summary>Labels for search and permissions.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = Metadata.NoTags;
}

/// <summary>A join key of an entity: its column name and value type.</summary>
public sealed record JoinKey(string Name, FeatureType Type);

/// <summary>
/// The thing features describe (a driver, an account). Its key is the ordered tuple of its
/// join keys, in the order declared.
/// </summary>
public sealed record Entity(string Name, IReadOnlyList<JoinKey> JoinKeys) : Definition(Name);

/// <summary>
/// A plain feature view: rows from one source, keyed by its entities, the latest row per entity
/// served online and joined point-in-time offline.
/// </summary>
public sealed record FeatureView(string Name, IReadOnlyList<string> Entities, string Source, IReadOnlyList<Field> Schema) : Definition(Name)
{
    /// <summary>How long a row stays valid; zero means it never expires.</summary>
    public TimeSpan Ttl { get; init; }

    /// <summary>The event-time column; when null, the source's.</summary>
    public string? TimestampField { get; init; }

    /// <summary>The created-time column (tie breaker); when null, the source's.</summary>
    public string? CreatedTimestampField { get; init; }

    /// <summary>Whether the view is materialized to and served from the online store.</summary>
    public bool Online { get; init; } = true;
}

/// <summary>
/// A view of windowed aggregations over an event source, kept as tiles and evaluated at read time.
/// </summary>
public sealed record AggregationView(string Name, IReadOnlyList<string> Entities, string Source, IReadOnlyList<Aggregation> Aggregations) : Definition(Name)
{
    /// <summary>A file source holding the same events, for backfill and training data.</summary>
    public string? BatchSource { get; init; }

    /// <summary>The event-time column; when null, the source's.</summary>
    public string? TimestampField { get; init; }

    /// <summary>The hop of every aggregation that sets none; when null, the default for its window.</summary>
    public TimeSpan? Hop { get; init; }

    /// <summary>How late an event may arrive and still be applied to its tile.</summary>
    public TimeSpan AllowedLateness { get; init; }

    /// <summary>Whether the view is served online.</summary>
    public bool Online { get; init; } = true;
}

/// <summary>An on-demand view: features computed at request time from request data and other views.</summary>
public sealed record OnDemandView(string Name, IReadOnlyList<string> Inputs, IReadOnlyList<OnDemandFeature> Features) : Definition(Name);

/// <summary>One on-demand feature: its name, type and expression.</summary>
public sealed record OnDemandFeature(string Name, FeatureType Type, string Expression)
{
    /// <summary>Free text for people.</summary>
    public string? Description { get; init; }
}

/// <summary>A named list of feature references that a model reads.</summary>
public sealed record FeatureService(string Name, IReadOnlyList<string> Features) : Definition(Name);
