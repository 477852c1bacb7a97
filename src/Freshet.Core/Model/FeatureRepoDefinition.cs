namespace Freshet.Model;

/// <summary>The kinds of object a registry holds.</summary>
public enum ObjectKind
{
    /// <summary>An <see cref="Model.Entity"/>.</summary>
    Entity,
    /// <summary>A <see cref="DataSource"/>.</summary>
    Source,
    /// <summary>A <see cref="Model.FeatureView"/>.</summary>
    FeatureView,
    /// <summary>An <see cref="Model.AggregationView"/>.</summary>
    AggregationView,
    /// <summary>An <see cref="Model.OnDemandView"/>.</summary>
    OnDemandView,
    /// <summary>A <see cref="Model.FeatureService"/>.</summary>
    FeatureService,
}

/// <summary>
/// Everything a feature repo defines: the settings and every object. Built by the YAML loader or by
/// <see cref="Definitions.RepoBuilder"/>; validated by <see cref="Definitions.RepoValidator"/>.
/// </summary>
public sealed record FeatureRepoDefinition(RepoConfig Config)
{
    /// <summary>Entities, in file order.</summary>
    public IReadOnlyList<Entity> Entities { get; init; } = [];

    /// <summary>Sources, in file order.</summary>
    public IReadOnlyList<DataSource> Sources { get; init; } = [];

    /// <summary>Plain feature views, in file order.</summary>
    public IReadOnlyList<FeatureView> FeatureViews { get; init; } = [];

    /// <summary>Aggregation views, in file order.</summary>
    public IReadOnlyList<AggregationView> AggregationViews { get; init; } = [];

    /// <summary>On-demand views, in file order.</summary>
    public IReadOnlyList<OnDemandView> OnDemandViews { get; init; } = [];

    /// <summary>Feature services, in file order.</summary>
    public IReadOnlyList<FeatureService> FeatureServices { get; init; } = [];

    /// <summary>Every object with its kind.</summary>
    public IEnumerable<(ObjectKind Kind, Definition Object)> AllObjects()
    {
        foreach (var o in Entities)
        {
            yield return (ObjectKind.Entity, o);
        }

        foreach (var o in Sources)
        {
            yield return (ObjectKind.Source, o);
        }

        foreach (var o in FeatureViews)
        {
            yield return (ObjectKind.FeatureView, o);
        }

        foreach (var o in AggregationViews)
        {
            yield return (ObjectKind.AggregationView, o);
        }

        foreach (var o in OnDemandViews)
        {
            yield return (ObjectKind.OnDemandView, o);
        }

        foreach (var o in FeatureServices)
        {
            yield return (ObjectKind.FeatureService, o);
        }
    }
}

/// <summary>Names of object kinds as people read them and as JSON writes them.</summary>
public static class ObjectKinds
{
    /// <summary>snake_case name: <c>feature_view</c>.</summary>
    public static string Name(ObjectKind kind) => kind switch
    {
        ObjectKind.Entity => "entity",
        ObjectKind.Source => "source",
        ObjectKind.FeatureView => "feature_view",
        ObjectKind.AggregationView => "aggregation_view",
        ObjectKind.OnDemandView => "on_demand_view",
        ObjectKind.FeatureService => "feature_service",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Words for messages: <c>feature view</c>.</summary>
    public static string Words(ObjectKind kind) => Name(kind).Replace('_', ' ');

    /// <summary>The YAML section that lists objects of this kind.</summary>
    public static string Section(ObjectKind kind) => kind switch
    {
        ObjectKind.Entity => "entities",
        ObjectKind.Source => "sources",
        ObjectKind.FeatureView => "feature_views",
        ObjectKind.AggregationView => "aggregation_views",
        ObjectKind.OnDemandView => "on_demand_views",
        ObjectKind.FeatureService => "feature_services",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>True for the three kinds of view, which share one namespace.</summary>
    public static bool IsView(ObjectKind kind) => kind is ObjectKind.FeatureView or ObjectKind.AggregationView or ObjectKind.OnDemandView;
}
