using Freshet.Model;
using Freshet.Quality;
using Freshet.Registry;

namespace Freshet.Serving;

/// <summary>
/// Progress of a materialization of one view, reported when it starts and after each batch; <see cref="Total"/>
/// is the number of rows the view will get, when the offline engine can tell.
/// </summary>
public sealed record MaterializeProgress(string View, long Rows, long? Total, TimeSpan Elapsed);

/// <summary>What a materialization did for one view.</summary>
public sealed record MaterializeViewResult(string View, DateTimeOffset Start, DateTimeOffset End, long Rows, int Applied, TimeSpan Elapsed)
{
    /// <summary>Rows skipped because they break a data-quality rule, per rule (docs/quality.md#rules); empty when none did.</summary>
    public IReadOnlyList<RuleViolationCount> Violations { get; init; } = [];
}

public sealed partial class FeatureStore
{
    /// <summary>
    /// Reads each plain online view's batch source for event times in [start, end), keeps the latest row per
    /// entity, writes it online (a row older than the stored one does not replace it), and records the
    /// interval in the registry. <paramref name="views"/> null means every online plain view with a file source.
    /// </summary>
    public async Task<IReadOnlyList<MaterializeViewResult>> MaterializeAsync(DateTimeOffset start, DateTimeOffset end, IReadOnlyList<string>? views = null,
        IProgress<MaterializeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (end <= start)
        {
            throw new RequestException("end_ts", "bad_interval", $"the end {end:O} must be after the start {start:O}");
        }

        var reader = Options.OfflineSource ?? throw new RequestException("materialize", "offline_unavailable", "materialization needs an offline engine, which this host does not have");
        var registry = Registry;
        var results = new List<MaterializeViewResult>();
        foreach (var (view, source) in MaterializableViews(registry, views))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            // Rows come from the batch (file) source, so its timestamp column names apply, not the push source's.
            var joinKeys = registry.Index.JoinKeys(view.Entities);
            var encoder = new ViewRowEncoder(view, joinKeys, source, registry.Checks(view));
            var violations = encoder.HasChecks ? new RuleViolationTally() : null;
            var rejected = violations is null ? null : new List<Aggregates.EventRejection>();
            var total = progress is null ? null : await reader.CountLatestAsync(view, joinKeys, source, RepoDirectory, start, end, cancellationToken);
            long rows = 0;
            var applied = 0;
            progress?.Report(new MaterializeProgress(view.Name, 0, total, clock.Elapsed));
            await foreach (var batch in reader.ReadLatestAsync(view, joinKeys, source, RepoDirectory, start, end, Options.MaterializeBatchSize, cancellationToken))
            {
                rejected?.Clear();
                var writes = encoder.Encode(batch, view.Name, violations: rejected);
                violations?.Add(batch, rejected!);
                if (writes.Count > 0)
                {
                    applied += await Online.WriteAsync(writes, cancellationToken);
                }

                rows += writes.Count;
                progress?.Report(new MaterializeProgress(view.Name, rows, total, clock.Elapsed));
            }

            results.Add(new MaterializeViewResult(view.Name, start, end, rows, applied, clock.Elapsed) { Violations = violations?.Counts() ?? [] });
        }

        await RecordAsync(results, cancellationToken);
        return results;
    }

    /// <summary>
    /// Materializes each view from the end of its last materialized interval (or from <c>end - ttl</c>, or the
    /// epoch when it has no ttl, the first time) up to <paramref name="end"/>.
    /// </summary>
    public async Task<IReadOnlyList<MaterializeViewResult>> MaterializeIncrementalAsync(DateTimeOffset end, IReadOnlyList<string>? views = null,
        IProgress<MaterializeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var registry = Registry;
        var results = new List<MaterializeViewResult>();
        foreach (var (view, _) in MaterializableViews(registry, views))
        {
            var last = registry.State.Materializations.Where(m => m.View == view.Name).Select(m => (DateTimeOffset?)m.End).Max();
            var start = last ?? (view.Ttl > TimeSpan.Zero && end - view.Ttl > DateTimeOffset.UnixEpoch ? end - view.Ttl : DateTimeOffset.UnixEpoch);
            if (start >= end)
            {
                continue;
            }

            results.AddRange(await MaterializeAsync(start, end, [view.Name], progress, cancellationToken));
        }

        return results;
    }

    private static List<(FeatureView View, FileSource Source)> MaterializableViews(ServingRegistry registry, IReadOnlyList<string>? names)
    {
        var result = new List<(FeatureView, FileSource)>();
        var wanted = names ?? [.. registry.Index.Repo.FeatureViews.Where(v => v.Online).Select(v => v.Name)];
        for (var i = 0; i < wanted.Count; i++)
        {
            var name = wanted[i];
            if (registry.Index.View(name) is not { View: FeatureView view })
            {
                throw new RequestException($"feature_views[{i}]", "unknown_view", $"unknown feature view '{name}' (only plain feature views are materialized)");
            }

            var source = registry.Index.Source(view.Source);
            var file = source switch
            {
                FileSource f => f,
                PushSource { BatchSource: { } b } => registry.Index.Source(b) as FileSource,
                KafkaSource { BatchSource: { } b } => registry.Index.Source(b) as FileSource,
                NatsSource { BatchSource: { } b } => registry.Index.Source(b) as FileSource,
                _ => null,
            };
            if (file is null)
            {
                if (names is not null)
                {
                    throw new RequestException($"feature_views[{i}]", "no_batch_source", $"view '{name}' reads source '{view.Source}', which has no file (batch) source to materialize from");
                }

                continue;
            }

            if (!view.Online)
            {
                if (names is not null)
                {
                    throw new RequestException($"feature_views[{i}]", "not_online", $"view '{name}' is not online (online: false)");
                }

                continue;
            }

            result.Add((view, file));
        }

        return result;
    }

    private async Task RecordAsync(List<MaterializeViewResult> results, CancellationToken cancellationToken)
    {
        if (results.Count == 0)
        {
            return;
        }

        // Another process may apply meanwhile: retry on a fresh state (materializations do not depend on specs).
        for (var attempt = 0; ; attempt++)
        {
            var state = await _registryStore.LoadAsync(cancellationToken) ?? RegistryState.Empty(Config.Project);
            var now = Now;
            var next = state with
            {
                Version = state.Version + 1,
                UpdatedAt = now,
                Materializations = [.. state.Materializations, .. results.Select(r => new MaterializationRecord(r.View, r.Start, r.End, now, r.Rows))],
            };
            try
            {
                await _registryStore.CommitAsync(next, state.Version, cancellationToken);
                await RefreshAsync(cancellationToken);
                return;
            }
            catch (RegistryConflictException) when (attempt < 5)
            {
            }
        }
    }
}
