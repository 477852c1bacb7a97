using Freshet.Aggregates;
using Freshet.Model;
using Freshet.Online;
using Freshet.Serving;

namespace Freshet.Ingestion;

/// <summary>
/// Applies a dead letter of a plain feature view again (<c>freshet deadletter replay</c>): a row refused by one of
/// the view's data-quality rules, from a push, a write or a stream. The payload (the row as JSON, or the stream event
/// as received) is decoded with the view's columns, checked against the view's current rules, and written under the
/// newest-wins rule, so replaying a letter twice changes nothing.
/// </summary>
public static class PlainViewReplay
{
    /// <summary>Null when the letter's row was written (or was older than the stored row); else why not.</summary>
    public static async Task<string?> ApplyAsync(FeatureStore store, FeatureView view, byte[] payload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(payload);
        var registry = store.Registry;
        var source = registry.Index.Source(view.Source);
        var keys = registry.Index.JoinKeys(view.Entities);
        var created = RepoIndex.CreatedTimestampField(view, source);
        var timestampType = FeatureType.Of(ScalarKind.Timestamp);
        var columns = new List<Field>();
        foreach (var k in keys)
        {
            columns.Add(new Field(k.Name, k.Type));
        }

        columns.AddRange(view.Schema.Where(f => keys.All(k => k.Name != f.Name)).Select(f => new Field(f.Name, f.Type)));
        if (created is not null && columns.All(c => c.Name != created))
        {
            columns.Add(new Field(created, timestampType));
        }

        // The row's own columns, under the view's names: what the view reads, whatever source it came from.
        var shape = new PushSource(view.Source) { Schema = columns, TimestampField = RepoIndex.TimestampField(view, source), CreatedTimestampField = created };
        var decoder = new EventDecoder(shape, keys.Select(k => k.Name));
        var decoded = decoder.Decode(payload, null, out var row);
        if (decoded.Error is { } error)
        {
            return $"{error.Code}: {error.Reason}";
        }

        var table = StreamProcessor.Table(decoder, shape, [row!], [decoded.EventTimeMicros]);
        var violations = new List<EventRejection>();
        List<OnlineWrite> writes;
        try
        {
            writes = new ViewRowEncoder(view, keys, shape, registry.Checks(view)).Encode(table, "payload", violations: violations);
        }
        catch (RequestException e)
        {
            return $"{e.Code}: {e.Message}";
        }

        if (violations.Count > 0)
        {
            return $"{violations[0].Code}: {violations[0].Reason}";
        }

        if (writes.Count > 0)
        {
            await store.Online.WriteAsync(writes, cancellationToken);
        }

        return null;
    }
}
