using Freshet.Model;
using YamlDotNet.RepresentationModel;

namespace Freshet.Definitions;

/// <summary>
/// Turns the YAML of definition files into model objects. Problems of form (a bad duration, an
/// unknown type, a missing key) are reported here, at their position; problems between objects are
/// the validator's.
/// </summary>
internal sealed partial class DefinitionReader(ReadContext ctx)
{
    private static readonly string[] Sections =
        ["entities", "sources", "feature_views", "aggregation_views", "on_demand_views", "feature_services"];

    public List<Entity> Entities { get; } = [];

    public List<DataSource> Sources { get; } = [];

    public List<FeatureView> FeatureViews { get; } = [];

    public List<AggregationView> AggregationViews { get; } = [];

    public List<OnDemandView> OnDemandViews { get; } = [];

    public List<FeatureService> FeatureServices { get; } = [];

    public void ReadDocument(YamlNode root)
    {
        if (ReadContext.IsNull(root))
        {
            return;
        }

        if (root is not YamlMappingNode map)
        {
            ctx.Error(root, $"a definition file must be a mapping with sections {string.Join(", ", Sections)}; found {YamlMap.Describe(root)}");
            return;
        }

        foreach (var (keyNode, value) in map.Children)
        {
            var section = (keyNode as YamlScalarNode)?.Value ?? "";
            if (Array.IndexOf(Sections, section) < 0)
            {
                ctx.Error(keyNode, $"unknown section '{section}'{Suggest.Hint(section, Sections)}");
                continue;
            }

            if (ReadContext.IsNull(value))
            {
                continue;
            }

            if (value is not YamlSequenceNode items)
            {
                ctx.Error(value, $"section '{section}' must be a list, not {YamlMap.Describe(value)}");
                continue;
            }

            foreach (var item in items.Children)
            {
                ReadItem(section, item);
            }
        }
    }

    private void ReadItem(string section, YamlNode node)
    {
        switch (section)
        {
            case "entities":
                Add(Entities, ReadEntity(node, $"entities[{Entities.Count}]"));
                break;
            case "sources":
                Add(Sources, ReadSource(node, $"sources[{Sources.Count}]"));
                break;
            case "feature_views":
                Add(FeatureViews, ReadFeatureView(node, $"feature_views[{FeatureViews.Count}]"));
                break;
            case "aggregation_views":
                Add(AggregationViews, ReadAggregationView(node, $"aggregation_views[{AggregationViews.Count}]"));
                break;
            case "on_demand_views":
                Add(OnDemandViews, ReadOnDemandView(node, $"on_demand_views[{OnDemandViews.Count}]"));
                break;
            default:
                Add(FeatureServices, ReadFeatureService(node, $"feature_services[{FeatureServices.Count}]"));
                break;
        }
    }

    private static void Add<T>(List<T> list, T? item)
        where T : class
    {
        if (item is not null)
        {
            list.Add(item);
        }
    }

    private YamlMap? Open(YamlNode node, string path, string kind)
    {
        var m = YamlMap.Of(node, ctx, path, kind);
        if (m is null)
        {
            return null;
        }

        var name = m.Name();
        m.What = name is null ? $"{kind} (unnamed)" : $"{kind} '{name}'";
        return m;
    }

    private static T WithMetadata<T>(T definition, YamlMap m)
        where T : Definition =>
        definition with { Description = m.String("description"), Owner = m.String("owner"), Tags = m.Tags() };

    private Entity? ReadEntity(YamlNode node, string path)
    {
        var m = Open(node, path, "entity");
        if (m is null)
        {
            return null;
        }

        var name = m.Name();
        var keys = new List<JoinKey>();
        foreach (var (keyNode, keyPath) in m.List("join_keys", required: true))
        {
            // A join key is {name, type}; `- driver_id` alone is an int64 key, as Feast's default.
            if (keyNode is YamlScalarNode s)
            {
                keys.Add(new JoinKey(s.Value ?? "", FeatureType.Of(ScalarKind.Int64)));
                continue;
            }

            var k = YamlMap.Of(keyNode, ctx, keyPath, $"{m.What} join key");
            if (k is null)
            {
                continue;
            }

            var keyName = k.Name();
            var type = k.Type("type", required: true);
            k.String("description");
            k.ReportUnknownKeys();
            if (keyName is not null)
            {
                keys.Add(new JoinKey(keyName, type ?? default));
            }
        }

        var entity = WithMetadata(new Entity(name ?? "", keys), m);
        m.ReportUnknownKeys();
        return name is null ? null : entity;
    }

    private IReadOnlyList<Field> ReadSchema(YamlMap m, string key, bool required)
    {
        var fields = new List<Field>();
        var node = m.Value(key);
        if (node is null)
        {
            if (required)
            {
                ctx.Error(m.Node, $"{m.What}: '{key}' is required");
            }

            return fields;
        }

        // Short form: `schema: {conv_rate: float32, acc_rate: float32}`.
        if (node is YamlMappingNode shortForm)
        {
            var i = 0;
            foreach (var (k, v) in shortForm.Children)
            {
                var path = $"{m.Path}.{key}[{i++}]";
                ctx.Mark(path, k);
                var name = (k as YamlScalarNode)?.Value ?? "";

                ctx.Mark(path + ".type", v);
                if (v is not YamlScalarNode tv || !FeatureType.TryParse(tv.Value, out var type, out var error))
                {
                    ctx.Error(v, $"{m.What}: field '{name}': {(v is YamlScalarNode ? TypeError(v) : "the type must be a single value")}");
                    type = default;
                }

                fields.Add(new Field(name, type));
            }

            return fields;
        }

        foreach (var (fieldNode, fieldPath) in m.List(key))
        {
            var f = YamlMap.Of(fieldNode, ctx, fieldPath, $"{m.What} field");
            if (f is null)
            {
                continue;
            }

            var name = f.Name();
            if (name is not null)
            {
                f.What = $"{m.What} field '{name}'";
            }

            var type = f.Type("type", required: true);
            var description = f.String("description");
            var tags = f.Tags();
            var rules = ReadRules(f, type);
            f.ReportUnknownKeys();
            if (name is not null)
            {
                fields.Add(new Field(name, type ?? default) { Description = description, Tags = tags, Rules = rules });
            }
        }

        return fields;

        static string TypeError(YamlNode v)
        {
            FeatureType.TryParse(((YamlScalarNode)v).Value, out _, out var e);
            return e ?? "bad type";
        }
    }

    private DataSource? ReadSource(YamlNode node, string path)
    {
        var m = Open(node, path, "source");
        if (m is null)
        {
            return null;
        }

        var name = m.Name();
        var typeNode = m.Value("type");
        var type = m.String("type", required: true);
        DataSource? source = null;
        switch (type)
        {
            case "file":
                var filePath = m.String("path", required: true);
                var format = m.String("format");
                FileFormat fileFormat;
                if (format is null)
                {
                    fileFormat = filePath is not null && filePath.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? FileFormat.Csv : FileFormat.Parquet;
                }
                else if (format is "parquet" or "csv")
                {
                    fileFormat = format == "csv" ? FileFormat.Csv : FileFormat.Parquet;
                }
                else
                {
                    ctx.Error(m.Value("format")!, $"{m.What}: unknown format '{format}'; expected parquet or csv");
                    fileFormat = FileFormat.Parquet;
                }

                source = new FileSource(name ?? "", filePath ?? "") { Format = fileFormat, S3Endpoint = m.String("s3_endpoint") };
                break;
            case "push":
                source = new PushSource(name ?? "") { BatchSource = m.String("batch_source") };
                break;
            case "kafka":
                source = new KafkaSource(name ?? "", m.String("bootstrap_servers", required: true) ?? "", m.String("topic", required: true) ?? "")
                {
                    BatchSource = m.String("batch_source"),
                    ConsumerGroup = m.String("consumer_group"),
                };
                break;
            case "nats":
                source = new NatsSource(name ?? "", m.String("url", required: true) ?? "", m.String("subject", required: true) ?? "")
                {
                    Stream = m.String("stream"),
                    Durable = m.String("durable"),
                    BatchSource = m.String("batch_source"),
                };
                break;
            case "request":
                source = new RequestSource(name ?? "");
                break;
            case null:
                break;
            default:
                ctx.Error(typeNode!, $"{m.What}: unknown source type '{type}'; expected file, push, kafka, nats or request");
                break;
        }

        var isRequest = type == "request";
        var schema = ReadSchema(m, "schema", required: isRequest);
        string? timestampField = null, createdField = null;
        if (!isRequest)
        {
            timestampField = m.Name("timestamp_field", required: false);
            createdField = m.Name("created_timestamp_field", required: false);
        }

        // Metadata is read before unknown keys are reported, or description/owner/tags would count as unknown.
        source = WithMetadata(source ?? new RequestSource(""), m);
        m.ReportUnknownKeys();
        if (type is not ("file" or "push" or "kafka" or "nats" or "request") || name is null)
        {
            return null;
        }

        return source with { Schema = schema, TimestampField = timestampField, CreatedTimestampField = createdField };
    }

    private FeatureView? ReadFeatureView(YamlNode node, string path)
    {
        var m = Open(node, path, "feature view");
        if (m is null)
        {
            return null;
        }

        var name = m.Name();
        var entities = m.StringList("entities");
        var source = m.String("source", required: true);
        var schema = ReadSchema(m, "schema", required: true);
        var view = WithMetadata(new FeatureView(name ?? "", entities, source ?? "", schema), m) with
        {
            Ttl = m.Duration("ttl") ?? TimeSpan.Zero,
            TimestampField = m.Name("timestamp_field", required: false),
            CreatedTimestampField = m.Name("created_timestamp_field", required: false),
            Online = m.Bool("online") ?? true,
        };
        m.ReportUnknownKeys();
        return name is null ? null : view;
    }

    private AggregationView? ReadAggregationView(YamlNode node, string path)
    {
        var m = Open(node, path, "aggregation view");
        if (m is null)
        {
            return null;
        }

        var name = m.Name();
        var entities = m.StringList("entities", required: true);
        var source = m.String("source", required: true);
        var aggregations = new List<Aggregation>();
        foreach (var (aggNode, aggPath) in m.List("aggregations", required: true))
        {
            var a = ReadAggregation(aggNode, aggPath, m.What);
            if (a is not null)
            {
                aggregations.Add(a);
            }
        }

        var view = WithMetadata(new AggregationView(name ?? "", entities, source ?? "", aggregations), m) with
        {
            BatchSource = m.String("batch_source"),
            TimestampField = m.Name("timestamp_field", required: false),
            Hop = m.Duration("hop"),
            AllowedLateness = m.Duration("allowed_lateness") ?? TimeSpan.Zero,
            Online = m.Bool("online") ?? true,
        };
        m.ReportUnknownKeys();
        return name is null ? null : view;
    }

    private Aggregation? ReadAggregation(YamlNode node, string path, string viewWhat)
    {
        var a = YamlMap.Of(node, ctx, path, $"{viewWhat} aggregation");
        if (a is null)
        {
            return null;
        }

        var fnNode = a.Value("function");
        var fnName = a.String("function", required: true);
        AggregationFunction? function = null;
        if (fnName is not null)
        {
            if (Aggregation.FunctionNames.TryGetValue(fnName, out var f))
            {
                function = f;
            }
            else
            {
                ctx.Error(fnNode!, $"{a.What}: unknown function '{fnName}'{Suggest.Hint(fnName, Aggregation.FunctionNames.Keys)}");
            }
        }

        var column = a.Name("column", required: false);
        var window = a.Duration("window");
        if (!a.Has("window"))
        {
            ctx.Error(a.Node, $"{a.What}: 'window' is required");
        }

        var result = function is null || window is null
            ? null
            : new Aggregation(function.Value, column, window.Value)
            {
                Hop = a.Duration("hop"),
                Filter = a.String("filter"),
                Name = a.Name("name", required: false),
                K = a.Int("k", 1, 10_000),
                Percentile = a.Double("p"),
            };
        if (result is null)
        {
            // Still read the optional keys so that their own problems and unknown keys are reported.
            a.Duration("hop");
            a.String("filter");
            a.Name("name", required: false);
            a.Int("k", 1, 10_000);
            a.Double("p");
        }

        a.ReportUnknownKeys();
        return result;
    }

    private OnDemandView? ReadOnDemandView(YamlNode node, string path)
    {
        var m = Open(node, path, "on-demand view");
        if (m is null)
        {
            return null;
        }

        var name = m.Name();
        var inputs = m.StringList("inputs", required: true);
        var features = new List<OnDemandFeature>();
        foreach (var (featureNode, featurePath) in m.List("features", required: true))
        {
            var f = YamlMap.Of(featureNode, ctx, featurePath, $"{m.What} feature");
            if (f is null)
            {
                continue;
            }

            var featureName = f.Name();
            if (featureName is not null)
            {
                f.What = $"{m.What} feature '{featureName}'";
            }

            var type = f.Type("type", required: true);
            var expression = f.String("expression", required: true);
            RepoValidator.MarkExpressionText(f, featurePath);
            var description = f.String("description");
            f.ReportUnknownKeys();
            if (featureName is not null)
            {
                features.Add(new OnDemandFeature(featureName, type ?? default, expression ?? "") { Description = description });
            }
        }

        var view = WithMetadata(new OnDemandView(name ?? "", inputs, features), m);
        m.ReportUnknownKeys();
        return name is null ? null : view;
    }

    private FeatureService? ReadFeatureService(YamlNode node, string path)
    {
        var m = Open(node, path, "feature service");
        if (m is null)
        {
            return null;
        }

        var name = m.Name();
        var features = m.StringList("features", required: true);
        var service = WithMetadata(new FeatureService(name ?? "", features), m);
        m.ReportUnknownKeys();
        return name is null ? null : service;
    }
}
