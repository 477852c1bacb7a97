using Freshet.Model;
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
        var store = primary;
        try
        {
            if (settings.Durable is { } durable)
            {
                store = new TieredOnlineStore(primary, OpenOnlineStore(repoDirectory, config, durable, "online-durable"));
            }

            if (settings.Cache is { } cache)
            {
                IInvalidationChannel? channel = cache.Invalidation == "pubsub"
                    ? RedisInvalidationChannel.Connect(settings.ConnectionString ?? DefaultRedis, config.Project)
                    : null;
                store = new CachingOnlineStore(store, new CachingOnlineStoreOptions
                {
                    MaxEntries = cache.MaxEntries,
                    MaxBytes = cache.MaxBytes,
                    MaxStaleness = cache.MaxStaleness,
                    Invalidation = channel,
                });
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
