using Freshet.Model;

namespace Freshet.Definitions;

/// <summary>
/// Builds feature definitions in C#, for applications that embed Freshet. <see cref="Build"/> runs
/// the same validation as the YAML loader; problems name the element by model path.
/// </summary>
/// <example>
/// <code>
/// var repo = new RepoBuilder("quickstart")
///     .Add(new Entity("driver", [new JoinKey("driver_id", FeatureType.Of(ScalarKind.Int64))]))
///     .Add(new FileSource("driver_stats", "data/driver_stats.parquet") { TimestampField = "event_timestamp" })
///     .Add(new FeatureView("driver_hourly_stats", ["driver"], "driver_stats",
///         [new Field("conv_rate", FeatureType.Of(ScalarKind.Float32))]) { Ttl = TimeSpan.FromDays(1) })
///     .Add(new FeatureService("driver_activity", ["driver_hourly_stats:conv_rate"]))
///     .Build()
///     .GetValueOrThrow();
/// </code>
/// </example>
public sealed class RepoBuilder
{
    private readonly List<Entity> _entities = [];
    private readonly List<DataSource> _sources = [];
    private readonly List<FeatureView> _featureViews = [];
    private readonly List<AggregationView> _aggregationViews = [];
    private readonly List<OnDemandView> _onDemandViews = [];
    private readonly List<FeatureService> _featureServices = [];
    private RepoConfig _config;

    /// <summary>Starts a repo for a project with default settings.</summary>
    public RepoBuilder(string project) => _config = new RepoConfig(project);

    /// <summary>Changes the settings (data directory, stores, server).</summary>
    public RepoBuilder Configure(Func<RepoConfig, RepoConfig> change)
    {
        _config = change(_config);
        return this;
    }

    /// <summary>Adds an entity.</summary>
    public RepoBuilder Add(Entity entity) => Append(_entities, entity);

    /// <summary>Adds a source of any kind.</summary>
    public RepoBuilder Add(DataSource source) => Append(_sources, source);

    /// <summary>Adds a plain feature view.</summary>
    public RepoBuilder Add(FeatureView view) => Append(_featureViews, view);

    /// <summary>Adds an aggregation view.</summary>
    public RepoBuilder Add(AggregationView view) => Append(_aggregationViews, view);

    /// <summary>Adds an on-demand view.</summary>
    public RepoBuilder Add(OnDemandView view) => Append(_onDemandViews, view);

    /// <summary>Adds a feature service.</summary>
    public RepoBuilder Add(FeatureService service) => Append(_featureServices, service);

    /// <summary>The definitions so far, not yet validated.</summary>
    public FeatureRepoDefinition ToDefinition() => new(_config)
    {
        Entities = [.. _entities],
        Sources = [.. _sources],
        FeatureViews = [.. _featureViews],
        AggregationViews = [.. _aggregationViews],
        OnDemandViews = [.. _onDemandViews],
        FeatureServices = [.. _featureServices],
    };

    /// <summary>Validates the definitions; the result lists every problem or holds the repo.</summary>
    public ValidationResult<FeatureRepoDefinition> Build(PinnedViewLookup? pins = null) =>
        RepoValidator.Validate(ToDefinition(), pins);

    private RepoBuilder Append<T>(List<T> list, T item)
    {
        ArgumentNullException.ThrowIfNull(item);
        list.Add(item);
        return this;
    }
}
