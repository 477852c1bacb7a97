using Freshet.Online;
using Freshet.Server.Governance;
using Freshet.Serving;

namespace Freshet.Server.Http;

/// <summary><c>GET /stats/online-store</c>: the read counters and hit ratio of each tier of the online store (docs/caching.md).</summary>
internal static class OnlineStoreStatsEndpoint
{
    public static void Map(IEndpointRouteBuilder app, FeatureStore store, FreshetServerOptions options) =>
        app.MapGet("/stats/online-store", ctx => FeastHttpEndpoints.Handle(ctx, options, _ =>
        {
            RequestGate.Admit(ctx, AccessActions.Describe, AccessObjects.Project(store.Registry));
            // A plain store (no cache, no tiers) has nothing to count: its list is empty.
            var tiers = store.Online is IOnlineStoreStats stats ? stats.GetTierStats() : [];
            return FeastHttpEndpoints.WriteJsonAsync(ctx, w =>
            {
                w.WriteString("store", Freshet.Observability.InstrumentedOnlineStore.NameOf(store.Online));
                w.WriteStartArray("tiers");
                foreach (var t in tiers)
                {
                    w.WriteStartObject();
                    w.WriteString("tier", t.Tier);
                    w.WriteString("store", t.Store);
                    w.WriteNumber("lookups", t.Lookups);
                    w.WriteNumber("hits", t.Hits);
                    w.WriteNumber("misses", t.Misses);
                    w.WriteNumber("hit_ratio", t.HitRatio);
                    w.WriteNumber("fills", t.Fills);
                    WriteOptional(w, "stale_refetches", t.StaleRefetches);
                    WriteOptional(w, "evictions", t.Evictions);
                    WriteOptional(w, "invalidations", t.Invalidations);
                    WriteOptional(w, "entries", t.Entries);
                    WriteOptional(w, "bytes", t.Bytes);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            });
        }));

    private static void WriteOptional(System.Text.Json.Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
    }
}
