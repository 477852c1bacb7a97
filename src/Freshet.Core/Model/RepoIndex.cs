namespace Freshet.Model;

/// <summary>
/// Lookups over one set of definitions: objects by name and the features each view produces.
/// </summary>
public sealed class RepoIndex
{
    private readonly Dictionary<string, Entity> _entities = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DataSource> _sources = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ObjectKind Kind, Definition View)> _views = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FeatureService> _services = new(StringComparer.Ordinal);

    /// <summary>Indexes a repo; the first of several objects with one name wins.</summary>
    public RepoIndex(FeatureRepoDefinition repo)
    {
        Repo = repo;
        foreach (var (kind, o) in repo.AllObjects())
        {
            switch (kind)
            {
                case ObjectKind.Entity:
                    _entities.TryAdd(o.Name, (Entity)o);
                    break;
                case ObjectKind.Source:
                    _sources.TryAdd(o.Name, (DataSource)o);
                    break;
                case ObjectKind.FeatureService:
                    _services.TryAdd(o.Name, (FeatureService)o);
                    break;
                default:
                    _views.TryAdd(o.Name, (kind, o));
                    break;
            }
        }
    }

    /// <summary>The indexed definitions.</summary>
    public FeatureRepoDefinition Repo { get; }

    /// <summary>Entity names.</summary>
    public IEnumerable<string> EntityNames => _entities.Keys;

    /// <summary>Source names.</summary>
    public IEnumerable<string> SourceNames => _sources.Keys;

    /// <summary>View names (all three kinds).</summary>
    public IEnumerable<string> ViewNames => _views.Keys;

    /// <summary>An entity by name.</summary>
    public Entity? Entity(string name) => _entities.GetValueOrDefault(name);

    /// <summary>A source by name.</summary>
    public DataSource? Source(string name) => _sources.GetValueOrDefault(name);

    /// <summary>A feature service by name.</summary>
    public FeatureService? Service(string name) => _services.GetValueOrDefault(name);

    /// <summary>A view of any kind by name.</summary>
    public (ObjectKind Kind, Definition View)? View(string name) => _views.TryGetValue(name, out var v) ? v : null;

    /// <summary>The features a view of this repo produces, with their types.</summary>
    public IReadOnlyList<Field> Features(string viewName) =>
        _views.TryGetValue(viewName, out var v) ? FeaturesOf(v.View) : [];

    /// <summary>The join keys of a view, in entity then declaration order.</summary>
    public IReadOnlyList<JoinKey> JoinKeys(IReadOnlyList<string> entities)
    {
        var keys = new List<JoinKey>();
        foreach (var e in entities)
        {
            if (_entities.TryGetValue(e, out var entity))
            {
                keys.AddRange(entity.JoinKeys);
            }
        }

        return keys;
    }

    /// <summary>The event-time column of a view: its own, else its source's, else <c>event_timestamp</c> (Feast's default).</summary>
    public static string TimestampField(FeatureView view, DataSource? source) =>
        view.TimestampField ?? source?.TimestampField ?? "event_timestamp";

    /// <summary>The created-time column of a view: its own, else its source's; null when neither has one.</summary>
    public static string? CreatedTimestampField(FeatureView view, DataSource? source) =>
        view.CreatedTimestampField ?? source?.CreatedTimestampField;

    /// <summary>The features a view produces; aggregation output types use this repo's source schemas.</summary>
    public IReadOnlyList<Field> FeaturesOf(Definition view)
    {
        switch (view)
        {
            case FeatureView fv:
                return fv.Schema;
            case OnDemandView odv:
                return [.. odv.Features.Select(f => new Field(f.Name, f.Type) { Description = f.Description })];
            case AggregationView av:
                var source = Source(av.Source);
                var fields = new List<Field>(av.Aggregations.Count);
                foreach (var a in av.Aggregations)
                {
                    FeatureType? input = null;
                    if (a.Column is not null && source?.Schema.FirstOrDefault(f => f.Name == a.Column) is { } column)
                    {
                        input = column.Type;
                    }

                    fields.Add(new Field(a.OutputName, Aggregation.OutputType(a.Function, input)));
                }

                return fields;
            default:
                return [];
        }
    }
}
