using Freshet.Expressions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Values;

namespace Freshet.Aggregates;

/// <summary>
/// An aggregation view prepared for the engine: its aggregations grouped by hop into resolutions (one tile row
/// per entity and resolution), the distinct states each resolution keeps (aggregations that differ only by
/// window share them), compiled filters, and the source columns an event carries. Built once per registry
/// version; immutable and shared by threads.
/// </summary>
public sealed class CompiledAggregationView
{
    private CompiledAggregationView(AggregationView view, JoinKey[] keys, Field[] columns, string timestampField, Resolution[] resolutions, AggregationSlot[] slots)
    {
        View = view;
        Keys = keys;
        Columns = columns;
        TimestampField = timestampField;
        Resolutions = resolutions;
        Aggregations = slots;
        MaxRetentionMicros = resolutions.Length == 0 ? 0 : resolutions.Max(r => r.RetentionMicros);
    }

    /// <summary>The definition.</summary>
    public AggregationView View { get; }

    /// <summary>The view's join keys, in entity key order.</summary>
    public JoinKey[] Keys { get; }

    /// <summary>The source columns an event carries (the source schema), by position.</summary>
    public Field[] Columns { get; }

    /// <summary>The event-time column.</summary>
    public string TimestampField { get; }

    /// <summary>The data-quality checks of the source's fields, by index into <see cref="Columns"/>; empty when none.</summary>
    public (int Column, Quality.FieldCheck Check)[] Checks { get; private init; } = [];

    /// <summary>One per distinct hop.</summary>
    public Resolution[] Resolutions { get; }

    /// <summary>One per aggregation of the view, in declaration order.</summary>
    public AggregationSlot[] Aggregations { get; }

    /// <summary>The longest retention of any resolution: an event older than now minus this is applied nowhere.</summary>
    public long MaxRetentionMicros { get; }

    /// <summary>Prepares a view; <paramref name="index"/> resolves its entities and source.</summary>
    public static CompiledAggregationView Compile(AggregationView view, RepoIndex index)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(index);
        var source = index.Source(view.Source);
        var columns = source?.Schema.ToArray() ?? [];
        var timestampField = view.TimestampField ?? source?.TimestampField ?? "event_timestamp";
        var keys = index.JoinKeys(view.Entities).ToArray();
        var lateness = Micros.Of(view.AllowedLateness);

        var byHop = new Dictionary<long, (List<StateSpec> States, long MaxWindow)>();
        var slots = new List<(long Hop, StateSpec State, Model.Aggregation Aggregation)>();
        foreach (var a in view.Aggregations)
        {
            var hop = Micros.Of(a.EffectiveHop(view.Hop));
            if (!byHop.TryGetValue(hop, out var group))
            {
                group = ([], 0);
            }

            var input = a.Column is null ? null : columns.FirstOrDefault(c => c.Name == a.Column)?.Type;
            var id = StateSpec.IdOf(a);
            var state = group.States.FirstOrDefault(s => s.Id == id);
            if (state is null)
            {
                state = new StateSpec(id, a, input, Array.FindIndex(columns, c => c.Name == a.Column), CompileFilter(a, source, columns));
                group.States.Add(state);
            }

            byHop[hop] = (group.States, Math.Max(group.MaxWindow, Micros.Of(a.Window)));
            slots.Add((hop, state, a));
        }

        var resolutions = byHop.OrderBy(p => p.Key)
            .Select((p, i) => new Resolution(i, p.Key, [.. p.Value.States], p.Value.MaxWindow + p.Key + lateness))
            .ToArray();
        var compiledSlots = slots.Select(s =>
        {
            var resolution = resolutions.First(r => r.HopMicros == s.Hop);
            return new AggregationSlot(s.Aggregation, resolution.Index, Array.IndexOf(resolution.States, s.State), Micros.Of(s.Aggregation.Window),
                AggregateFunctions.OutputType(s.Aggregation, s.State.InputType));
        }).ToArray();
        return new CompiledAggregationView(view, keys, columns, timestampField, resolutions, compiledSlots) { Checks = Quality.ViewChecks.For(view, index) };
    }

    private static CompiledExpression? CompileFilter(Model.Aggregation a, DataSource? source, Field[] columns)
    {
        if (a.Filter is not { Length: > 0 } filter || source is null)
        {
            return null;
        }

        var scope = new ExpressionScope();
        foreach (var c in columns)
        {
            scope.Add(source.Name, c.Name, c.Type);
        }

        // Apply validated the filter; a definition this version cannot compile filters nothing out loudly.
        return ExpressionCompiler.CompileOrThrow(filter, scope, FeatureType.Of(ScalarKind.Bool));
    }

    /// <summary>The store key of an entity's tile row at a resolution: the hop (so resolutions never collide), then the entity key.</summary>
    public static byte[] TileKey(Resolution resolution, ReadOnlySpan<byte> entityKey)
    {
        ArgumentNullException.ThrowIfNull(resolution);
        var key = new byte[8 + entityKey.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(key, resolution.HopMicros);
        entityKey.CopyTo(key.AsSpan(8));
        return key;
    }
}

/// <summary>The aggregations of one hop: tile size, the distinct states per tile, and how long tiles are kept.</summary>
public sealed record Resolution(int Index, long HopMicros, StateSpec[] States, long RetentionMicros);

/// <summary>
/// One state kept per tile: a function over a column with its parameters and filter. Aggregations that differ
/// only by window share it. <see cref="Id"/> names it inside tile rows, so adding or removing aggregations
/// leaves the other states readable.
/// </summary>
public sealed class StateSpec(uint id, Model.Aggregation prototype, FeatureType? inputType, int column, CompiledExpression? filter)
{
    /// <summary>A stable hash of the function, column, parameters and filter.</summary>
    public uint Id { get; } = id;

    /// <summary>An aggregation that uses the state (its window is irrelevant here).</summary>
    public Model.Aggregation Prototype { get; } = prototype;

    /// <summary>The input column's type (null for a count without a column).</summary>
    public FeatureType? InputType { get; } = inputType;

    /// <summary>The input column's position in <see cref="CompiledAggregationView.Columns"/>, or -1.</summary>
    public int Column { get; } = column;

    /// <summary>The filter, when the aggregation has one.</summary>
    public CompiledExpression? Filter { get; } = filter;

    /// <summary>A new empty state.</summary>
    public AggregateState Create() => AggregateFunctions.Create(Prototype, InputType);

    internal static uint IdOf(Model.Aggregation a) => RowCodec.NameHash(string.Join('\u001f',
        Model.Aggregation.NameOf(a.Function), a.Column ?? "", a.K?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
        a.Percentile?.ToString("R", System.Globalization.CultureInfo.InvariantCulture) ?? "", a.Filter ?? ""));
}

/// <summary>One aggregation of the view: where its state lives and its window.</summary>
public sealed record AggregationSlot(Model.Aggregation Aggregation, int Resolution, int State, long WindowMicros, FeatureType OutputType)
{
    /// <summary>The feature name.</summary>
    public string Name => Aggregation.OutputName;
}
