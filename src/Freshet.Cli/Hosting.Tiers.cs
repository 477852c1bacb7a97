using Freshet.Model;
using Freshet.Observability;
using Freshet.Online;
using Freshet.Redis;

namespace Freshet.Cli;

internal static partial class Hosting
{
    /// <summary>
    /// Layers what <c>online_store</c> configures around the store already open (docs/caching.md): a durable tier
    /// behind it (<see cref="TieredOnlineStore"/>), then the in-process cache in front (<see cref="CachingOnlineStore"/>).
    /// </summary>
    private static IOnlineStore OpenTiers(string repoDirectory, RepoConfig config, IOnlineStore primary)
    {
        var settings = config.OnlineStore;
        // Each tier is timed on its own (docs/observability.md): l2 the store online_store names, l3 its durable tier, l1 the cache.
        IOnlineStore store = InstrumentedOnlineStore.Wrap(primary, "l2");
        try
        {
            if (settings.Durable is { } durable)
            {
                store = new TieredOnlineStore(store, InstrumentedOnlineStore.Wrap(OpenOnlineStore(repoDirectory, config, durable, "online-durable"), "l3"));
            }

            if (settings.Cache is { } cache)
            {
                IInvalidationChannel? channel = cache.Invalidation == "pubsub"
                    ? RedisInvalidationChannel.Connect(settings.ConnectionString ?? DefaultRedis, config.Project)
                    : null;
                store = InstrumentedOnlineStore.Wrap(new CachingOnlineStore(store, new CachingOnlineStoreOptions
                {
                    MaxEntries = cache.MaxEntries,
                    MaxBytes = cache.MaxBytes,
                    MaxStaleness = cache.MaxStaleness,
                    Invalidation = channel,
                }), "l1");
            }

            return store;
        }
        catch
        {
            // The tiers opened so far are closed; the caller gets the error.
            store.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }
}
