using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Freshet.Model;

namespace Freshet.Registry;

/// <summary>
/// The JSON form of definitions, as stored in the registry and printed by <c>--json</c>: snake_case keys,
/// types and durations as their YAML text, nulls left out. Canonical form sorts keys, so that the spec
/// hash changes only when the definition does.
/// </summary>
public static class SpecJson
{
    /// <summary>Serializes a definition of a known kind to a JSON node.</summary>
    public static JsonObject ToNode(ObjectKind kind, Definition definition)
    {
        var ctx = SpecJsonContext.Default;
        JsonNode? node = kind switch
        {
            ObjectKind.Entity => JsonSerializer.SerializeToNode((Entity)definition, ctx.Entity),
            ObjectKind.Source => JsonSerializer.SerializeToNode((DataSource)definition, ctx.DataSource),
            ObjectKind.FeatureView => JsonSerializer.SerializeToNode((FeatureView)definition, ctx.FeatureView),
            ObjectKind.AggregationView => JsonSerializer.SerializeToNode((AggregationView)definition, ctx.AggregationView),
            ObjectKind.OnDemandView => JsonSerializer.SerializeToNode((OnDemandView)definition, ctx.OnDemandView),
            ObjectKind.FeatureService => JsonSerializer.SerializeToNode((FeatureService)definition, ctx.FeatureService),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return (JsonObject)Canonical(node)!;
    }

    /// <summary>Reads a definition of a known kind back from its JSON node.</summary>
    public static Definition FromNode(ObjectKind kind, JsonNode node)
    {
        var ctx = SpecJsonContext.Default;
        Definition? d = kind switch
        {
            ObjectKind.Entity => node.Deserialize(ctx.Entity),
            ObjectKind.Source => node.Deserialize(ctx.DataSource),
            ObjectKind.FeatureView => node.Deserialize(ctx.FeatureView),
            ObjectKind.AggregationView => node.Deserialize(ctx.AggregationView),
            ObjectKind.OnDemandView => node.Deserialize(ctx.OnDemandView),
            ObjectKind.FeatureService => node.Deserialize(ctx.FeatureService),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return d ?? throw new JsonException($"empty {ObjectKinds.Words(kind)} spec");
    }

    /// <summary>The settings as JSON.</summary>
    public static JsonObject ToNode(RepoConfig config) =>
        (JsonObject)Canonical(JsonSerializer.SerializeToNode(config, SpecJsonContext.Default.RepoConfig))!;

    /// <summary>A copy of the node with object keys sorted (ordinal), recursively.</summary>
    public static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Canonical)]),
        null => null,
        _ => node.DeepClone(),
    };

    /// <summary>Compact canonical JSON text.</summary>
    public static string ToCanonicalString(JsonNode? node) =>
        Canonical(node)?.ToJsonString(CompactOptions) ?? "null";

    /// <summary>SHA-256 of the canonical JSON, lower-case hex.</summary>
    public static string Hash(JsonNode node) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ToCanonicalString(node))));

    /// <summary>Options for indented, human-readable output (relaxed escaping is safe: it never goes into HTML).</summary>
    public static readonly JsonSerializerOptions IndentedOptions = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = SpecJsonContext.Default,
    };

    private static readonly JsonSerializerOptions CompactOptions = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = SpecJsonContext.Default,
    };
}

/// <summary>Writes <see cref="FeatureType"/> as its text form (<c>list&lt;int64&gt;</c>).</summary>
public sealed class FeatureTypeJsonConverter : JsonConverter<FeatureType>
{
    /// <inheritdoc />
    public override FeatureType Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        FeatureType.TryParse(reader.GetString(), out var type, out var error) ? type : throw new JsonException(error);

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, FeatureType value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}

/// <summary>Writes durations as their text form (<c>1d12h</c>).</summary>
public sealed class DurationJsonConverter : JsonConverter<TimeSpan>
{
    /// <inheritdoc />
    public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        Durations.TryParse(reader.GetString(), out var value, out var error) ? value : throw new JsonException(error);

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options) =>
        writer.WriteStringValue(Durations.Format(value));
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    AllowOutOfOrderMetadataProperties = true,
    Converters = [typeof(FeatureTypeJsonConverter), typeof(DurationJsonConverter), typeof(SnakeCaseEnumConverter<AggregationFunction>), typeof(SnakeCaseEnumConverter<FileFormat>)])]
[JsonSerializable(typeof(Entity))]
[JsonSerializable(typeof(DataSource))]
[JsonSerializable(typeof(FeatureView))]
[JsonSerializable(typeof(AggregationView))]
[JsonSerializable(typeof(OnDemandView))]
[JsonSerializable(typeof(FeatureService))]
[JsonSerializable(typeof(FieldRules))]
[JsonSerializable(typeof(RepoConfig))]
[JsonSerializable(typeof(RegistryState))]
[JsonSerializable(typeof(JsonNode))]
[JsonSerializable(typeof(JsonObject))]
internal sealed partial class SpecJsonContext : JsonSerializerContext;

/// <summary>Enum values as snake_case strings (<c>last_n</c>).</summary>
public sealed class SnakeCaseEnumConverter<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false)
    where T : struct, Enum;
