using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Freshet.Serving;

namespace Freshet.DuckDb;

/// <summary>
/// Per-feature statistics of a dataset (<c>freshet profile</c>, docs/quality.md "Profiles"), with the bins that
/// drift checks compare served values against. Serialized as versioned JSON (<see cref="ToJson"/>,
/// <see cref="Parse"/>).
/// </summary>
public sealed record DatasetProfile(string Dataset, DateTimeOffset CreatedAt, long Rows, int Bins, int TopK, IReadOnlyList<FeatureProfile> Features, IReadOnlyList<SkippedColumn> Skipped)
{
    /// <summary>The <c>format</c> field of a profile file.</summary>
    public const string Format = "freshet-profile";

    /// <summary>The <c>version</c> of the profile format this code writes and reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>The quantiles reported per numeric feature, with their names.</summary>
    public static readonly IReadOnlyList<(string Name, double Q)> ReportedQuantiles =
        [("p1", 0.01), ("p5", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95), ("p99", 0.99)];

    /// <summary>The feature called <paramref name="name"/>, or null.</summary>
    public FeatureProfile? Feature(string name) => Features.FirstOrDefault(f => f.Name == name);

    /// <summary>The profile as JSON (the documented, versioned format).</summary>
    public JsonObject ToJson() => new()
    {
        ["format"] = Format,
        ["version"] = FormatVersion,
        ["dataset"] = Dataset,
        ["created_at"] = CreatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        ["rows"] = Rows,
        ["bins"] = Bins,
        ["top_k"] = TopK,
        ["features"] = new JsonArray([.. Features.Select(f => (JsonNode)f.ToJson())]),
        ["skipped"] = new JsonArray([.. Skipped.Select(s => (JsonNode)new JsonObject { ["name"] = s.Name, ["type"] = s.Type, ["reason"] = s.Reason })]),
    };

    /// <summary>
    /// Reads a profile written by <see cref="ToJson"/>; anything else (not JSON, another format or version, a
    /// missing field) is a <see cref="RequestException"/> on field <c>baseline</c> naming <paramref name="source"/>.
    /// </summary>
    public static DatasetProfile Parse(string json, string source)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw Bad(source, $"is not JSON ({e.Message})");
        }

        if (root is not JsonObject o || Text(o, "format") != Format)
        {
            throw Bad(source, $"is not a Freshet profile (no \"format\": \"{Format}\"); write one with `freshet profile DATASET --out FILE`");
        }

        if (o["version"] is not JsonValue v || !v.TryGetValue<int>(out var version) || version != FormatVersion)
        {
            throw Bad(source, $"has profile format version {o["version"]?.ToJsonString() ?? "(none)"}, but this version of Freshet reads version {FormatVersion}; profile the dataset again");
        }

        try
        {
            var features = (o["features"] as JsonArray ?? throw Missing("features")).Select(n => FeatureProfile.FromJson(n as JsonObject ?? throw Missing("features[]"))).ToList();
            var skipped = (o["skipped"] as JsonArray ?? []).Select(n => new SkippedColumn(Text(n!.AsObject(), "name") ?? "", Text(n.AsObject(), "type") ?? "", Text(n.AsObject(), "reason") ?? "")).ToList();
            return new DatasetProfile(
                Text(o, "dataset") ?? "",
                DateTimeOffset.Parse(Text(o, "created_at") ?? throw Missing("created_at"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
                o["rows"]?.GetValue<long>() ?? throw Missing("rows"),
                o["bins"]?.GetValue<int>() ?? throw Missing("bins"),
                o["top_k"]?.GetValue<int>() ?? throw Missing("top_k"),
                features,
                skipped);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException)
        {
            throw Bad(source, $"is not a valid profile: {e.Message}");
        }
    }

    internal static string? Text(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    internal static InvalidOperationException Missing(string field) => new($"'{field}' is missing or of the wrong kind");

    private static RequestException Bad(string source, string what) => new("baseline", "bad_profile", $"profile '{source}' {what}");
}

/// <summary>How a column is profiled.</summary>
public enum FeatureKind
{
    /// <summary>Numbers: moments, quantiles and quantile bins.</summary>
    Numeric,

    /// <summary>Strings and booleans: distinct count and the most frequent values.</summary>
    Categorical,
}

/// <summary>One value and its share of the non-null values.</summary>
public sealed record CategoryShare(string Value, double Proportion);

/// <summary>
/// The statistics of one feature. <see cref="Count"/> counts non-null values, <see cref="Nulls"/> nulls; proportions
/// are shares of the non-null values. Numeric bins: <c>(-inf, e0], (e0, e1], ..., (e_last, +inf)</c> over the
/// ascending, distinct <see cref="Edges"/>.
/// </summary>
public sealed record FeatureProfile(string Name, FeatureKind Kind, string Type, long Count, long Nulls)
{
    /// <summary>Smallest value (numeric).</summary>
    public double? Min { get; init; }

    /// <summary>Largest value (numeric).</summary>
    public double? Max { get; init; }

    /// <summary>Mean (numeric).</summary>
    public double? Mean { get; init; }

    /// <summary>Sample standard deviation (n − 1; numeric; null below two values).</summary>
    public double? Stddev { get; init; }

    /// <summary>The <see cref="DatasetProfile.ReportedQuantiles"/> by name, linear interpolation (numeric).</summary>
    public IReadOnlyDictionary<string, double> Quantiles { get; init; } = new Dictionary<string, double>();

    /// <summary>Inner bin edges (numeric).</summary>
    public IReadOnlyList<double> Edges { get; init; } = [];

    /// <summary>The share of values in each bin: one more than the edges (numeric); categorical: top values then other.</summary>
    public IReadOnlyList<double> Proportions { get; init; } = [];

    /// <summary>Distinct non-null values (categorical).</summary>
    public long Distinct { get; init; }

    /// <summary>The most frequent values, most frequent first (categorical).</summary>
    public IReadOnlyList<CategoryShare> Top { get; init; } = [];

    /// <summary>The share of the values not in <see cref="Top"/> (categorical).</summary>
    public double Other { get; init; }

    /// <summary>The expected shares the drift check compares with: the bins, or the top values then other.</summary>
    public IReadOnlyList<double> Expected => Kind == FeatureKind.Numeric ? Proportions : [.. Top.Select(t => t.Proportion), Other];

    internal JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["name"] = Name,
            ["kind"] = Kind == FeatureKind.Numeric ? "numeric" : "categorical",
            ["type"] = Type,
            ["count"] = Count,
            ["nulls"] = Nulls,
        };
        if (Kind == FeatureKind.Numeric)
        {
            o["min"] = Min;
            o["max"] = Max;
            o["mean"] = Mean;
            o["stddev"] = Stddev;
            var q = new JsonObject();
            foreach (var (name, value) in Quantiles)
            {
                q[name] = value;
            }

            o["quantiles"] = q;
            o["bins"] = new JsonObject
            {
                ["edges"] = new JsonArray([.. Edges.Select(e => (JsonNode)e)]),
                ["proportions"] = new JsonArray([.. Proportions.Select(p => (JsonNode)p)]),
            };
        }
        else
        {
            o["distinct"] = Distinct;
            o["top"] = new JsonArray([.. Top.Select(t => (JsonNode)new JsonObject { ["value"] = t.Value, ["proportion"] = t.Proportion })]);
            o["other"] = Other;
        }

        return o;
    }

    internal static FeatureProfile FromJson(JsonObject o)
    {
        var name = DatasetProfile.Text(o, "name") ?? throw DatasetProfile.Missing("name");
        var kind = DatasetProfile.Text(o, "kind") switch
        {
            "numeric" => FeatureKind.Numeric,
            "categorical" => FeatureKind.Categorical,
            var k => throw new InvalidOperationException($"feature '{name}': unknown kind '{k}'"),
        };
        var profile = new FeatureProfile(name, kind, DatasetProfile.Text(o, "type") ?? "", o["count"]?.GetValue<long>() ?? 0, o["nulls"]?.GetValue<long>() ?? 0);
        if (kind == FeatureKind.Numeric)
        {
            var bins = o["bins"] as JsonObject ?? throw DatasetProfile.Missing($"{name}.bins");
            var edges = (bins["edges"] as JsonArray ?? throw DatasetProfile.Missing($"{name}.bins.edges")).Select(n => n!.GetValue<double>()).ToArray();
            var proportions = (bins["proportions"] as JsonArray ?? throw DatasetProfile.Missing($"{name}.bins.proportions")).Select(n => n!.GetValue<double>()).ToArray();
            if (proportions.Length != 0 && proportions.Length != edges.Length + 1)
            {
                throw new InvalidOperationException($"feature '{name}': {edges.Length} edges need {edges.Length + 1} proportions, not {proportions.Length}");
            }

            return profile with
            {
                Min = o["min"]?.GetValue<double>(),
                Max = o["max"]?.GetValue<double>(),
                Mean = o["mean"]?.GetValue<double>(),
                Stddev = o["stddev"]?.GetValue<double>(),
                Quantiles = (o["quantiles"] as JsonObject ?? []).ToDictionary(p => p.Key, p => p.Value!.GetValue<double>()),
                Edges = edges,
                Proportions = proportions,
            };
        }

        return profile with
        {
            Distinct = o["distinct"]?.GetValue<long>() ?? 0,
            Top = [.. (o["top"] as JsonArray ?? throw DatasetProfile.Missing($"{name}.top")).Select(n => new CategoryShare(DatasetProfile.Text(n!.AsObject(), "value") ?? "", n["proportion"]!.GetValue<double>()))],
            Other = o["other"]?.GetValue<double>() ?? 0,
        };
    }
}

/// <summary>A column the profile leaves out, and why (a time column, a join key, a type without statistics).</summary>
public sealed record SkippedColumn(string Name, string Type, string Reason);
