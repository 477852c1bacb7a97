using System.Buffers;
using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Observability;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Values;

namespace Freshet.Serving;

/// <summary>
/// The in-process API of Freshet: online reads and writes with the semantics of DESIGN §3, over an online
/// store and a registry. The HTTP and gRPC servers are thin layers over this class.
/// </summary>
public sealed partial class FeatureStore : IAsyncDisposable
{
    private readonly IRegistryStore _registryStore;
    private readonly TimeProvider _clock;
    private readonly bool _ownsOnlineStore;
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private readonly SemaphoreSlim _idempotency = new(1, 1);
    private ServingRegistry _registry;

    private FeatureStore(IRegistryStore registryStore, IOnlineStore online, RepoConfig config, string repoDirectory, ServingRegistry registry, FeatureStoreOptions options)
    {
        _registryStore = registryStore;
        Online = online;
        Config = config;
        RepoDirectory = repoDirectory;
        _registry = registry;
        Options = options;
        _clock = options.Clock ?? TimeProvider.System;
        _ownsOnlineStore = options.OwnsOnlineStore;
        Engine = new AggregationEngine(online, _clock, options.Aggregation);
    }

    /// <summary>The streaming aggregation engine over this store's online store and clock.</summary>
    public AggregationEngine Engine { get; }

    /// <summary>Opens a feature store over a registry and an online store.</summary>
    public static async Task<FeatureStore> OpenAsync(IRegistryStore registry, IOnlineStore online, RepoConfig config, string repoDirectory, FeatureStoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(online);
        var state = await registry.LoadAsync(cancellationToken) ?? RegistryState.Empty(config.Project);
        return new FeatureStore(registry, online, config, repoDirectory, new ServingRegistry(state, config), options ?? new FeatureStoreOptions());
    }

    /// <summary>The online store.</summary>
    public IOnlineStore Online { get; }

    /// <summary>The repo settings.</summary>
    public RepoConfig Config { get; }

    /// <summary>The repo directory (file source paths are relative to it).</summary>
    public string RepoDirectory { get; }

    /// <summary>Limits and the clock.</summary>
    public FeatureStoreOptions Options { get; }

    /// <summary>The registry version being served.</summary>
    public ServingRegistry Registry => Volatile.Read(ref _registry);

    /// <summary>The current time, from the configured clock.</summary>
    public DateTimeOffset Now => _clock.GetUtcNow();

    /// <summary>
    /// Reloads the registry when it changed (an apply elsewhere); plans of the old version are dropped with it.
    /// Returns true when a new version was loaded.
    /// </summary>
    public async ValueTask<bool> RefreshAsync(CancellationToken cancellationToken = default)
    {
        await _refreshLock.WaitAsync(cancellationToken);
        try
        {
            var state = await _registryStore.LoadAsync(cancellationToken);
            if (state is null || state.Version == Registry.Version)
            {
                return false;
            }

            var previous = Registry;
            var next = new ServingRegistry(state, Config);
            Volatile.Write(ref _registry, next);

            // A view deleted from the registry takes its online data with it (DESIGN: apply removes the data of
            // deleted views); the host that owns the online store does it as it follows the registry.
            foreach (var name in previous.Index.ViewNames)
            {
                if (previous.Index.View(name) is { Kind: ObjectKind.FeatureView or ObjectKind.AggregationView } && next.Index.View(name) is null)
                {
                    await AggregationEngine.DeleteViewDataAsync(Online, name, cancellationToken);
                    Engine.ForgetCachedViewState(name);
                }
            }

            return true;
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    /// <summary>
    /// Reads features for entity rows: one store round trip for all views of the request. Statuses per
    /// DESIGN §3: PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE (older than the view's ttl; no value served).
    /// </summary>
    public async ValueTask<OnlineResponse> GetOnlineFeaturesAsync(OnlineRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var activity = FreshetTelemetry.ActivitySource.StartActivity("freshet.get_online_features");
        var registry = Registry;
        var plan = registry.GetPlan(request);
        var rows = CheckEntities(plan, request);
        activity?.SetTag("freshet.entity_rows", rows);
        activity?.SetTag("freshet.registry_version", registry.Version);
        var keyColumns = CoerceJoinKeys(plan, request, rows);

        var columns = new FeatureColumn[Math.Max(plan.ColumnCount, plan.FeatureNames.Length)];
        for (var c = 0; c < columns.Length; c++)
        {
            columns[c] = new FeatureColumn(rows);
        }

        for (var k = 0; k < plan.JoinKeys.Length; k++)
        {
            keyColumns[k].CopyTo(columns[k].Values, 0);
            Array.Fill(columns[k].Statuses, FieldStatus.Present);
        }

        var aggregationKeys = 0;
        foreach (var a in plan.Aggregations)
        {
            aggregationKeys += a.Resolutions.Length * rows;
        }

        var keys = new OnlineKey[(plan.Views.Length * rows) + aggregationKeys];
        var keyValues = new FeatureValue[plan.JoinKeys.Length];
        for (var v = 0; v < plan.Views.Length; v++)
        {
            var read = plan.Views[v];
            for (var r = 0; r < rows; r++)
            {
                for (var k = 0; k < read.KeyColumns.Length; k++)
                {
                    keyValues[k] = keyColumns[read.KeyColumns[k]][r];
                }

                keys[(v * rows) + r] = new OnlineKey(read.View, EntityKeyCodec.Encode(keyValues.AsSpan(0, read.KeyColumns.Length)));
            }
        }

        // Tile rows of aggregation views: one key per entity and resolution, in the same round trip.
        var at = plan.Views.Length * rows;
        foreach (var a in plan.Aggregations)
        {
            for (var r = 0; r < rows; r++)
            {
                for (var k = 0; k < a.KeyColumns.Length; k++)
                {
                    keyValues[k] = keyColumns[a.KeyColumns[k]][r];
                }

                var entityKey = EntityKeyCodec.Encode(keyValues.AsSpan(0, a.KeyColumns.Length));
                for (var i = 0; i < a.Resolutions.Length; i++)
                {
                    keys[at + (i * rows) + r] = new OnlineKey(a.View.View.Name, CompiledAggregationView.TileKey(a.View.Resolutions[a.Resolutions[i]], entityKey));
                }
            }

            at += a.Resolutions.Length * rows;
        }

        var stored = new byte[]?[keys.Length];
        if (keys.Length > 0)
        {
            await Online.ReadAsync(keys, stored, cancellationToken);
        }

        var now = Micros.From(Now);
        FillColumns(plan, rows, stored, columns, now);
        if (plan.Aggregations.Length > 0)
        {
            FillAggregations(plan, rows, stored, columns, now);
        }
        if (plan.OnDemand.Length > 0)
        {
            FillRequestInputs(plan, request, rows, columns);
            EvaluateOnDemand(plan, rows, columns);
        }

        if (columns.Length > plan.FeatureNames.Length)
        {
            columns = columns[..plan.FeatureNames.Length];
        }

        var response = new OnlineResponse(plan.FeatureNames, columns, plan.RegistryVersion);
        Options.ServedLog?.Record(request, response, plan.JoinKeys.Length);
        return response;
    }

    /// <summary>
    /// How fresh each aggregation view is (newest event applied, when, and the lag), from the store, so it covers
    /// events applied by any process (a server, a separate <c>freshet ingest</c>). Views never fed are left out.
    /// </summary>
    public async ValueTask<IReadOnlyList<Freshness>> GetFreshnessAsync(CancellationToken cancellationToken = default)
    {
        var views = Registry.Index.Repo.AggregationViews.Select(v => v.Name).ToArray();
        var keys = views.Select(v => new OnlineKey(AggregationEngine.FreshnessNamespace, System.Text.Encoding.UTF8.GetBytes(v))).ToArray();
        var rows = new byte[]?[keys.Length];
        if (keys.Length > 0)
        {
            await Online.ReadAsync(keys, rows, cancellationToken);
        }

        return [.. views.Select((v, i) => Freshness.Decode(v, rows[i])).OfType<Freshness>()];
    }

    /// <summary>
    /// Evaluates each requested aggregation at <paramref name="now"/> from its entity's tile row: NOT_FOUND when
    /// the entity has no tiles, NULL_VALUE when the window holds nothing (counts are 0 then), else PRESENT, with
    /// the newest event time of the merged tiles.
    /// </summary>
    private static void FillAggregations(OnlinePlan plan, int rows, byte[]?[] stored, FeatureColumn[] columns, long now)
    {
        var at = plan.Views.Length * rows;
        foreach (var a in plan.Aggregations)
        {
            for (var s = 0; s < a.Slots.Length; s++)
            {
                var slot = a.View.Aggregations[a.Slots[s]];
                var accumulator = a.View.Resolutions[slot.Resolution].States[slot.State].Create();
                var block = Array.IndexOf(a.Resolutions, slot.Resolution);
                var column = columns[a.Outputs[s]];
                for (var r = 0; r < rows; r++)
                {
                    var row = stored[at + (block * rows) + r];
                    if (row is null)
                    {
                        column.Statuses[r] = FieldStatus.NotFound;
                        continue;
                    }

                    var (value, eventMicros) = AggregationEngine.Evaluate(a.View, slot, row, now, accumulator);
                    column.Values[r] = value;
                    column.EventMicros[r] = eventMicros;
                    column.Statuses[r] = value.IsNull ? FieldStatus.NullValue : FieldStatus.Present;
                }
            }

            at += a.Resolutions.Length * rows;
        }
    }

    /// <summary>Coerces the request fields that on-demand features read into their (hidden) columns.</summary>
    private static void FillRequestInputs(OnlinePlan plan, OnlineRequest request, int rows, FeatureColumn[] columns)
    {
        foreach (var input in plan.RequestInputs)
        {
            var values = request.Entities[input.Name];
            var column = columns[input.Column];
            for (var r = 0; r < rows; r++)
            {
                if (!ValueCoercion.TryCoerce(values[r], input.Type, out column.Values[r], out var error))
                {
                    throw new RequestException($"entities.{input.Name}[{r}]", "wrong_type", $"request field '{input.Name}' row {r}: {error}");
                }

                column.Statuses[r] = column.Values[r].IsNull ? FieldStatus.NullValue : FieldStatus.Present;
            }
        }
    }

    /// <summary>
    /// Evaluates on-demand features row by row over the columns already filled. An input that is not present
    /// (not found, expired, null) is null to the expression; a null result is served as NULL_VALUE.
    /// </summary>
    private static void EvaluateOnDemand(OnlinePlan plan, int rows, FeatureColumn[] columns)
    {
        foreach (var odv in plan.OnDemand)
        {
            var inputs = new RowInputs(columns, odv);
            var output = columns[odv.Output];
            for (var r = 0; r < rows; r++)
            {
                inputs.Row = r;
                var value = odv.Expression.Evaluate(inputs);
                output.Values[r] = value;
                output.Statuses[r] = value.IsNull ? FieldStatus.NullValue : FieldStatus.Present;
            }
        }
    }

    /// <summary>The inputs of one on-demand feature at one row, read from the request's columns.</summary>
    private sealed class RowInputs(FeatureColumn[] columns, OnDemandEvaluation odv) : Expressions.IValueSource
    {
        public int Row { get; set; }

        public FeatureValue Get(int slot)
        {
            var column = columns[odv.SlotColumns[slot]];
            if (column.Statuses[Row] != FieldStatus.Present)
            {
                return FeatureValue.Null;
            }

            // A stored row written under an older definition may hold another kind: such a value is no input.
            var value = column.Values[Row];
            return value.Kind == FeatureValue.KindOf(odv.SlotTypes[slot]) || ValueCoercion.TryCoerce(value, odv.SlotTypes[slot], out value, out _)
                ? value
                : FeatureValue.Null;
        }
    }

    private static void FillColumns(OnlinePlan plan, int rows, byte[]?[] stored, FeatureColumn[] columns, long now)
    {
        var maxFeatures = 0;
        foreach (var read in plan.Views)
        {
            maxFeatures = Math.Max(maxFeatures, read.NameHashes.Length);
        }

        // Scratch for one decoded row, sized by the widest view: pooled and on the stack rather than allocated
        // per request. Cleared on return: decoded strings and bytes point into row buffers.
        var values = ArrayPool<FeatureValue>.Shared.Rent(maxFeatures);
        var found = maxFeatures <= 256 ? stackalloc bool[maxFeatures] : new bool[maxFeatures];
        try
        {
            FillColumns(plan, rows, stored, columns, now, values, found);
        }
        finally
        {
            ArrayPool<FeatureValue>.Shared.Return(values, clearArray: true);
        }
    }

    private static void FillColumns(OnlinePlan plan, int rows, byte[]?[] stored, FeatureColumn[] columns, long now, Span<FeatureValue> values, Span<bool> found)
    {
        for (var v = 0; v < plan.Views.Length; v++)
        {
            var read = plan.Views[v];
            var n = read.NameHashes.Length;
            for (var r = 0; r < rows; r++)
            {
                var row = stored[(v * rows) + r];
                if (row is null)
                {
                    for (var f = 0; f < n; f++)
                    {
                        columns[read.Outputs[f]].Statuses[r] = FieldStatus.NotFound;
                    }

                    continue;
                }

                var eventMicros = RowCodec.EventMicros(row);
                var expired = read.TtlMicros > 0 && now - eventMicros > read.TtlMicros;
                RowCodec.Read(row, read.NameHashes, values, found);
                for (var f = 0; f < n; f++)
                {
                    var column = columns[read.Outputs[f]];
                    column.EventMicros[r] = eventMicros;
                    if (!found[f])
                    {
                        column.Statuses[r] = FieldStatus.NotFound;
                    }
                    else if (expired)
                    {
                        column.Statuses[r] = FieldStatus.OutsideMaxAge;
                    }
                    else if (values[f].IsNull)
                    {
                        column.Statuses[r] = FieldStatus.NullValue;
                    }
                    else
                    {
                        column.Values[r] = values[f];
                        column.Statuses[r] = FieldStatus.Present;
                    }
                }
            }
        }
    }

    private int CheckEntities(OnlinePlan plan, OnlineRequest request)
    {
        var rows = -1;
        string? first = null;
        foreach (var (name, values) in request.Entities)
        {
            if (rows >= 0 && values.Length != rows)
            {
                throw new RequestException($"entities.{name}", "mismatched_lengths", $"entity column '{name}' has {values.Length} values but '{first}' has {rows}; all columns must have the same length");
            }

            rows = values.Length;
            first ??= name;
        }

        foreach (var key in plan.JoinKeys)
        {
            if (!request.Entities.ContainsKey(key.Name))
            {
                throw new RequestException("entities", "missing_join_key", $"missing join key '{key.Name}' ({key.Type}), needed by the requested features");
            }
        }

        foreach (var input in plan.RequestInputs)
        {
            if (!request.Entities.ContainsKey(input.Name))
            {
                throw new RequestException("entities", "missing_request_field", $"missing request field '{input.Name}' ({input.Type}), read by a requested on-demand feature; pass it inside 'entities'");
            }
        }

        rows = Math.Max(rows, 0);
        if (rows > Options.MaxEntityRows)
        {
            throw new RequestException("entities", "too_many_rows", $"{rows} entity rows; at most {Options.MaxEntityRows} per request", 413);
        }

        return rows;
    }

    private static FeatureValue[][] CoerceJoinKeys(OnlinePlan plan, OnlineRequest request, int rows)
    {
        var result = new FeatureValue[plan.JoinKeys.Length][];
        for (var k = 0; k < plan.JoinKeys.Length; k++)
        {
            var key = plan.JoinKeys[k];
            var input = request.Entities[key.Name];
            var output = new FeatureValue[rows];
            for (var r = 0; r < rows; r++)
            {
                if (input[r].IsNull)
                {
                    throw new RequestException($"entities.{key.Name}[{r}]", "null_join_key", $"join key '{key.Name}' is null in row {r}");
                }

                if (!ValueCoercion.TryCoerce(input[r], key.Type, out output[r], out var error))
                {
                    throw new RequestException($"entities.{key.Name}[{r}]", "wrong_type", $"join key '{key.Name}' row {r}: {error}");
                }
            }

            result[k] = output;
        }

        return result;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_ownsOnlineStore)
        {
            await Online.DisposeAsync();
        }

        _refreshLock.Dispose();
    }
}

/// <summary>Limits and the clock of a <see cref="FeatureStore"/>.</summary>
public sealed record FeatureStoreOptions
{
    /// <summary>The most entity rows one read may ask for (more gives 413).</summary>
    public int MaxEntityRows { get; init; } = 10_000;

    /// <summary>The most rows one push or write may carry (more gives 413).</summary>
    public int MaxWriteRows { get; init; } = 100_000;

    /// <summary>Rows per batch read from a batch source and written online during materialization.</summary>
    public int MaterializeBatchSize { get; init; } = 10_000;

    /// <summary>Settings of the streaming aggregation engine (future tolerance).</summary>
    public AggregationEngineOptions? Aggregation { get; init; }

    /// <summary>
    /// Where rejected events go (too late, too far in the future, unusable in a stream) with their reason;
    /// when null, rejections are only counted in results.
    /// </summary>
    public Ingestion.IDeadLetterSink? DeadLetters { get; init; }

    /// <summary>The clock (tests inject one); the system clock when null.</summary>
    public TimeProvider? Clock { get; init; }

    /// <summary>Where offline pushes go; null when this host has no offline store.</summary>
    public IOfflineSink? OfflineSink { get; init; }

    /// <summary>Reads batch sources for materialization; null when this host has no offline engine.</summary>
    public IOfflineSource? OfflineSource { get; init; }

    /// <summary>Where served responses are offered for sampled logging (docs/quality.md); null: none are.</summary>
    public IServedFeatureLog? ServedLog { get; init; }

    /// <summary>Whether disposing the feature store disposes the online store.</summary>
    public bool OwnsOnlineStore { get; init; } = true;

    /// <summary>
    /// On a shared store, how long an idempotency key claimed by a push stays claimed before the push is applied
    /// (docs/scale-out.md): a retry within it is a duplicate; after it the server that claimed the key is taken
    /// for dead and a retry claims the key again and applies the row.
    /// </summary>
    public TimeSpan IdempotencyClaimTimeout { get; init; } = TimeSpan.FromMinutes(2);
}
