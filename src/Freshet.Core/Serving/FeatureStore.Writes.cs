using Freshet.Aggregates;
using Freshet.Ingestion;
using Freshet.Model;
using Freshet.Observability;
using Freshet.Online;

namespace Freshet.Serving;

/// <summary>Where pushed rows go (Feast's <c>to</c>).</summary>
public enum PushTarget
{
    /// <summary>The online store only.</summary>
    Online,
    /// <summary>The offline store only.</summary>
    Offline,
    /// <summary>Both.</summary>
    OnlineAndOffline,
}

/// <summary>Appends pushed rows to a push source's offline archive.</summary>
public interface IOfflineSink
{
    /// <summary>Appends <paramref name="rows"/> to the offline data of <paramref name="source"/>; returns the file written.</summary>
    Task<string> AppendAsync(PushSource source, ColumnTable rows, string dataDirectory, CancellationToken cancellationToken = default);
}

public sealed partial class FeatureStore
{
    /// <summary>Writes rows straight to one plain view (Feast's write-to-online-store); returns the rows that replaced stored ones.</summary>
    public async ValueTask<int> WriteToOnlineStoreAsync(string view, ColumnTable rows, CancellationToken cancellationToken = default) =>
        (await WriteToOnlineStoreCheckedAsync(view, rows, cancellationToken)).OnlineRowsApplied;

    /// <summary>
    /// Writes rows straight to one plain view (Feast's write-to-online-store). Rows that break a data-quality rule
    /// are not written; they go to the dead-letter store (source: the view's source) and are listed in the result.
    /// </summary>
    public async ValueTask<WriteToOnlineStoreResult> WriteToOnlineStoreCheckedAsync(string view, ColumnTable rows, CancellationToken cancellationToken = default)
    {
        CheckWriteSize(rows);
        var registry = Registry;
        if (registry.Index.View(view) is not { } found)
        {
            throw new RequestException("feature_view_name", "unknown_view", $"unknown feature view '{view}'");
        }

        if (found.View is not FeatureView fv)
        {
            throw new RequestException("feature_view_name", "not_writable", $"'{view}' is {ObjectKinds.Words(found.Kind)}; only plain feature views take rows");
        }

        var violations = new List<EventRejection>();
        var writes = Encoder(registry, fv).Encode(rows, violations: violations);
        IReadOnlyList<RejectedEvent> letters = [.. RejectedEvents(fv.Source, fv.Name, rows, violations)];
        int applied;
        if (letters.Count > 0 && !Online.IsShared && Options.DeadLetters is { } sink)
        {
            // The rows and the dead letters of the refused ones: one call, one durable batch where the store can.
            applied = await Online.WriteAndPutAsync(writes, sink.Prepare(letters), cancellationToken);
        }
        else
        {
            applied = writes.Count == 0 ? 0 : await Online.WriteAsync(writes, cancellationToken);
            await RecordLettersAsync(letters, cancellationToken);
        }

        return new WriteToOnlineStoreResult(rows.RowCount, applied) { Rejections = [.. violations.Select(v => new PushRejection(fv.Name, v.Row, v.Code, v.Reason))] };
    }

    /// <summary>Stores dead letters outside an aggregation batch (plain-view rule violations of a write).</summary>
    private async ValueTask RecordLettersAsync(IReadOnlyList<RejectedEvent> letters, CancellationToken cancellationToken)
    {
        if (letters.Count == 0 || Options.DeadLetters is not { } sink)
        {
            return;
        }

        if (Online.IsShared)
        {
            await sink.RecordSharedAsync(Online, letters, cancellationToken);
        }
        else
        {
            await Online.PutAsync(sink.Prepare(letters), cancellationToken);
        }
    }

    /// <summary>
    /// Pushes rows to a push source: online, to every online view that reads it; offline, to the source's
    /// archive through <see cref="FeatureStoreOptions.OfflineSink"/>. Rows pushed to a Kafka or NATS source are
    /// applied online as if they had arrived on the stream (tests, replays of dead letters, backfills). Every view's rows are checked before any
    /// is written, so a bad row rejects the whole push.
    /// </summary>
    public async ValueTask<PushResult> PushAsync(string pushSource, ColumnTable rows, PushTarget to, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        using var activity = FreshetTelemetry.ActivitySource.StartActivity("freshet.push");
        activity?.SetTag("freshet.source", pushSource);
        activity?.SetTag("freshet.rows", rows.RowCount);
        CheckWriteSize(rows);
        if (rows.Column(IdempotencyKeyColumn) is null)
        {
            return await PushOnceAsync(pushSource, rows, to, null, cancellationToken);
        }

        // Rows with an idempotency key seen for this source within the idempotency window are skipped; the new
        // keys are stored in the same atomic batch as the tiles they fed. Idempotent pushes are serialized so two
        // cannot both miss a key.
        await _idempotency.WaitAsync(cancellationToken);
        try
        {
            var (fresh, keyPuts, claims) = Online.IsShared
                ? await ClaimIdempotentRowsAsync(pushSource, rows, cancellationToken)
                : await FreshIdempotentRowsAsync(pushSource, rows, cancellationToken);
            PushResult result;
            try
            {
                result = await PushOnceAsync(pushSource, rows.Select(fresh), to, keyPuts, cancellationToken);
            }
            catch when (claims is { Count: > 0 })
            {
                await ReleaseClaimsAsync(claims);
                throw;
            }

            await CollectExpiredKeysIfDueAsync(rows.RowCount);
            return result with
            {
                Rows = rows.RowCount,
                DuplicatesSkipped = rows.RowCount - fresh.Count,
                Rejections = [.. result.Rejections.Select(r => r with { Row = fresh[r.Row] })],
            };
        }
        finally
        {
            _idempotency.Release();
        }
    }

    private async ValueTask<PushResult> PushOnceAsync(string pushSource, ColumnTable rows, PushTarget to, List<OnlinePut>? keyPuts, CancellationToken cancellationToken)
    {
        var registry = Registry;
        var source = registry.Index.Source(pushSource);
        if (source is not (PushSource or KafkaSource or NatsSource))
        {
            throw new RequestException("push_source_name", "unknown_push_source", source is null
                ? $"unknown push source '{pushSource}'"
                : $"'{pushSource}' is a {DataSource.KindName(source.Kind)} source; push goes to push, kafka and nats sources");
        }

        var views = registry.Index.Repo.FeatureViews.Where(v => v.Source == pushSource && v.Online).ToList();
        var writes = new List<OnlineWrite>();

        // Rows that break a view's data-quality rule are not applied to that view; they are dead letters and row
        // errors of the result, like events too late (docs/quality.md#rules).
        var ruleRejections = new List<PushRejection>();
        var ruleLetters = new List<RejectedEvent>();
        foreach (var view in views)
        {
            var violations = new List<EventRejection>();
            writes.AddRange(Encoder(registry, view).Encode(rows, violations: violations));
            AddRuleViolations(pushSource, view.Name, rows, violations, ruleRejections, ruleLetters);
        }

        // Aggregation views fed by this source: a row that cannot be used is refused with the whole push (400),
        // as for plain views; events too late or too far in the future go to the dead-letter store.
        var aggregationViews = registry.Index.Repo.AggregationViews.Where(v => v.Source == pushSource && v.Online)
            .Select(v => registry.Aggregation(v))
            .Select(c => (View: c.View, Compiled: c, Converted: AggregationEngine.ToEvents(c, rows, rejectBadRows: false)))
            .Select(c => (c.View, c.Compiled, Events: (IReadOnlyList<AggregationEvent>)c.Converted.Events, Violations: c.Converted.Rejected))
            .ToList();
        foreach (var a in aggregationViews)
        {
            AddRuleViolations(pushSource, a.View.Name, rows, a.Violations, ruleRejections, ruleLetters);
        }

        // Events before a view's backfill cut-over are in its tiles already (lambda, DESIGN §3): skipped, counted.
        var skipped = 0;
        var skippedPerView = new int[aggregationViews.Count];
        for (var i = 0; i < aggregationViews.Count; i++)
        {
            var (after, before) = await Engine.SkipBeforeCutOverAsync(aggregationViews[i].Compiled, aggregationViews[i].Events, cancellationToken);
            aggregationViews[i] = aggregationViews[i] with { Events = after };
            skipped += before;
            skippedPerView[i] = before;
        }

        string? offlineFile = null;
        if (to is PushTarget.Offline or PushTarget.OnlineAndOffline)
        {
            if (Options.OfflineSink is not { } sink)
            {
                throw new RequestException("to", "offline_unavailable", "pushing to the offline store is not available in this server");
            }

            if (source is not PushSource push)
            {
                throw new RequestException("to", "offline_unavailable", $"'{pushSource}' is a stream source: its events are archived by its batch source, not by push; use to = online");
            }

            offlineFile = await sink.AppendAsync(push, rows, Path.Combine(RepoDirectory, Config.DataDirectory), cancellationToken);
        }

        var applied = 0;
        var aggregated = 0;
        var rejections = new List<PushRejection>();
        if (to is PushTarget.Online or PushTarget.OnlineAndOffline)
        {
            // The plain rows, all views' tiles, their dead letters and the idempotency keys: one atomic batch on
            // an embedded store (one fsync on RocksDB). On a shared store the plain rows are written first, then
            // the tiles are compare-and-set, then the keys are put, then the letters are created.
            var shared = Online.IsShared;
            var letters = new List<RejectedEvent>();
            var result = await Engine.WriteAndApplyAsync(
                writes,
                [.. aggregationViews.Select(a => (a.Compiled, a.Events))],
                perView =>
                {
                    var puts = new List<OnlinePut>(keyPuts ?? []);
                    rejections.Clear();
                    letters.Clear();
                    rejections.AddRange(ruleRejections);
                    letters.AddRange(ruleLetters);
                    for (var v = 0; v < perView.Count; v++)
                    {
                        letters.AddRange(RejectedEvents(pushSource, aggregationViews[v].View.Name, rows, perView[v]));
                        rejections.AddRange(perView[v].Select(r => new PushRejection(aggregationViews[v].View.Name, r.Row, r.Code, r.Reason)));
                    }

                    if (!shared && letters.Count > 0 && Options.DeadLetters is { } sink)
                    {
                        puts.AddRange(sink.Prepare(letters));
                    }

                    return puts;
                },
                cancellationToken);
            applied = result.RowsWritten;
            aggregated = result.Applied;
            if (shared && letters.Count > 0 && Options.DeadLetters is { } sharedSink)
            {
                await sharedSink.RecordSharedAsync(Online, letters, cancellationToken);
            }

            if (IngestMetrics.Enabled)
            {
                RecordPushMetrics(views, writes, [.. aggregationViews.Select(a => (a.View.Name, a.Events.Count))], skippedPerView, rejections, letters);
            }
        }
        else if (keyPuts is { Count: > 0 })
        {
            await Online.PutAsync(keyPuts, cancellationToken);
        }

        return new PushResult(rows.RowCount, [.. views.Select(v => v.Name), .. aggregationViews.Select(a => a.View.Name)], applied, offlineFile)
        {
            EventsAggregated = aggregated,
            EventsRejected = rejections.Count,
            Rejections = rejections,
            EventsSkippedBeforeCutOver = skipped,
        };
    }

    private static void RecordPushMetrics(List<FeatureView> views, List<OnlineWrite> writes, List<(string Name, int Events)> aggregationViews, int[] skipped, List<PushRejection> rejections, List<RejectedEvent> letters)
    {
        foreach (var view in views)
        {
            var count = 0;
            foreach (var w in writes)
            {
                count += w.View == view.Name ? 1 : 0;
            }

            IngestMetrics.Events(view.Name, IngestMetrics.Push, "applied", count);
        }

        IngestMetrics.DeadLetters(letters, IngestMetrics.Push);
        for (var v = 0; v < aggregationViews.Count; v++)
        {
            var (name, events) = aggregationViews[v];
            var rejected = 0;
            foreach (var r in rejections)
            {
                rejected += r.View == name ? 1 : 0;
            }

            IngestMetrics.Events(name, IngestMetrics.Push, "applied", events - rejected);
            IngestMetrics.Events(name, IngestMetrics.Push, "rejected", rejected);
            IngestMetrics.Events(name, IngestMetrics.Push, "skipped", skipped[v]);
        }
    }

    private void AddRuleViolations(string source, string view, ColumnTable rows, IReadOnlyList<EventRejection> violations, List<PushRejection> rejections, List<RejectedEvent> letters)
    {
        if (violations.Count == 0)
        {
            return;
        }

        rejections.AddRange(violations.Select(r => new PushRejection(view, r.Row, r.Code, r.Reason)));
        letters.AddRange(RejectedEvents(source, view, rows, violations));
    }

    /// <summary>The rejected pushed rows as dead letters (each row's payload as a JSON object), when a dead-letter store is set.</summary>
    private IEnumerable<RejectedEvent> RejectedEvents(string source, string view, ColumnTable rows, IReadOnlyList<EventRejection> rejections)
    {
        if (rejections.Count == 0 || Options.DeadLetters is null)
        {
            return [];
        }

        return rejections.Select(r => new RejectedEvent(source, r.Code, r.Reason, RowJson.Write(rows, r.Row), view));
    }

    /// <summary>The optional push column that makes a row idempotent: a row whose key was pushed before is skipped.</summary>
    public const string IdempotencyKeyColumn = "idempotency_key";

    /// <summary>The namespace of stored idempotency keys.</summary>
    public const string IdempotencyNamespace = "__idempotency";

    private void CheckWriteSize(ColumnTable rows)
    {
        if (rows.RowCount > Options.MaxWriteRows)
        {
            throw new RequestException("df", "too_many_rows", $"{rows.RowCount} rows; at most {Options.MaxWriteRows} per request", 413);
        }
    }

    private static ViewRowEncoder Encoder(ServingRegistry registry, FeatureView view) =>
        new(view, registry.Index.JoinKeys(view.Entities), registry.Index.Source(view.Source), registry.Checks(view));
}

/// <summary>What a push did.</summary>
public sealed record PushResult(int Rows, IReadOnlyList<string> Views, int OnlineRowsApplied, string? OfflineFile)
{
    /// <summary>Rows skipped because their idempotency key was pushed within the idempotency window (or twice in the request).</summary>
    public int DuplicatesSkipped { get; init; }

    /// <summary>Events applied to the tiles of aggregation views (an event counts once per view).</summary>
    public int EventsAggregated { get; init; }

    /// <summary>Events an aggregation view skipped because they are before its backfill cut-over (counted once per view).</summary>
    public int EventsSkippedBeforeCutOver { get; init; }

    /// <summary>Events not applied (too late, too far in the future, breaking a data-quality rule), recorded in the dead-letter store.</summary>
    public int EventsRejected { get; init; }

    /// <summary>The events not applied, per view: the row of the push, the code and the reason.</summary>
    public IReadOnlyList<PushRejection> Rejections { get; init; } = [];
}

/// <summary>A pushed row that a view did not apply (<c>too_late</c>, <c>too_far_in_future</c>, <c>rule_violation</c>).</summary>
public sealed record PushRejection(string View, int Row, string Code, string Reason);

/// <summary>What a write-to-online-store did: the rows given, those that replaced stored ones, and those refused by a data-quality rule.</summary>
public sealed record WriteToOnlineStoreResult(int Rows, int OnlineRowsApplied)
{
    /// <summary>The rows not written because they break a data-quality rule (also in the dead-letter store).</summary>
    public IReadOnlyList<PushRejection> Rejections { get; init; } = [];
}
