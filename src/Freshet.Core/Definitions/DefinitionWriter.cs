using System.Globalization;
using Freshet.Model;
using YamlDotNet.RepresentationModel;

namespace Freshet.Definitions;

/// <summary>
/// Writes definitions as YAML in the form <see cref="RepoLoader"/> reads, so that a repo built in C#
/// (or read from the registry) can be saved as a feature repo and loaded back unchanged.
/// </summary>
public static partial class DefinitionWriter
{
    /// <summary>One definition file holding every object of <paramref name="repo"/>.</summary>
    public static string Write(FeatureRepoDefinition repo)
    {
        var root = new YamlMappingNode();
        AddSection(root, "entities", repo.Entities, Entity);
        AddSection(root, "sources", repo.Sources, Source);
        AddSection(root, "feature_views", repo.FeatureViews, FeatureView);
        AddSection(root, "aggregation_views", repo.AggregationViews, AggregationView);
        AddSection(root, "on_demand_views", repo.OnDemandViews, OnDemandView);
        AddSection(root, "feature_services", repo.FeatureServices, FeatureService);
        return Save(root);
    }

    /// <summary>One object as a YAML mapping (the item of its section's list).</summary>
    public static string Write(Definition definition) => Save(definition switch
    {
        Entity e => Entity(e),
        DataSource s => Source(s),
        FeatureView v => FeatureView(v),
        AggregationView v => AggregationView(v),
        OnDemandView v => OnDemandView(v),
        FeatureService s => FeatureService(s),
        _ => throw new ArgumentOutOfRangeException(nameof(definition)),
    });

    /// <summary>The settings as <c>freshet.yaml</c>.</summary>
    public static string Write(RepoConfig config)
    {
        var m = new YamlMappingNode();
        Put(m, "project", config.Project);
        Put(m, "data_directory", config.DataDirectory);
        m.Add("online_store", Store(config.OnlineStore));
        m.Add("offline_store", Store(config.OfflineStore));
        if (config.S3 != new S3Config())
        {
            var s3 = new YamlMappingNode();
            Put(s3, "endpoint_url", config.S3.EndpointUrl);
            Put(s3, "region", config.S3.Region);
            Put(s3, "path_style", config.S3.PathStyle is { } pathStyle ? (pathStyle ? "true" : "false") : null);
            m.Add("s3", s3);
        }

        m.Add("registry", Store(config.Registry));
        var server = new YamlMappingNode();
        Put(server, "host", config.Server.Host);
        Put(server, "port", config.Server.Port.ToString(CultureInfo.InvariantCulture));
        Put(server, "grpc_port", config.Server.GrpcPort.ToString(CultureInfo.InvariantCulture));
        m.Add("server", server);
        if (!config.Auth.Enabled)
        {
            m.Add("auth", new YamlMappingNode { { "enabled", "false" } });
        }
        if (config.IdempotencyWindow != RepoConfig.DefaultIdempotencyWindow)
        {
            Put(m, "idempotency_window", Durations.Format(config.IdempotencyWindow));
        }

        return Save(m);

        static YamlMappingNode Store(StoreConfig s)
        {
            var n = new YamlMappingNode();
            Put(n, "type", s.Type);
            Put(n, "path", s.Path);
            Put(n, "connection_string", s.ConnectionString);
            if (s.Cache is { } cache)
            {
                var c = new YamlMappingNode();
                Put(c, "max_entries", cache.MaxEntries.ToString(CultureInfo.InvariantCulture));
                Put(c, "max_bytes", cache.MaxBytes.ToString(CultureInfo.InvariantCulture));
                Put(c, "max_staleness", cache.MaxStaleness.Ticks % TimeSpan.TicksPerSecond == 0
                    ? Durations.Format(cache.MaxStaleness)
                    : ((long)cache.MaxStaleness.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms");
                Put(c, "invalidation", cache.Invalidation);
                n.Add("cache", c);
            }

            if (s.Durable is { } durable)
            {
                n.Add("durable", Store(durable));
            }

            return n;
        }
    }

    private static string Save(YamlNode root)
    {
        var writer = new StringWriter(CultureInfo.InvariantCulture);
        new YamlStream(new YamlDocument(root)).Save(writer, assignAnchors: false);
        var text = writer.ToString();

        // The emitter ends each document with "...": not needed for a single document.
        return text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text;
    }

    private static void AddSection<T>(YamlMappingNode root, string section, IReadOnlyList<T> items, Func<T, YamlMappingNode> write)
    {
        if (items.Count > 0)
        {
            root.Add(section, new YamlSequenceNode(items.Select(i => (YamlNode)write(i))));
        }
    }

    private static void Put(YamlMappingNode m, string key, string? value)
    {
        if (value is not null)
        {
            m.Add(key, new YamlScalarNode(value));
        }
    }

    private static YamlMappingNode Head(Definition d)
    {
        var m = new YamlMappingNode();
        Put(m, "name", d.Name);
        Put(m, "description", d.Description);
        Put(m, "owner", d.Owner);
        if (d.Tags.Count > 0)
        {
            m.Add("tags", Tags(d.Tags));
        }

        return m;
    }

    private static YamlMappingNode Tags(IReadOnlyDictionary<string, string> tags)
    {
        var t = new YamlMappingNode();
        foreach (var (k, v) in tags.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            t.Add(k, v);
        }

        return t;
    }

    private static YamlSequenceNode Names(IEnumerable<string> names) =>
        new(names.Select(n => (YamlNode)new YamlScalarNode(n)));

    private static YamlSequenceNode Schema(IReadOnlyList<Field> fields) => new(fields.Select(f =>
    {
        var m = new YamlMappingNode();
        Put(m, "name", f.Name);
        Put(m, "type", f.Type.ToString());
        Put(m, "description", f.Description);
        if (f.Tags.Count > 0)
        {
            m.Add("tags", Tags(f.Tags));
        }

        if (f.Rules is { } rules)
        {
            Rules(m, rules);
        }

        return (YamlNode)m;
    }));

    private static YamlMappingNode Entity(Entity e)
    {
        var m = Head(e);
        m.Add("join_keys", new YamlSequenceNode(e.JoinKeys.Select(k =>
        {
            var key = new YamlMappingNode();
            Put(key, "name", k.Name);
            Put(key, "type", k.Type.ToString());
            return (YamlNode)key;
        })));
        return m;
    }

    private static YamlMappingNode Source(DataSource s)
    {
        var m = Head(s);
        Put(m, "type", DataSource.KindName(s.Kind));
        switch (s)
        {
            case FileSource f:
                Put(m, "path", f.Path);
                Put(m, "format", f.Format == FileFormat.Csv ? "csv" : "parquet");
                Put(m, "s3_endpoint", f.S3Endpoint);
                break;
            case PushSource p:
                Put(m, "batch_source", p.BatchSource);
                break;
            case KafkaSource k:
                Put(m, "bootstrap_servers", k.BootstrapServers);
                Put(m, "topic", k.Topic);
                Put(m, "consumer_group", k.ConsumerGroup);
                Put(m, "batch_source", k.BatchSource);
                break;
            case NatsSource n:
                Put(m, "url", n.Url);
                Put(m, "subject", n.Subject);
                Put(m, "stream", n.Stream);
                Put(m, "durable", n.Durable);
                Put(m, "batch_source", n.BatchSource);
                break;
        }

        Put(m, "timestamp_field", s.TimestampField);
        Put(m, "created_timestamp_field", s.CreatedTimestampField);
        if (s.Schema.Count > 0)
        {
            m.Add("schema", Schema(s.Schema));
        }

        return m;
    }

    private static YamlMappingNode FeatureView(FeatureView v)
    {
        var m = Head(v);
        m.Add("entities", Names(v.Entities));
        Put(m, "source", v.Source);
        Put(m, "ttl", Durations.Format(v.Ttl));
        Put(m, "timestamp_field", v.TimestampField);
        Put(m, "created_timestamp_field", v.CreatedTimestampField);
        Put(m, "online", v.Online ? "true" : "false");
        m.Add("schema", Schema(v.Schema));
        return m;
    }

    private static YamlMappingNode AggregationView(AggregationView v)
    {
        var m = Head(v);
        m.Add("entities", Names(v.Entities));
        Put(m, "source", v.Source);
        Put(m, "batch_source", v.BatchSource);
        Put(m, "timestamp_field", v.TimestampField);
        Put(m, "hop", v.Hop is { } hop ? Durations.Format(hop) : null);
        Put(m, "allowed_lateness", Durations.Format(v.AllowedLateness));
        Put(m, "online", v.Online ? "true" : "false");
        m.Add("aggregations", new YamlSequenceNode(v.Aggregations.Select(a =>
        {
            var n = new YamlMappingNode();
            Put(n, "function", Aggregation.NameOf(a.Function));
            Put(n, "column", a.Column);
            Put(n, "window", Durations.Format(a.Window));
            Put(n, "hop", a.Hop is { } h ? Durations.Format(h) : null);
            Put(n, "filter", a.Filter);
            Put(n, "name", a.Name);
            Put(n, "k", a.K?.ToString(CultureInfo.InvariantCulture));
            Put(n, "p", a.Percentile?.ToString("R", CultureInfo.InvariantCulture));
            return (YamlNode)n;
        })));
        return m;
    }

    private static YamlMappingNode OnDemandView(OnDemandView v)
    {
        var m = Head(v);
        m.Add("inputs", Names(v.Inputs));
        m.Add("features", new YamlSequenceNode(v.Features.Select(f =>
        {
            var n = new YamlMappingNode();
            Put(n, "name", f.Name);
            Put(n, "type", f.Type.ToString());
            Put(n, "expression", f.Expression);
            Put(n, "description", f.Description);
            return (YamlNode)n;
        })));
        return m;
    }

    private static YamlMappingNode FeatureService(FeatureService s)
    {
        var m = Head(s);
        m.Add("features", Names(s.Features));
        return m;
    }
}
