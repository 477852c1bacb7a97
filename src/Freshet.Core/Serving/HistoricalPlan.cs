using Freshet.Aggregates;
using Freshet.Expressions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Values;

namespace Freshet.Serving;

/// <summary>
/// What a training-data request asks for, as an offline engine needs it: the plain views to join point-in-time,
/// the aggregation views to compute as of each row, the request fields and on-demand features, and where each
/// value goes in a row of <see cref="ColumnCount"/> columns (join keys first, then the requested features in
/// request order, then hidden inputs of on-demand features). Made by the same planner as online serving, so a
/// reference, a service or a name clash resolves exactly as it does online.
/// </summary>
public sealed class HistoricalPlan
{
    private HistoricalPlan(OnlinePlan plan, FeatureType[] types, HistoricalViewRead[] views, HistoricalAggregationRead[] aggregations)
    {
        Online = plan;
        ColumnTypes = types;
        PlainViews = views;
        Aggregations = aggregations;
    }

    /// <summary>The online plan this one is made from.</summary>
    public OnlinePlan Online { get; }

    /// <summary>The join keys the entity rows must carry; columns 0 to <c>JoinKeys.Length - 1</c>.</summary>
    public JoinKey[] JoinKeys => Online.JoinKeys;

    /// <summary>Every column of a row: the outputs, then hidden on-demand inputs.</summary>
    public int ColumnCount => Math.Max(Online.ColumnCount, Online.FeatureNames.Length);

    /// <summary>The declared type of each column.</summary>
    public FeatureType[] ColumnTypes { get; }

    /// <summary>The requested features: output name and column, in request order (join keys excluded).</summary>
    public IEnumerable<(string Name, int Column)> Outputs =>
        Online.FeatureNames.Skip(JoinKeys.Length).Select((name, i) => (name, JoinKeys.Length + i));

    /// <summary>The plain views to join, each once.</summary>
    public HistoricalViewRead[] PlainViews { get; }

    /// <summary>The aggregation views to compute, each once.</summary>
    public HistoricalAggregationRead[] Aggregations { get; }

    /// <summary>Entity-row columns read by on-demand features (request fields).</summary>
    public RequestInput[] RequestInputs => Online.RequestInputs;

    /// <summary>On-demand features, evaluated after every other column of the row is filled.</summary>
    public OnDemandEvaluation[] OnDemand => Online.OnDemand;

    /// <summary>
    /// Resolves <paramref name="features"/> (<c>view:feature</c> references) or <paramref name="service"/> against
    /// one registry version. Unknown views, features, services and views without a batch source are
    /// <see cref="RequestException"/>s naming the reference.
    /// </summary>
    public static HistoricalPlan Build(ServingRegistry registry, IReadOnlyList<string>? features, string? service, bool fullFeatureNames)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var plan = OnlinePlanner.Build(registry, new OnlineRequest { Features = features, FeatureService = service, FullFeatureNames = fullFeatureNames });
        var columns = Math.Max(plan.ColumnCount, plan.FeatureNames.Length);
        var types = new FeatureType[columns];
        for (var k = 0; k < plan.JoinKeys.Length; k++)
        {
            types[k] = plan.JoinKeys[k].Type;
        }

        var views = new List<HistoricalViewRead>();
        foreach (var read in plan.Views)
        {
            var view = (FeatureView)registry.Index.View(read.View)!.Value.View;
            // The plan keeps row-codec hashes of the features; names come back from the view's schema.
            var byHash = view.Schema.ToDictionary(f => RowCodec.NameHash(f.Name), f => f.Name);
            var reads = new HistoricalFeatureRead[read.Outputs.Length];
            for (var i = 0; i < reads.Length; i++)
            {
                reads[i] = new HistoricalFeatureRead(byHash[read.NameHashes[i]], read.Outputs[i], read.Types[i]);
                types[read.Outputs[i]] = read.Types[i];
            }

            var source = BatchSource(registry.Index, view.Source, null)
                ?? throw new RequestException("features", "no_batch_source", $"view '{view.Name}' reads source '{view.Source}', which has no file (batch) source to read training data from");
            views.Add(new HistoricalViewRead(view, source, [.. read.KeyColumns.Select(k => plan.JoinKeys[k])], reads, read.TtlMicros));
        }

        var aggregations = new List<HistoricalAggregationRead>();
        foreach (var a in plan.Aggregations)
        {
            for (var s = 0; s < a.Slots.Length; s++)
            {
                types[a.Outputs[s]] = a.View.Aggregations[a.Slots[s]].OutputType;
            }

            var source = BatchSource(registry.Index, a.View.View.Source, a.View.View.BatchSource)
                ?? throw new RequestException("features", "no_batch_source", $"aggregation view '{a.View.View.Name}' reads source '{a.View.View.Source}', which has no batch_source (a file source with the same events) to compute training data from");
            aggregations.Add(new HistoricalAggregationRead(a.View, source, a.Slots, a.Outputs));
        }

        foreach (var input in plan.RequestInputs)
        {
            types[input.Column] = input.Type;
        }

        foreach (var odv in plan.OnDemand)
        {
            types[odv.Output] = odv.Expression.ResultType;
        }

        return new HistoricalPlan(plan, types, [.. views], [.. aggregations]);
    }

    /// <summary>
    /// Evaluates the on-demand features of one row in place, with the online rule: an input that is null (no
    /// match, an empty aggregation window, a null field) is null to the expression.
    /// </summary>
    public void EvaluateOnDemand(FeatureValue[] row)
    {
        ArgumentNullException.ThrowIfNull(row);
        foreach (var odv in OnDemand)
        {
            row[odv.Output] = odv.Expression.Evaluate(new RowInputs(row, odv));
        }
    }

    /// <summary>The file source holding a view's rows: the view's batch source, the source itself, or the source's batch source.</summary>
    private static FileSource? BatchSource(RepoIndex index, string sourceName, string? viewBatchSource)
    {
        if (viewBatchSource is not null)
        {
            return index.Source(viewBatchSource) as FileSource;
        }

        return index.Source(sourceName) switch
        {
            FileSource f => f,
            PushSource { BatchSource: { } b } => index.Source(b) as FileSource,
            KafkaSource { BatchSource: { } b } => index.Source(b) as FileSource,
            NatsSource { BatchSource: { } b } => index.Source(b) as FileSource,
            _ => null,
        };
    }

    private sealed class RowInputs(FeatureValue[] row, OnDemandEvaluation odv) : IValueSource
    {
        public FeatureValue Get(int slot)
        {
            var value = row[odv.SlotColumns[slot]];
            return value.IsNull || value.Kind == FeatureValue.KindOf(odv.SlotTypes[slot]) || ValueCoercion.TryCoerce(value, odv.SlotTypes[slot], out value, out _)
                ? value
                : FeatureValue.Null;
        }
    }
}

/// <summary>One feature of a plain view: its name in the view, its column in the row, its declared type.</summary>
public sealed record HistoricalFeatureRead(string Feature, int Column, FeatureType Type);

/// <summary>A plain view joined point-in-time: its file source, join keys, features and ttl (0 = no expiry).</summary>
public sealed record HistoricalViewRead(FeatureView View, FileSource Source, JoinKey[] Keys, HistoricalFeatureRead[] Features, long TtlMicros);

/// <summary>
/// An aggregation view computed as of each row: its compiled form, the file source with its events, and for each
/// requested aggregation its slot in <see cref="CompiledAggregationView.Aggregations"/> and its column in the row.
/// </summary>
public sealed record HistoricalAggregationRead(CompiledAggregationView View, FileSource Source, int[] Slots, int[] Columns);
