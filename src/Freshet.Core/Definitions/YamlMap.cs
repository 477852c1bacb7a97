using System.Globalization;
using Freshet.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Freshet.Definitions;

/// <summary>What the YAML readers share while reading one repo: the current file, the bag, the map.</summary>
internal sealed class ReadContext(DiagnosticBag bag)
{
    public DiagnosticBag Bag { get; } = bag;

    public string File { get; set; } = "";

    public SourcePosition At(Mark mark) => new(File, (int)mark.Line, (int)mark.Column);

    public SourcePosition At(YamlNode node) => At(node.Start);

    public void Error(YamlNode node, string message) => Bag.Report(At(node), message);

    /// <summary>Remembers where the model element at <paramref name="path"/> was written.</summary>
    public void Mark(string path, YamlNode node) => Bag.Map.Set(path, At(node));

    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any } s && (s.Value is null or "" or "~" or "null" or "Null" or "NULL");
}

/// <summary>
/// Reads one YAML mapping as an object: typed getters that report type errors at the value's
/// position, and a final check that reports every key nobody asked for.
/// </summary>
internal sealed class YamlMap
{
    private readonly YamlMappingNode _node;
    private readonly ReadContext _ctx;
    private readonly Dictionary<string, (YamlNode Key, YamlNode Value)> _entries = new(StringComparer.Ordinal);
    private readonly List<string> _known = [];
    private readonly HashSet<string> _missingReported = new(StringComparer.Ordinal);

    public YamlMap(YamlMappingNode node, ReadContext ctx, string path, string what)
    {
        _node = node;
        _ctx = ctx;
        Path = path;
        What = what;
        ctx.Mark(path, node);
        foreach (var (k, v) in node.Children)
        {
            var key = k is YamlScalarNode s ? s.Value ?? "" : "";
            _entries.TryAdd(key, (k, v));
        }
    }

    /// <summary>The model path of this object.</summary>
    public string Path { get; }

    /// <summary>What this object is, for messages ("entity 'driver'").</summary>
    public string What { get; set; }

    public YamlMappingNode Node => _node;

    public ReadContext Context => _ctx;

    /// <summary>Reads a mapping node as an object or reports that it is not one.</summary>
    public static YamlMap? Of(YamlNode node, ReadContext ctx, string path, string what)
    {
        if (node is YamlMappingNode m)
        {
            return new YamlMap(m, ctx, path, what);
        }

        ctx.Error(node, $"{what} must be a mapping of keys to values, not {Describe(node)}");
        return null;
    }

    public static string Describe(YamlNode node) => node switch
    {
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        _ when ReadContext.IsNull(node) => "an empty value",
        YamlScalarNode s => $"the value '{s.Value}'",
        _ => "that",
    };

    public bool Has(string key)
    {
        Remember(key);
        return _entries.TryGetValue(key, out var e) && !ReadContext.IsNull(e.Value);
    }

    public YamlNode? Value(string key)
    {
        Remember(key);
        if (_entries.TryGetValue(key, out var e) && !ReadContext.IsNull(e.Value))
        {
            _ctx.Mark($"{Path}.{key}", e.Value);
            return e.Value;
        }

        return null;
    }

    private void Remember(string key)
    {
        if (!_known.Contains(key))
        {
            _known.Add(key);
        }
    }

    /// <summary>A scalar string; reports a missing required key at the object.</summary>
    public string? String(string key, bool required = false)
    {
        var node = Value(key);
        if (node is null)
        {
            if (required && _missingReported.Add(key))
            {
                _ctx.Error(_node, $"{What}: '{key}' is required");
            }

            return null;
        }

        if (node is YamlScalarNode s)
        {
            return s.Value;
        }

        _ctx.Error(node, $"{What}: '{key}' must be a single value, not {Describe(node)}");
        return null;
    }

    /// <summary>A name (checked as an identifier by the validator, so that YAML and builder report alike).</summary>
    public string? Name(string key = "name", bool required = true) => String(key, required);

    public bool? Bool(string key)
    {
        var node = Value(key);
        var text = String(key);
        if (text is null)
        {
            return null;
        }

        if (bool.TryParse(text, out var b))
        {
            return b;
        }

        _ctx.Error(node!, $"{What}: '{key}' must be true or false, not '{text}'");
        return null;
    }

    public int? Int(string key, int min, int max)
    {
        var node = Value(key);
        var text = String(key);
        if (text is null)
        {
            return null;
        }

        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i) && i >= min && i <= max)
        {
            return i;
        }

        _ctx.Error(node!, $"{What}: '{key}' must be a whole number from {min} to {max}, not '{text}'");
        return null;
    }

    public double? Double(string key)
    {
        var node = Value(key);
        var text = String(key);
        if (text is null)
        {
            return null;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
        {
            return d;
        }

        _ctx.Error(node!, $"{What}: '{key}' must be a number, not '{text}'");
        return null;
    }

    public TimeSpan? Duration(string key)
    {
        var node = Value(key);
        var text = String(key);
        if (text is null)
        {
            return null;
        }

        if (Durations.TryParse(text, out var value, out var error))
        {
            return value;
        }

        _ctx.Error(node!, $"{What}: '{key}': {error}");
        return null;
    }

    public FeatureType? Type(string key, bool required)
    {
        var node = Value(key);
        var text = String(key, required);
        if (text is null)
        {
            return null;
        }

        if (FeatureType.TryParse(text, out var type, out var error))
        {
            return type;
        }

        _ctx.Error(node!, $"{What}: {error}");
        return null;
    }

    /// <summary>The items of a list, each with its model path; a single scalar is taken as a list of one.</summary>
    public IReadOnlyList<(YamlNode Node, string Path)> List(string key, bool required = false)
    {
        var node = Value(key);
        if (node is null)
        {
            if (required && _missingReported.Add(key))
            {
                _ctx.Error(_node, $"{What}: '{key}' is required");
            }

            return [];
        }

        if (node is YamlSequenceNode seq)
        {
            var items = new List<(YamlNode, string)>(seq.Children.Count);
            for (var i = 0; i < seq.Children.Count; i++)
            {
                var path = $"{Path}.{key}[{i}]";
                _ctx.Mark(path, seq.Children[i]);
                items.Add((seq.Children[i], path));
            }

            return items;
        }

        if (node is YamlScalarNode)
        {
            var path = $"{Path}.{key}[0]";
            _ctx.Mark(path, node);
            return [(node, path)];
        }

        _ctx.Error(node, $"{What}: '{key}' must be a list, not {Describe(node)}");
        return [];
    }

    /// <summary>A list of names (entity, input and feature references).</summary>
    public IReadOnlyList<string> StringList(string key, bool required = false)
    {
        var result = new List<string>();
        foreach (var (node, _) in List(key, required))
        {
            if (node is YamlScalarNode s && !ReadContext.IsNull(s))
            {
                result.Add(s.Value ?? "");
            }
            else
            {
                _ctx.Error(node, $"{What}: each item of '{key}' must be a single value, not {Describe(node)}");
            }
        }

        return result;
    }

    public IReadOnlyDictionary<string, string> Tags(string key = "tags")
    {
        var node = Value(key);
        if (node is null)
        {
            return Metadata.NoTags;
        }

        if (node is not YamlMappingNode m)
        {
            _ctx.Error(node, $"{What}: '{key}' must be a mapping of names to values, not {Describe(node)}");
            return Metadata.NoTags;
        }

        var tags = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in m.Children)
        {
            if (k is YamlScalarNode ks && v is YamlScalarNode vs)
            {
                tags[ks.Value ?? ""] = vs.Value ?? "";
            }
            else
            {
                _ctx.Error(v, $"{What}: tag values must be single values, not {Describe(v)}");
            }
        }

        return tags;
    }

    /// <summary>Reports every key that no getter asked for, with the keys that are accepted.</summary>
    public void ReportUnknownKeys()
    {
        foreach (var (key, (keyNode, _)) in _entries)
        {
            if (!_known.Contains(key))
            {
                _ctx.Error(keyNode, $"{What}: unknown key '{key}'{Suggest.Hint(key, _known)}");
            }
        }
    }
}
