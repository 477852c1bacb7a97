using System.Diagnostics;
using System.Runtime.CompilerServices;
using Freshet.Online;

namespace Freshet.Observability;

/// <summary>
/// Times every call of one tier of the online store (docs/observability.md): a histogram per tier, store and
/// operation, an error counter, and a span per call when someone listens. Everything else passes through to the
/// inner store unchanged (<see cref="IOnlineStore.IsShared"/>, state rows, compare-and-set, scans), so the store
/// behaves exactly as the one it wraps; <see cref="Wrap"/> keeps <see cref="IOnlineStoreStats"/> when the inner
/// store has it. The wrapper owns the inner store and disposes it.
/// </summary>
public class InstrumentedOnlineStore : IOnlineStore
{
    private readonly TagList _read;
    private readonly TagList _write;
    private readonly TagList _put;
    private readonly TagList _writePut;
    private readonly TagList _swap;
    private readonly TagList _deleteView;
    private readonly TagList _scan;

    /// <summary>Wraps <paramref name="inner"/> as tier <paramref name="tier"/>; use <see cref="Wrap"/>, which keeps the statistics interface.</summary>
    protected InstrumentedOnlineStore(IOnlineStore inner, string tier)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentException.ThrowIfNullOrEmpty(tier);
        Inner = inner;
        Tier = tier;
        StoreName = NameOf(inner);

        // The tags are built once: recording a measurement allocates nothing.
        _read = Tags("read");
        _write = Tags("write");
        _put = Tags("put");
        _writePut = Tags("write_put");
        _swap = Tags("swap");
        _deleteView = Tags("delete_view");
        _scan = Tags("scan");
    }

    /// <summary>Wraps <paramref name="inner"/> as tier <paramref name="tier"/> (l1, l2, l3), keeping <see cref="IOnlineStoreStats"/> if it has it.</summary>
    public static InstrumentedOnlineStore Wrap(IOnlineStore inner, string tier) =>
        inner is IOnlineStoreStats ? new WithStats(inner, tier) : new InstrumentedOnlineStore(inner, tier);

    /// <summary>The type name of a store, seen through wrappers: what statistics and metrics call it.</summary>
    public static string NameOf(IOnlineStore store) => store is InstrumentedOnlineStore i ? i.StoreName : store.GetType().Name;

    /// <summary>The wrapped store.</summary>
    public IOnlineStore Inner { get; }

    /// <summary>The tier label: l1 (cache), l2 (the online store), l3 (its durable tier).</summary>
    public string Tier { get; }

    /// <summary>The wrapped store's type name.</summary>
    public string StoreName { get; }

    /// <inheritdoc />
    public bool IsShared => Inner.IsShared;

    /// <inheritdoc />
    public async ValueTask<int> WriteAsync(IReadOnlyList<OnlineWrite> writes, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        using var activity = Start("freshet.online_store.write", writes.Count);
        try
        {
            return await Inner.WriteAsync(writes, cancellationToken);
        }
        catch (Exception e)
        {
            Fail(activity, e, _write);
            throw;
        }
        finally
        {
            FreshetTelemetry.StoreDuration.Record(FreshetTelemetry.Seconds(start), _write);
        }
    }

    /// <inheritdoc />
    public async ValueTask ReadAsync(IReadOnlyList<OnlineKey> keys, byte[]?[] rows, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        using var activity = Start("freshet.online_store.read", keys.Count);
        try
        {
            await Inner.ReadAsync(keys, rows, cancellationToken);
        }
        catch (Exception e)
        {
            Fail(activity, e, _read);
            throw;
        }
        finally
        {
            FreshetTelemetry.StoreDuration.Record(FreshetTelemetry.Seconds(start), _read);
        }
    }

    /// <inheritdoc />
    public async ValueTask<long> DeleteViewAsync(string view, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        using var activity = Start("freshet.online_store.delete_view", 1);
        try
        {
            return await Inner.DeleteViewAsync(view, cancellationToken);
        }
        catch (Exception e)
        {
            Fail(activity, e, _deleteView);
            throw;
        }
        finally
        {
            FreshetTelemetry.StoreDuration.Record(FreshetTelemetry.Seconds(start), _deleteView);
        }
    }

    /// <inheritdoc />
    public async ValueTask PutAsync(IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        using var activity = Start("freshet.online_store.put", puts.Count);
        try
        {
            await Inner.PutAsync(puts, cancellationToken);
        }
        catch (Exception e)
        {
            Fail(activity, e, _put);
            throw;
        }
        finally
        {
            FreshetTelemetry.StoreDuration.Record(FreshetTelemetry.Seconds(start), _put);
        }
    }

    /// <inheritdoc />
    /// <remarks>Timed as one call (operation <c>write_put</c>): the inner store may commit both in one batch.</remarks>
    public async ValueTask<int> WriteAndPutAsync(IReadOnlyList<OnlineWrite> writes, IReadOnlyList<OnlinePut> puts, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        using var activity = Start("freshet.online_store.write_put", writes.Count + puts.Count);
        try
        {
            return await Inner.WriteAndPutAsync(writes, puts, cancellationToken);
        }
        catch (Exception e)
        {
            Fail(activity, e, _writePut);
            throw;
        }
        finally
        {
            FreshetTelemetry.StoreDuration.Record(FreshetTelemetry.Seconds(start), _writePut);
        }
    }

    /// <inheritdoc />
    public async ValueTask SwapAsync(IReadOnlyList<OnlineSwap> swaps, bool[] applied, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        using var activity = Start("freshet.online_store.swap", swaps.Count);
        try
        {
            await Inner.SwapAsync(swaps, applied, cancellationToken);
        }
        catch (Exception e)
        {
            Fail(activity, e, _swap);
            throw;
        }
        finally
        {
            FreshetTelemetry.StoreDuration.Record(FreshetTelemetry.Seconds(start), _swap);
        }
    }

    /// <summary>A scan is timed from its start to its last row (or its failure); it has no span of its own.</summary>
    public async IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(string @namespace, byte[] prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        var ok = false;
        try
        {
            await foreach (var row in Inner.ScanAsync(@namespace, prefix, cancellationToken))
            {
                yield return row;
            }

            ok = true;
        }
        finally
        {
            FreshetTelemetry.StoreDuration.Record(FreshetTelemetry.Seconds(start), _scan);
            if (!ok)
            {
                FreshetTelemetry.StoreErrors.Add(1, _scan);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Inner.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    private TagList Tags(string operation) => new()
    {
        { "tier", Tier },
        { "store", StoreName },
        { "operation", operation },
    };

    private Activity? Start(string name, int count)
    {
        var activity = FreshetTelemetry.ActivitySource.StartActivity(name, ActivityKind.Client);
        if (activity is not null)
        {
            activity.SetTag("freshet.tier", Tier);
            activity.SetTag("freshet.store", StoreName);
            activity.SetTag("freshet.items", count);
        }

        return activity;
    }

    private static void Fail(Activity? activity, Exception e, in TagList tags)
    {
        FreshetTelemetry.StoreErrors.Add(1, tags);
        activity?.SetStatus(ActivityStatusCode.Error, e.Message);
    }

    /// <summary>The wrapper of a layered store: its per-tier read statistics pass through.</summary>
    private sealed class WithStats(IOnlineStore inner, string tier) : InstrumentedOnlineStore(inner, tier), IOnlineStoreStats
    {
        public IReadOnlyList<OnlineTierStats> GetTierStats() => ((IOnlineStoreStats)Inner).GetTierStats();
    }
}
