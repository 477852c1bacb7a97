using System.Text.Json;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Server.Http;

/// <summary>
/// Reads Feast's JSON request bodies with <see cref="Utf8JsonReader"/>. Every problem becomes a
/// <see cref="RequestException"/> naming the field (a 400), never an unhandled exception.
/// </summary>
internal static class FeastJsonReader
{
    private static readonly JsonReaderOptions Options = new() { MaxDepth = 8, CommentHandling = JsonCommentHandling.Disallow };

    public static OnlineRequest ReadGetOnlineFeatures(ReadOnlySpan<byte> body)
    {
        var reader = Start(body);
        List<string>? features = null;
        string? service = null;
        Dictionary<string, FeatureValue[]>? entities = null;
        var fullNames = false;
        while (NextProperty(ref reader, out var name))
        {
            switch (name)
            {
                case "features":
                    features = ReadStringList(ref reader, "features");
                    break;
                case "feature_service":
                    service = ReadString(ref reader, "feature_service");
                    break;
                case "entities":
                case "request_context":
                    // Request-time inputs may come in either; Feast's HTTP clients put them in entities.
                    entities ??= new Dictionary<string, FeatureValue[]>(StringComparer.Ordinal);
                    ReadColumns(ref reader, name, entities);
                    break;
                case "full_feature_names":
                    fullNames = ReadBool(ref reader, name);
                    break;
                case "include_feature_view_version_metadata":
                    ReadBool(ref reader, name);
                    break;
                default:
                    throw new RequestException(name, "unknown_field", $"unknown field '{name}'; expected features or feature_service, entities, full_feature_names");
            }
        }

        Finish(ref reader);
        return new OnlineRequest
        {
            Features = features,
            FeatureService = service,
            Entities = entities ?? new Dictionary<string, FeatureValue[]>(),
            FullFeatureNames = fullNames,
        };
    }

    public static (string Source, ColumnTable Rows, PushTarget To) ReadPush(ReadOnlySpan<byte> body)
    {
        var reader = Start(body);
        string? source = null;
        Dictionary<string, FeatureValue[]>? df = null;
        var to = PushTarget.Online;
        while (NextProperty(ref reader, out var name))
        {
            switch (name)
            {
                case "push_source_name":
                    source = ReadString(ref reader, name);
                    break;
                case "df":
                    df = new Dictionary<string, FeatureValue[]>(StringComparer.Ordinal);
                    ReadColumns(ref reader, "df", df);
                    break;
                case "to":
                    var text = ReadString(ref reader, name);
                    to = text switch
                    {
                        "online" => PushTarget.Online,
                        "offline" => PushTarget.Offline,
                        "online_and_offline" => PushTarget.OnlineAndOffline,
                        _ => throw new RequestException("to", "bad_value", $"'to' is online, offline or online_and_offline, not '{text}'"),
                    };
                    break;
                case "allow_registry_cache":
                    ReadBool(ref reader, name);
                    break;
                default:
                    throw new RequestException(name, "unknown_field", $"unknown field '{name}'; expected push_source_name, df, to");
            }
        }

        Finish(ref reader);
        return (source ?? throw new RequestException("push_source_name", "missing_field", "'push_source_name' is required"),
            new ColumnTable(df ?? throw new RequestException("df", "missing_field", "'df' is required: columns of rows to push")),
            to);
    }

    public static (string View, ColumnTable Rows) ReadWriteToOnlineStore(ReadOnlySpan<byte> body)
    {
        var reader = Start(body);
        string? view = null;
        Dictionary<string, FeatureValue[]>? df = null;
        while (NextProperty(ref reader, out var name))
        {
            switch (name)
            {
                case "feature_view_name":
                    view = ReadString(ref reader, name);
                    break;
                case "df":
                    df = new Dictionary<string, FeatureValue[]>(StringComparer.Ordinal);
                    ReadColumns(ref reader, "df", df);
                    break;
                case "allow_registry_cache":
                    ReadBool(ref reader, name);
                    break;
                default:
                    throw new RequestException(name, "unknown_field", $"unknown field '{name}'; expected feature_view_name, df");
            }
        }

        Finish(ref reader);
        return (view ?? throw new RequestException("feature_view_name", "missing_field", "'feature_view_name' is required"),
            new ColumnTable(df ?? throw new RequestException("df", "missing_field", "'df' is required: columns of rows to write")));
    }

    public static (DateTimeOffset? Start, DateTimeOffset End, IReadOnlyList<string>? Views) ReadMaterialize(ReadOnlySpan<byte> body, bool incremental)
    {
        var reader = Start(body);
        DateTimeOffset? start = null, end = null;
        List<string>? views = null;
        while (NextProperty(ref reader, out var name))
        {
            switch (name)
            {
                case "start_ts" when !incremental:
                    start = ReadTime(ref reader, name);
                    break;
                case "end_ts":
                    end = ReadTime(ref reader, name);
                    break;
                case "feature_views":
                    views = reader.TokenType == JsonTokenType.Null ? null : ReadStringList(ref reader, name);
                    break;
                default:
                    throw new RequestException(name, "unknown_field", incremental
                        ? $"unknown field '{name}'; expected end_ts, feature_views"
                        : $"unknown field '{name}'; expected start_ts, end_ts, feature_views");
            }
        }

        Finish(ref reader);
        if (!incremental && start is null)
        {
            throw new RequestException("start_ts", "missing_field", "'start_ts' is required");
        }

        return (start, end ?? throw new RequestException("end_ts", "missing_field", "'end_ts' is required"), views);
    }

    private static Utf8JsonReader Start(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            throw new RequestException("body", "empty_body", "the request body is empty; send a JSON object");
        }

        var reader = new Utf8JsonReader(body, Options);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new RequestException("body", "bad_json", "the request body must be a JSON object");
        }

        return reader;
    }

    /// <summary>Nothing but white space may follow the request object.</summary>
    private static void Finish(ref Utf8JsonReader reader)
    {
        if (reader.Read())
        {
            throw new RequestException("body", "bad_json", "the body has content after its JSON object");
        }
    }

    /// <summary>Moves to the next property's value; false at the end of the object (<paramref name="field"/>, for errors).</summary>
    private static bool NextProperty(ref Utf8JsonReader reader, out string name, string field = "body")
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.EndObject)
        {
            name = "";
            return false;
        }

        name = Text(ref reader, field);
        reader.Read();
        return true;
    }

    /// <summary>
    /// The string at the reader. Its bytes may be invalid UTF-8, or an escape may be no valid UTF-16 (a lone
    /// surrogate such as \ud800): both are the client's error, naming the field, where the reader throws.
    /// </summary>
    private static string Text(ref Utf8JsonReader reader, string field)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException e) when (e.InnerException is System.Text.DecoderFallbackException)
        {
            throw new RequestException(field, "bad_utf8", $"'{field}' holds bytes that are not valid UTF-8");
        }
        catch (InvalidOperationException)
        {
            throw new RequestException(field, "bad_escape", $"'{field}' holds a \\u escape that is not valid UTF-16 (a lone surrogate)");
        }
    }

    private static string ReadString(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new RequestException(field, "wrong_type", $"'{field}' must be a string");
        }

        return Text(ref reader, field);
    }

    private static bool ReadBool(ref Utf8JsonReader reader, string field) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        _ => throw new RequestException(field, "wrong_type", $"'{field}' must be true or false"),
    };

    private static DateTimeOffset ReadTime(ref Utf8JsonReader reader, string field)
    {
        var text = ReadString(ref reader, field);
        return ValueCoercion.TryParseTimestamp(text, out var micros)
            ? Micros.ToDateTimeOffset(micros)
            : throw new RequestException(field, "wrong_type", $"'{field}' must be an RFC 3339 time, not '{text}'");
    }

    private static List<string> ReadStringList(ref Utf8JsonReader reader, string field)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new RequestException(field, "wrong_type", $"'{field}' must be a list of strings");
        }

        var list = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new RequestException($"{field}[{list.Count}]", "wrong_type", $"'{field}' must be a list of strings");
            }

            list.Add(Text(ref reader, $"{field}[{list.Count}]"));
        }

        return list;
    }

    private static void ReadColumns(ref Utf8JsonReader reader, string field, Dictionary<string, FeatureValue[]> columns)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new RequestException(field, "wrong_type", $"'{field}' must be an object of column name to list of values");
        }

        while (NextProperty(ref reader, out var name, field))
        {
            var path = $"{field}.{name}";
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                throw new RequestException(path, "wrong_type", $"'{path}' must be a list of values (one per row)");
            }

            var values = new List<FeatureValue>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                values.Add(ReadValue(ref reader, path, values.Count, allowList: true));
            }

            if (!columns.TryAdd(name, [.. values]))
            {
                throw new RequestException(path, "duplicate_column", $"column '{name}' is given twice");
            }
        }
    }

    /// <summary>
    /// Reads one value of <paramref name="path"/> at <paramref name="index"/>; the field name of an error
    /// (<c>path[index]</c>) is built only when there is one, not for every value of a request.
    /// </summary>
    private static FeatureValue ReadValue(ref Utf8JsonReader reader, string path, int index, bool allowList)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                return reader.TryGetInt64(out var l) ? FeatureValue.FromInt64(l)
                    : reader.TryGetDouble(out var d) && double.IsFinite(d) ? FeatureValue.FromFloat64(d)
                    : throw new RequestException(Item(path, index), "bad_number", $"'{Item(path, index)}' is a number out of range");
            case JsonTokenType.String:
                return FeatureValue.FromString(ItemText(ref reader, path, index));
            case JsonTokenType.True:
                return FeatureValue.FromBool(true);
            case JsonTokenType.False:
                return FeatureValue.FromBool(false);
            case JsonTokenType.Null:
                return FeatureValue.Null;
            case JsonTokenType.StartArray when allowList:
                return ReadList(ref reader, Item(path, index));
            default:
                throw new RequestException(Item(path, index), "wrong_type", $"'{Item(path, index)}' must be a number, string, bool, null{(allowList ? " or a list of those" : "")}");
        }
    }

    private static string Item(string path, int index) => $"{path}[{index}]";

    /// <summary><see cref="Text"/> for the value at <c>path[index]</c>, whose name is built only for an error.</summary>
    private static string ItemText(ref Utf8JsonReader reader, string path, int index)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return Text(ref reader, Item(path, index));
        }
    }

    private static FeatureValue ReadList(ref Utf8JsonReader reader, string field)
    {
        var items = new List<FeatureValue>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var item = ReadValue(ref reader, field, items.Count, allowList: false);
            if (item.IsNull)
            {
                throw new RequestException($"{field}[{items.Count}]", "null_in_list", "a list may not hold null");
            }

            items.Add(item);
        }

        if (items.Count == 0 || items.TrueForAll(i => i.Kind == ValueKind.Int64))
        {
            return FeatureValue.FromList(ValueKind.Int64List, items.Select(i => i.AsInt64()).ToArray());
        }

        if (items.TrueForAll(i => i.Kind is ValueKind.Int64 or ValueKind.Float64))
        {
            return FeatureValue.FromList(ValueKind.Float64List, items.Select(i => i.ToDouble()).ToArray());
        }

        if (items.TrueForAll(i => i.Kind == ValueKind.String))
        {
            return FeatureValue.FromList(ValueKind.StringList, items.Select(i => i.AsString()).ToArray());
        }

        if (items.TrueForAll(i => i.Kind == ValueKind.Bool))
        {
            return FeatureValue.FromList(ValueKind.BoolList, items.Select(i => i.AsBool()).ToArray());
        }

        throw new RequestException(field, "mixed_list", "a list must hold values of one type");
    }
}
