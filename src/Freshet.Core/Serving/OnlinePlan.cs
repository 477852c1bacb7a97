using Freshet.Aggregates;
using Freshet.Expressions;
using Freshet.Model;
using Freshet.Online;

namespace Freshet.Serving;

/// <summary>
/// How to serve one request shape: which views to read, with which entity-key columns, which features,
/// where each goes in the response. Built once per (registry version, request shape) and cached, so the
/// hot path resolves no names.
/// </summary>
public sealed class OnlinePlan
{
    internal OnlinePlan(long registryVersion, string[] featureNames, JoinKey[] joinKeys, ViewRead[] views)
    {
        RegistryVersion = registryVersion;
        FeatureNames = featureNames;
        JoinKeys = joinKeys;
        Views = views;
    }

    /// <summary>The registry version the plan was made from.</summary>
    public long RegistryVersion { get; }

    /// <summary>Output names: join keys, then features.</summary>
    public string[] FeatureNames { get; }

    /// <summary>The join keys the request must carry, in output order.</summary>
    public JoinKey[] JoinKeys { get; }

    /// <summary>The views read, each once.</summary>
    public ViewRead[] Views { get; }

    /// <summary>
    /// Columns filled per request: the outputs (<see cref="FeatureNames"/>), then hidden columns that hold the
    /// inputs of on-demand features that were not requested themselves.
    /// </summary>
    public int ColumnCount { get; init; }

    /// <summary>Request fields (passed inside <c>entities</c>, as Feast does) read by on-demand features.</summary>
    public RequestInput[] RequestInputs { get; init; } = [];

    /// <summary>On-demand features, evaluated after the views are read, in request order.</summary>
    public OnDemandEvaluation[] OnDemand { get; init; } = [];

    /// <summary>The aggregation views read: their tile rows join the same store round trip as plain rows.</summary>
    public AggregationRead[] Aggregations { get; init; } = [];
}

/// <summary>
/// The read of one aggregation view within a plan: the entity key's join-key columns, the resolutions whose
/// tile rows are read (one key per entity and resolution), and for each requested aggregation its slot in the
/// compiled view and its output column.
/// </summary>
public sealed record AggregationRead(CompiledAggregationView View, int[] KeyColumns, int[] Resolutions, int[] Slots, int[] Outputs);

/// <summary>A request field an on-demand feature reads, coerced to its declared type into <see cref="Column"/>.</summary>
public sealed record RequestInput(string Name, FeatureType Type, int Column);

/// <summary>
/// One on-demand feature of a plan: its compiled expression (compiled once per registry version), the column it
/// fills, and for each expression slot the column that holds the input and the input's declared type.
/// </summary>
public sealed class OnDemandEvaluation(CompiledExpression expression, int output, int[] slotColumns, FeatureType[] slotTypes)
{
    /// <summary>The compiled expression.</summary>
    public CompiledExpression Expression { get; } = expression;

    /// <summary>The output column.</summary>
    public int Output { get; } = output;

    /// <summary>The column of each slot (only the expression's slots are meaningful).</summary>
    public int[] SlotColumns { get; } = slotColumns;

    /// <summary>The declared type of each slot.</summary>
    public FeatureType[] SlotTypes { get; } = slotTypes;
}

/// <summary>The read of one view within a plan.</summary>
public sealed class ViewRead
{
    internal ViewRead(string view, int[] keyColumns, uint[] nameHashes, int[] outputs, FeatureType[] types, long ttlMicros)
    {
        View = view;
        KeyColumns = keyColumns;
        NameHashes = nameHashes;
        Outputs = outputs;
        Types = types;
        TtlMicros = ttlMicros;
    }

    /// <summary>The view name (the store's namespace).</summary>
    public string View { get; }

    /// <summary>Indexes into <see cref="OnlinePlan.JoinKeys"/> that make this view's entity key, in order.</summary>
    public int[] KeyColumns { get; }

    /// <summary>Row-codec name hashes of the features read.</summary>
    public uint[] NameHashes { get; }

    /// <summary>The output column of each feature read.</summary>
    public int[] Outputs { get; }

    /// <summary>The declared type of each feature read.</summary>
    public FeatureType[] Types { get; }

    /// <summary>The view's ttl in microseconds; 0 means no expiry.</summary>
    public long TtlMicros { get; }

    internal static uint[] Hashes(IEnumerable<string> names) => [.. names.Select(RowCodec.NameHash)];
}
