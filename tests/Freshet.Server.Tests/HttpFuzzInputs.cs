using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Freshet.Server.Tests;

/// <summary>One generated request: what to send, and which generator case made it (for the failure report).</summary>
internal sealed record FuzzRequest(string Method, string Path, string? ContentType, byte[]? Body, string Case);

/// <summary>An HTTP path of the server under fuzz, the method it answers and the valid bodies its mutations start from.</summary>
internal sealed record FuzzEndpoint(string Path, string Method, string[] ValidBodies);

/// <summary>
/// Malformed and random requests for <see cref="HttpFuzzTests"/>, reproducible from (seed, index): request
/// <c>i</c> of a campaign is <c>Generate(endpoint, seed, i)</c> whatever the concurrency, so a failure is rerun from
/// its index. Most requests are structure-aware mutations of a valid body (a field dropped, replaced, duplicated,
/// retyped; random feature, view, entity names and timestamps) so that the deep code paths behind the parser are
/// reached; the rest are byte-level damage (truncation, invalid UTF-8, random bytes), deep nesting, huge numbers,
/// long strings, empty bodies, odd content types and wrong methods.
/// </summary>
internal static class HttpFuzzInputs
{
    /// <summary>A driver id no generated request uses: the sentinel row that must survive the campaign.</summary>
    public const long SentinelDriver = 987_654_321_012;

    /// <summary>Marks a string node that serialization replaces by raw text (numbers and nesting JSON nodes cannot hold).</summary>
    private const string RawMarker = "\u0001RAW:";

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The raw texts of the request being generated (generation is synchronous, one per thread).</summary>
    [ThreadStatic]
    private static List<string>? _raw;

    private static readonly string[] Times =
    [
        "2026-01-01T00:00:00Z", "2026-01-01T00:30:00.123456Z", "2026-01-01T00:59:59+02:00", "2025-12-31T23:00:00Z",
        "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z", "2026-02-30T00:00:00Z",
        "2026-01-01", "2026-01-01T25:00:00Z", "2026-01-01T00:00:00", "yesterday", "", "1767225600", "-62135596800",
        "2026-01-01T00:00:00.000000000000000000001Z", "2026-01-01T00:00:00Z\u0000", "+275760-09-13T00:00:00Z",
    ];

    private static readonly string[] Names =
    [
        "driver_stats", "last_tx", "tx_stats", "derived", "model", "tx_service", "driver_push", "tx", "req",
        "driver_stats:conv_rate", "driver_stats:trips", "driver_stats:city", "driver_stats:tags", "last_tx:amount",
        "tx_stats:count_1h", "tx_stats:amount_sum_1d", "tx_stats:amount_max_10m", "derived:conv_plus", "derived:busy",
        "derived:trips_or_zero", "driver_stats:nope", "nope:conv_rate", "driver_stats:", ":conv_rate", ":", "a:b:c",
        "driver_stats:conv_rate:x", "driver_id", "account_id", "val_to_add", "factor", "ts", "conv_rate", "trips", "city",
        "amount", "merchant", "idempotency_key", "event_timestamp", "created", "__proto__", "ÿ", "名前", "\ud83d\ude00",
        "a\u0000b", "driver_stats:conv\u0000rate", " driver_stats:conv_rate", "DRIVER_STATS:CONV_RATE", "online", "offline",
        "online_and_offline", "NaN", "-Infinity", "Infinity", "1e400", "-0", "18446744073709551616", "0x10", "true", "null",
    ];

    private static readonly string[] RawNumbers =
    [
        "0", "-0", "1", "-1", "1e400", "-1e400", "1e-400", "18446744073709551616", "18446744073709551615",
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809", "2147483648",
        "-2147483649", "3.4028235e38", "3.5e38", "1.7976931348623157e308", "4.9e-324", "0.1", "1.5", "-0.0", "1E2",
        "123456789012345678901234567890", "0.000000000000000000000000000001", "1e+0", "-1e-0",
        "1" + new string('0', 500),
    ];

    private static readonly string[] TopLevel =
    [
        "null", "[]", "{}", "\"text\"", "1", "true", "[{}]", "{\"a\":", "{", "}", "\uFEFF{}", " ", "\t\r\n", "{}{}",
        "{\"features\":[]}//c", "{/*c*/}", "{'features': []}", "{\"features\":[],}", "{features:[]}", "NaN", "Infinity",
    ];

    private static readonly string[] ContentTypes =
    [
        "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16",
        "application/json; charset=latin1", "application/octet-stream", "*/*", "garbage", "application/json;;;", "",
    ];

    private static readonly string[] WrongMethods = ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FOO", "CONNECTX"];

    private static readonly string[] UnknownPaths =
    [
        "/", "/get-online-features/", "/get-online-features/x", "/getonlinefeatures", "/push/1", "/push.json",
        "/materialize/../push", "/%2e%2e/push", "//push", "/metrics/x", "/stats", "/stats/online-store/x", "/ready/",
        "/health/../../etc/passwd", "/api/v1/features", "/%00", "/%ff%fe", "/a%20b", "/" + new string('x', 2000),
        "/feast.serving.ServingService/GetOnlineFeatures", "/freshet.v1.PushService/Push", "/favicon.ico",
    ];

    /// <summary>The endpoints of the fuzz repository (<see cref="HttpFuzzTests"/>) with a valid body or two each.</summary>
    public static IReadOnlyList<FuzzEndpoint> Endpoints { get; } =
    [
        new("/get-online-features", "POST",
        [
            """{"features":["driver_stats:conv_rate","driver_stats:trips","driver_stats:city","driver_stats:tags"],"entities":{"driver_id":[1,2,3]},"full_feature_names":false}""",
            """{"feature_service":"model","entities":{"driver_id":[1,2],"val_to_add":[10,20],"factor":[1.5,2.0]}}""",
            """{"features":["tx_stats:count_1h","tx_stats:amount_sum_1d","tx_stats:amount_max_10m","last_tx:amount"],"entities":{"account_id":["a1","a2"]},"full_feature_names":true}""",
            """{"features":["derived:conv_plus","derived:busy"],"entities":{"driver_id":[1]},"request_context":{"val_to_add":[1],"factor":[0.5]}}""",
            """{"feature_service":"tx_service","entities":{"account_id":["a3"]},"include_feature_view_version_metadata":true}""",
        ]),
        new("/push", "POST",
        [
            """{"push_source_name":"driver_push","df":{"driver_id":[1,2],"conv_rate":[0.5,0.25],"trips":[3,4],"city":["a","b"],"tags":[["x"],[]],"ts":["2026-01-01T00:10:00Z","2026-01-01T00:20:00Z"]},"to":"online"}""",
            """{"push_source_name":"tx","df":{"account_id":["a1","a2"],"amount":[1.5,2],"merchant":["m","n"],"ts":["2026-01-01T00:30:00Z","2026-01-01T00:40:00Z"]}}""",
            """{"push_source_name":"tx","df":{"account_id":["a3"],"amount":[7],"merchant":["m"],"ts":["2026-01-01T00:50:00Z"],"idempotency_key":["k1"]},"allow_registry_cache":true}""",
        ]),
        new("/write-to-online-store", "POST",
        [
            """{"feature_view_name":"driver_stats","df":{"driver_id":[4,5],"conv_rate":[0.1,0.2],"trips":[1,2],"city":["c","d"],"tags":[["t"],["u","v"]],"ts":["2026-01-01T00:00:00Z","2026-01-01T00:05:00Z"]}}""",
            """{"feature_view_name":"last_tx","df":{"account_id":["a4"],"amount":[3.25],"merchant":["q"],"ts":["2026-01-01T00:15:00Z"]},"allow_registry_cache":false}""",
        ]),
        new("/materialize", "POST",
        [
            """{"start_ts":"2026-01-01T00:00:00Z","end_ts":"2026-01-01T01:00:00Z","feature_views":["driver_stats"]}""",
            """{"start_ts":"2025-12-31T00:00:00Z","end_ts":"2026-01-01T00:00:00Z"}""",
        ]),
        new("/materialize-incremental", "POST",
        [
            """{"end_ts":"2026-01-01T01:00:00Z","feature_views":["driver_stats"]}""",
            """{"end_ts":"2026-01-01T00:30:00Z","feature_views":null}""",
        ]),
        new("/freshness", "GET", []),
        new("/health", "GET", []),
        new("/ready", "GET", []),
        new("/metrics", "GET", []),
        new("/stats/online-store", "GET", []),
    ];

    /// <summary>The pseudo-endpoint of unknown paths (any method).</summary>
    public static FuzzEndpoint UnknownPath { get; } = new("(unknown path)", "POST", []);

    /// <summary>Request <paramref name="index"/> of a campaign with <paramref name="seed"/> against <paramref name="endpoint"/>.</summary>
    public static FuzzRequest Generate(FuzzEndpoint endpoint, int seed, long index)
    {
        var rng = new Random(HashCode.Combine(seed, index, endpoint.Path));
        _raw ??= [];
        _raw.Clear();
        if (ReferenceEquals(endpoint, UnknownPath))
        {
            var path = UnknownPaths[rng.Next(UnknownPaths.Length)];
            var method = rng.Next(3) == 0 ? "GET" : Pick(rng, ["POST", .. WrongMethods]);
            return new FuzzRequest(method, path, "application/json", method is "GET" or "HEAD" or "TRACE" ? null : Body(endpoint, rng, out _), "unknown_path");
        }

        var roll = rng.Next(100);
        if (roll < 4)
        {
            var method = Pick<string>(rng, endpoint.Method == "GET" ? ["POST", .. WrongMethods] : ["GET", .. WrongMethods]);
            return new FuzzRequest(method, endpoint.Path, "application/json", method is "GET" or "HEAD" or "TRACE" ? null : RandomBytes(rng, 64), "wrong_method");
        }

        if (endpoint.Method == "GET")
        {
            // A GET takes no body; what a client can get wrong is the query, a stray body and the content type.
            var query = roll < 50 ? "" : "?" + RandomQuery(rng);
            var body = rng.Next(4) == 0 ? Body(endpoint, rng, out _) : null;
            return new FuzzRequest("GET", endpoint.Path + query, ContentType(rng), body, body is null ? "get" : "get_with_body");
        }

        var bytes = Body(endpoint, rng, out var kind);
        return new FuzzRequest("POST", endpoint.Path, ContentType(rng), bytes, kind);
    }

    /// <summary>A body of <paramref name="entityValues"/> driver ids in one entity column (giant arrays).</summary>
    public static byte[] GiantEntityArray(int entityValues)
    {
        var sb = new StringBuilder("""{"features":["driver_stats:conv_rate"],"entities":{"driver_id":[""", entityValues * 2 + 100);
        for (var i = 0; i < entityValues; i++)
        {
            sb.Append(i == 0 ? "" : ",").Append(i % 10);
        }

        return Encoding.UTF8.GetBytes(sb.Append("]}}").ToString());
    }

    /// <summary>A push to <c>tx</c> of <paramref name="rows"/> rows.</summary>
    public static byte[] GiantPush(int rows)
    {
        var sb = new StringBuilder("""{"push_source_name":"tx","df":{"account_id":[""", rows * 20);
        for (var i = 0; i < rows; i++)
        {
            sb.Append(i == 0 ? "\"g" : ",\"g").Append(i % 97).Append('"');
        }

        sb.Append("""],"amount":[""");
        for (var i = 0; i < rows; i++)
        {
            sb.Append(i == 0 ? "" : ",").Append(i % 13).Append(".5");
        }

        sb.Append("""],"merchant":[""");
        for (var i = 0; i < rows; i++)
        {
            sb.Append(i == 0 ? "\"m\"" : ",\"m\"");
        }

        sb.Append("""],"ts":[""");
        for (var i = 0; i < rows; i++)
        {
            sb.Append(i == 0 ? "" : ",").Append("\"2026-01-01T00:3").Append(i % 10).Append(":00Z\"");
        }

        return Encoding.UTF8.GetBytes(sb.Append("]}}").ToString());
    }

    private static byte[] Body(FuzzEndpoint endpoint, Random rng, out string kind)
    {
        var valid = endpoint.ValidBodies.Length == 0 ? Endpoints[rng.Next(5)].ValidBodies : endpoint.ValidBodies;
        var template = valid[rng.Next(valid.Length)];
        var roll = rng.Next(1000);
        switch (roll)
        {
            case < 20:
                kind = "empty";
                return [];
            case < 50:
                kind = "top_level";
                return Encoding.UTF8.GetBytes(Pick(rng, TopLevel));
            case < 80:
                kind = "random_bytes";
                return RandomBytes(rng, rng.Next(1, 2048));
            case < 100:
                kind = "deep_nesting";
                return Encoding.UTF8.GetBytes(Deep(rng, template));
            case < 115:
                kind = "duplicate_keys";
                return Encoding.UTF8.GetBytes(DuplicateKey(rng, template));
            case < 120:
                kind = "long_string";
                return Encoding.UTF8.GetBytes(Replace(rng, template, JsonValue.Create(new string(Pick(rng, ['x', 'é', '"', '\\', ':']), rng.Next(10_000, 200_000)))));
            case < 200:
                kind = "bytes_damaged";
                return Damage(rng, Encoding.UTF8.GetBytes(Mutate(rng, template, rng.Next(3))));
            case < 230:
                kind = "valid";
                return Encoding.UTF8.GetBytes(template);
            default:
                kind = "mutated";
                return Encoding.UTF8.GetBytes(Mutate(rng, template, 1 + rng.Next(3)));
        }
    }

    /// <summary>Applies <paramref name="count"/> structure-aware mutations to a valid JSON body.</summary>
    private static string Mutate(Random rng, string template, int count)
    {
        var root = JsonNode.Parse(template)!;
        for (var i = 0; i < count; i++)
        {
            root = MutateOnce(rng, root);
        }

        return Serialize(root);
    }

    private static JsonNode MutateOnce(Random rng, JsonNode root)
    {
        var nodes = new List<JsonNode>();
        Collect(root, nodes);
        var target = nodes[rng.Next(nodes.Count)];
        switch (rng.Next(9))
        {
            case 0 when target.Parent is JsonObject parent:
                parent.Remove(target.GetPropertyName());
                return root;
            case 1 when target is JsonObject obj:
                obj[Pick(rng, Names) + (rng.Next(4) == 0 ? "_x" : "")] = RandomValue(rng, 2);
                return root;
            case 2 when target is JsonArray array:
                // Change the length: drop or add elements like the ones there (row counts that disagree).
                if (array.Count > 0 && rng.Next(2) == 0)
                {
                    array.RemoveAt(rng.Next(array.Count));
                }
                else
                {
                    array.Add(array.Count > 0 && rng.Next(2) == 0 ? array[rng.Next(array.Count)]?.DeepClone() : RandomValue(rng, 1));
                }

                return root;
            case 3 when target.Parent is JsonObject parent:
                // Rename a field: a typo, or a known name in the wrong place.
                var name = target.GetPropertyName();
                parent.Remove(name);
                parent[rng.Next(2) == 0 ? Pick(rng, Names) : name + "_"] = target;
                return root;
            case 4:
                return ReplaceNode(root, target, JsonValue.Create(Pick(rng, Names)));
            case 5:
                return ReplaceNode(root, target, JsonValue.Create(Pick(rng, Times)));
            case 6:
                return ReplaceNode(root, target, Raw(Pick(rng, RawNumbers)));
            case 7:
                return ReplaceNode(root, target, EntityValue(rng));
            default:
                return ReplaceNode(root, target, RandomValue(rng, 3));
        }
    }

    private static JsonNode ReplaceNode(JsonNode root, JsonNode target, JsonNode? replacement)
    {
        switch (target.Parent)
        {
            case JsonObject parent:
                parent[target.GetPropertyName()] = replacement;
                return root;
            case JsonArray array:
                array[target.GetElementIndex()] = replacement;
                return root;
            default:
                return replacement ?? Raw("null")!;
        }
    }

    private static string Replace(Random rng, string template, JsonNode replacement)
    {
        var root = JsonNode.Parse(template)!;
        var nodes = new List<JsonNode>();
        Collect(root, nodes);
        var target = nodes[1 + rng.Next(nodes.Count - 1)];
        return Serialize(ReplaceNode(root, target, replacement));
    }

    private static void Collect(JsonNode node, List<JsonNode> into)
    {
        into.Add(node);
        if (node is JsonObject obj)
        {
            foreach (var (_, child) in obj)
            {
                if (child is not null)
                {
                    Collect(child, into);
                }
            }
        }
        else if (node is JsonArray array)
        {
            foreach (var child in array)
            {
                if (child is not null)
                {
                    Collect(child, into);
                }
            }
        }
    }

    private static JsonNode? RandomValue(Random rng, int depth)
    {
        switch (rng.Next(depth > 0 ? 10 : 7))
        {
            case 0:
                return null;
            case 1:
                return JsonValue.Create(rng.Next(2) == 0);
            case 2:
                return Raw(Pick(rng, RawNumbers));
            case 3:
                return JsonValue.Create(rng.Next(-5, 100));
            case 4:
                return JsonValue.Create(Pick(rng, Names));
            case 5:
                return JsonValue.Create(Pick(rng, Times));
            case 6:
                return rng.Next(4) == 0 ? EntityValue(rng) : JsonValue.Create(RandomString(rng));
            case 7:
            case 8:
                var array = new JsonArray();
                for (var i = rng.Next(4); i > 0; i--)
                {
                    array.Add(RandomValue(rng, depth - 1));
                }

                return array;
            default:
                var obj = new JsonObject();
                for (var i = rng.Next(3); i > 0; i--)
                {
                    obj[Pick(rng, Names) + i.ToString(CultureInfo.InvariantCulture)] = RandomValue(rng, depth - 1);
                }

                return obj;
        }
    }

    /// <summary>An entity key: mostly from a small pool (so reads find rows), sometimes odd; never the sentinel.</summary>
    private static JsonNode? EntityValue(Random rng) => rng.Next(6) switch
    {
        0 => JsonValue.Create(rng.Next(0, 20)),
        1 => JsonValue.Create("a" + rng.Next(0, 20).ToString(CultureInfo.InvariantCulture)),
        2 => new JsonArray(JsonValue.Create(rng.Next(0, 20)), JsonValue.Create(rng.Next(0, 20))),
        3 => Raw(Pick(rng, ["\"\\ud800\"", "\"\\udc00x\"", "\"a\\u0000b\"", "\"\\\"\"", "\"\\q\"", "\"\t\"", "-0", "1.0", "1e2"])),
        4 => null,
        _ => JsonValue.Create(RandomString(rng)),
    };

    private static string RandomString(Random rng)
    {
        var length = rng.Next(4) == 0 ? rng.Next(100, 3000) : rng.Next(0, 12);
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = rng.Next(8) switch
            {
                0 => (char)rng.Next(0, 32),
                1 => (char)rng.Next(0xE000, 0x10000),
                2 => (char)rng.Next(0x80, 0x3000),
                _ => (char)rng.Next('a', 'z' + 1),
            };
        }

        return new string(chars);
    }

    /// <summary>A placeholder node that <see cref="Serialize"/> replaces by <paramref name="text"/> as it is.</summary>
    private static JsonNode Raw(string text)
    {
        _raw!.Add(text);
        return JsonValue.Create(RawMarker + (_raw.Count - 1).ToString(CultureInfo.InvariantCulture));
    }

    private static string Serialize(JsonNode root)
    {
        var text = root.ToJsonString(Relaxed);
        const string quoted = "\"\\u0001RAW:";
        if (!text.Contains(quoted, StringComparison.Ordinal))
        {
            return text;
        }

        // "\u0001RAW:3" (a quoted marker) becomes raw text 3, e.g. 1e400.
        var sb = new StringBuilder(text.Length);
        var at = 0;
        while (true)
        {
            var start = text.IndexOf(quoted, at, StringComparison.Ordinal);
            if (start < 0)
            {
                return sb.Append(text, at, text.Length - at).ToString();
            }

            var end = text.IndexOf('"', start + quoted.Length);
            var n = int.Parse(text.AsSpan(start + quoted.Length, end - start - quoted.Length), CultureInfo.InvariantCulture);
            sb.Append(text, at, start - at).Append(_raw![n]);
            at = end + 1;
        }
    }

    private static string Deep(Random rng, string template)
    {
        var levels = rng.Next(2) == 0 ? 10_000 : rng.Next(5, 200);
        var (open, close) = rng.Next(2) == 0 ? ("[", "]") : ("{\"a\":", "}");
        var nested = string.Concat(Enumerable.Repeat(open, levels)) + "1" + string.Concat(Enumerable.Repeat(close, rng.Next(5) == 0 ? levels / 2 : levels));
        return Replace(rng, template, Raw(nested));
    }

    private static string DuplicateKey(Random rng, string template)
    {
        var root = (JsonObject)JsonNode.Parse(template)!;
        var names = root.Select(p => p.Key).ToList();
        var name = names[rng.Next(names.Count)];
        var copy = rng.Next(2) == 0 ? root[name]?.ToJsonString() ?? "null" : Serialize(RandomValue(rng, 2) ?? Raw("null")!);
        var text = Serialize(root);
        return "{" + JsonValue.Create(name)!.ToJsonString() + ":" + copy + "," + text[1..];
    }

    private static byte[] Damage(Random rng, byte[] body)
    {
        if (body.Length == 0)
        {
            return body;
        }

        switch (rng.Next(5))
        {
            case 0:
                return body[..rng.Next(body.Length)]; // truncated
            case 1:
                // Invalid UTF-8: a lone continuation byte, an overlong encoding, a surrogate, or a cut sequence.
                var bad = Pick(rng, new byte[][] { [0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xFF], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80] });
                var at = rng.Next(body.Length);
                return [.. body[..at], .. bad, .. body[at..]];
            case 2:
                var flipped = (byte[])body.Clone();
                for (var i = rng.Next(1, 4); i > 0; i--)
                {
                    flipped[rng.Next(flipped.Length)] = (byte)rng.Next(256);
                }

                return flipped;
            case 3:
                var cut = rng.Next(body.Length);
                return [.. body[..cut], .. RandomBytes(rng, rng.Next(1, 32)), .. body[cut..]];
            default:
                return [.. body, .. Encoding.UTF8.GetBytes(Pick(rng, new[] { "}", "]", "x", ",", "{}", "\u0000", " ", "\"" }))];
        }
    }

    private static string RandomQuery(Random rng) => rng.Next(5) switch
    {
        0 => "a=b&a=c",
        1 => "%ZZ=%",
        2 => "view=" + Uri.EscapeDataString(RandomString(rng)),
        3 => new string('q', rng.Next(1, 4000)),
        _ => "format=json&pretty=" + rng.Next(),
    };

    private static string? ContentType(Random rng) => rng.Next(10) switch
    {
        0 => null,
        1 => Pick(rng, ContentTypes),
        _ => "application/json",
    };

    private static byte[] RandomBytes(Random rng, int length)
    {
        var bytes = new byte[length];
        rng.NextBytes(bytes);
        return bytes;
    }

    private static T Pick<T>(Random rng, T[] items) => items[rng.Next(items.Length)];
}
