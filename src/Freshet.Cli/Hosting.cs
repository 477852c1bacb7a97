using Freshet.DuckDb;
using Freshet.Ingestion;
using Freshet.Kafka;
using Freshet.Nats;
using Freshet.Model;
using Freshet.Online;
using Freshet.Redis;
using Freshet.Postgres;
using Freshet.Registry;
using Freshet.RocksDb;
using Freshet.Serving;

namespace Freshet.Cli;

/// <summary>
/// Wires the parts a repo's freshet.yaml names: registry store, online store, offline engine. The only place
/// that knows the concrete back ends.
/// </summary>
internal static partial class Hosting
{
    /// <summary>The data directory of a repo, absolute.</summary>
    public static string DataDirectory(string repoDirectory, RepoConfig config) =>
        Path.GetFullPath(Path.Combine(repoDirectory, config.DataDirectory));

    /// <summary>Opens the online store freshet.yaml names, with its cache and durable tier when configured.</summary>
    public static IOnlineStore OpenOnlineStore(string repoDirectory, RepoConfig config) =>
        OpenTiers(repoDirectory, config, OpenOnlineStore(repoDirectory, config, config.OnlineStore, "online"));

    /// <summary>Opens one online store (one tier); <paramref name="defaultPath"/> is an embedded store's directory when it names none.</summary>
    private static IOnlineStore OpenOnlineStore(string repoDirectory, RepoConfig config, StoreConfig store, string defaultPath)
    {
        return store.Type switch
        {
            "memory" => new InMemoryOnlineStore(),
            "rocksdb" => RocksDbOnlineStore.Open(Path.Combine(DataDirectory(repoDirectory, config), store.Path ?? defaultPath)),
            "redis" => OpenRedis(config, store),
            "postgres" => new PostgresOnlineStore(ConnectionString(store, store == config.OnlineStore ? "online_store" : "online_store.durable")),
            _ => throw new CliException($"{RepoConfig.FileName}: online store type '{store.Type}' is not available in this version of Freshet; use 'rocksdb', 'redis', 'postgres' or 'memory'"),
        };
    }

    /// <summary>The default Redis address when freshet.yaml names none.</summary>
    public const string DefaultRedis = "127.0.0.1:6379";

    // Single node, cluster or Garnet: the store finds out. Keys start with the project name, so projects sharing
    // one Redis keep apart.
    private static RedisOnlineStore OpenRedis(RepoConfig config, StoreConfig store)
    {
        try
        {
            return RedisOnlineStore.Connect(store.ConnectionString ?? DefaultRedis, new RedisOnlineStoreOptions { KeyPrefix = config.Project + ":" });
        }
        catch (RedisUnavailableException e)
        {
            throw new CliException($"online store: {e.Message}");
        }
    }

    /// <summary>The connection string of a server store, or a CLI error naming the key that lacks it.</summary>
    public static string ConnectionString(StoreConfig store, string key) =>
        store.ConnectionString is { Length: > 0 } cs
            ? cs
            : throw new CliException($"{RepoConfig.FileName}: {key}: type {store.Type} needs connection_string (e.g. \"Host=db.example.com;Database=freshet;Username=freshet\"; the password may come from PGPASSWORD or ~/.pgpass)");

    /// <summary>
    /// Opens the online store, or returns null with the reason when another process holds it (an embedded
    /// store has one owner: a running <c>freshet serve</c>).
    /// </summary>
    public static IOnlineStore? TryOpenOnlineStore(string repoDirectory, RepoConfig config, out string? busy)
    {
        busy = null;
        try
        {
            return OpenOnlineStore(repoDirectory, config);
        }
        catch (OnlineStoreBusyException e)
        {
            busy = e.Message;
            return null;
        }
    }

    /// <summary>The dead-letter store of an open feature store (hosts always set one).</summary>
    public static DeadLetterSink DeadLetters(FeatureStore store) =>
        store.Options.DeadLetters as DeadLetterSink ?? throw new InvalidOperationException("the feature store was opened without a dead-letter store");

    /// <summary>The Kafka or NATS source <paramref name="name"/> of the store's registry, or a CLI error saying why not.</summary>
    public static DataSource StreamSource(FeatureStore store, string name)
    {
        var definition = store.Registry.Index.Source(name);
        return definition is KafkaSource or NatsSource
            ? definition
            : throw new CliException(definition is null
                ? $"unknown source '{name}'"
                : $"'{name}' is a {DataSource.KindName(definition.Kind)} source; ingestion reads kafka and nats sources (push sources take POST /push)");
    }

    /// <summary>The event source of a Kafka or NATS source definition, resuming where <paramref name="resumeFrom"/> says.</summary>
    public static IEventSource OpenEventSource(DataSource source, Func<IReadOnlyList<string>, IReadOnlyDictionary<string, long?>> resumeFrom) => source switch
    {
        KafkaSource kafka => new KafkaEventSource(kafka, resumeFrom),
        NatsSource nats => new NatsEventSource(nats, resumeFrom),
        _ => throw new CliException($"source '{source.Name}' cannot be consumed by this version of Freshet"),
    };

    /// <summary>Opens a feature store over the repo's registry and online store.</summary>
    public static async Task<FeatureStore> OpenFeatureStoreAsync(string repoDirectory, RepoConfig config, IRegistryStore registry, CancellationToken cancellationToken, IServedFeatureLog? servedLog = null)
    {
        var online = OpenOnlineStore(repoDirectory, config);
        var deadLetters = new DeadLetterSink(await OnlineDeadLetterStore.OpenAsync(online, cancellationToken: cancellationToken));
        var options = new FeatureStoreOptions
        {
            DeadLetters = deadLetters,
            // DuckDB is the only offline engine: it reads batch sources for materialization and writes pushed rows as Parquet.
            OfflineSource = new DuckDbOfflineSource(new S3ObjectCache(S3Settings.From(config.S3), Path.Combine(DataDirectory(repoDirectory, config), "cache", "s3"))),
            OfflineSink = new DuckDbOfflineSink(),
            ServedLog = servedLog,
        };
        return await FeatureStore.OpenAsync(registry, online, config, Path.GetFullPath(repoDirectory), options, cancellationToken);
    }
}

/// <summary>A problem the CLI reports as a one-line error (exit code 1).</summary>
internal sealed class CliException(string message) : Exception(message);
