using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.Ingestion;

/// <summary>Why an event could not be decoded; the processor dead-letters the event with it.</summary>
/// <param name="Code">One of the <see cref="DecodeErrorCodes"/>.</param>
/// <param name="Reason">What was wrong, for people.</param>
public sealed record DecodeError(string Code, string Reason);

/// <summary>The error codes of <see cref="EventDecoder"/>.</summary>
public static class DecodeErrorCodes
{
    /// <summary>Not a JSON object: invalid JSON or UTF-8, nesting deeper than the limit, a duplicate field.</summary>
    public const string BadJson = "bad_json";

    /// <summary>The message is larger than <see cref="EventDecoderOptions.MaxMessageBytes"/>.</summary>
    public const string TooLarge = "too_large";

    /// <summary>The timestamp field or a required field (a join key) is absent or null.</summary>
    public const string MissingField = "missing_field";

    /// <summary>A field's JSON value does not convert to the declared type.</summary>
    public const string WrongType = "wrong_type";

    /// <summary>The event time is not an RFC 3339 string or epoch seconds within years 1 to 9999.</summary>
    public const string BadTimestamp = "bad_timestamp";
}

/// <summary>Limits of <see cref="EventDecoder"/>.</summary>
public sealed record EventDecoderOptions
{
    /// <summary>The largest message accepted, in bytes (default 1 MiB).</summary>
    public int MaxMessageBytes { get; init; } = 1 << 20;

    /// <summary>The deepest nesting of objects and arrays accepted (default 32).</summary>
    public int MaxDepth { get; init; } = 32;
}

/// <summary>The outcome of decoding one event: a row and its event time, or an error.</summary>
/// <param name="EventTimeMicros">The event time, microseconds since the Unix epoch (0 on error).</param>
/// <param name="Error">Why decoding failed; null on success.</param>
public readonly record struct DecodeResult(long EventTimeMicros, DecodeError? Error)
{
    /// <summary>True when the row was decoded.</summary>
    public bool IsSuccess => Error is null;
}

/// <summary>
/// Turns one JSON object message into a row of <see cref="FeatureValue"/>s, one per schema field in
/// declaration order, plus the event time. Rules:
/// <list type="bullet">
/// <item>Properties not in the schema are ignored; a property given twice is <c>bad_json</c>.</item>
/// <item>A missing or null field is a null value, except the timestamp field and the required fields
/// (the join keys), which give <c>missing_field</c>.</item>
/// <item>JSON values convert to the declared type with <see cref="ValueCoercion"/>: integers to any
/// numeric type that holds them, numbers to floats, strings to strings, base64 strings to bytes,
/// arrays to lists and vectors. Anything else (a string for a number, a fraction for an integer, an
/// object) is <c>wrong_type</c>.</item>
/// <item>Timestamps (the event time and timestamp fields) are RFC 3339 strings (no offset means UTC) or
/// numbers of seconds since the Unix epoch, with an optional fraction (kept to the microsecond).</item>
/// <item>Messages over <see cref="EventDecoderOptions.MaxMessageBytes"/> are <c>too_large</c>; invalid
/// UTF-8, invalid JSON, nesting over <see cref="EventDecoderOptions.MaxDepth"/> are <c>bad_json</c>.</item>
/// </list>
/// Errors are results, never exceptions. An instance is immutable and thread-safe.
/// </summary>
public sealed class EventDecoder
{
    // Epoch seconds of 0001-01-01 and 9999-12-31T23:59:59: the range of DateTimeOffset.
    private const decimal MinEpochSeconds = -62135596800m;
    private const decimal MaxEpochSeconds = 253402300799m;

    private readonly Field[] _fields;
    private readonly byte[][] _names;
    private readonly bool[] _required;
    private readonly byte[]? _timestampName;
    private readonly int _timestampIndex;
    private readonly EventDecoderOptions _options;

    /// <summary>Builds a decoder for <paramref name="source"/>'s schema and timestamp field.</summary>
    /// <param name="source">The source; its <see cref="DataSource.Schema"/> lists the fields of a row.</param>
    /// <param name="requiredFields">Fields that must be present and not null (the join keys).</param>
    /// <param name="options">Limits; the defaults when null.</param>
    public EventDecoder(DataSource source, IEnumerable<string>? requiredFields = null, EventDecoderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        _options = options ?? new EventDecoderOptions();
        _fields = [.. source.Schema];
        _names = new byte[_fields.Length][];
        _required = new bool[_fields.Length];
        var required = new HashSet<string>(requiredFields ?? [], StringComparer.Ordinal);
        _timestampIndex = -1;
        for (var i = 0; i < _fields.Length; i++)
        {
            _names[i] = Encoding.UTF8.GetBytes(_fields[i].Name);
            _required[i] = required.Remove(_fields[i].Name);
            if (_fields[i].Name == source.TimestampField)
            {
                _timestampIndex = i;
            }
        }

        if (required.Count > 0)
        {
            throw new ArgumentException($"required fields not in the schema of source '{source.Name}': {string.Join(", ", required)}", nameof(requiredFields));
        }

        if (source.TimestampField is { } ts && _timestampIndex < 0)
        {
            _timestampName = Encoding.UTF8.GetBytes(ts);
        }

        TimestampField = source.TimestampField;
    }

    /// <summary>The fields of a decoded row, in order.</summary>
    public IReadOnlyList<Field> Fields => _fields;

    /// <summary>The event-time field; null when the source declares none (the fallback time is used).</summary>
    public string? TimestampField { get; }

    /// <summary>Decodes into a new row; <paramref name="row"/> is null on error.</summary>
    /// <param name="message">The message bytes.</param>
    /// <param name="fallbackEventTimeMicros">The event time when the source declares no timestamp field (e.g. the broker's).</param>
    /// <param name="row">The decoded values, one per field.</param>
    public DecodeResult Decode(ReadOnlySpan<byte> message, long? fallbackEventTimeMicros, out FeatureValue[]? row)
    {
        var values = new FeatureValue[_fields.Length];
        var result = Decode(message, values, fallbackEventTimeMicros);
        row = result.IsSuccess ? values : null;
        return result;
    }

    /// <summary>
    /// Decodes into <paramref name="row"/> (at least <see cref="Fields"/>.Count long); on error its
    /// contents are unspecified.
    /// </summary>
    /// <param name="message">The message bytes.</param>
    /// <param name="row">Receives one value per field.</param>
    /// <param name="fallbackEventTimeMicros">The event time when the source declares no timestamp field (e.g. the broker's).</param>
    public DecodeResult Decode(ReadOnlySpan<byte> message, Span<FeatureValue> row, long? fallbackEventTimeMicros)
    {
        if (row.Length < _fields.Length)
        {
            throw new ArgumentException($"the row needs {_fields.Length} values", nameof(row));
        }

        if (message.Length > _options.MaxMessageBytes)
        {
            return Fail(DecodeErrorCodes.TooLarge, $"the message has {message.Length} bytes, more than the limit of {_options.MaxMessageBytes}");
        }

        if (!Utf8.IsValid(message))
        {
            return Fail(DecodeErrorCodes.BadJson, "the message is not valid UTF-8");
        }

        row[.._fields.Length].Clear();
        try
        {
            return DecodeObject(message, row, fallbackEventTimeMicros);
        }
        catch (JsonException e)
        {
            return Fail(DecodeErrorCodes.BadJson, $"invalid JSON: {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            return Fail(DecodeErrorCodes.BadJson, $"invalid JSON: {e.Message}");
        }
    }

    private DecodeResult DecodeObject(ReadOnlySpan<byte> message, Span<FeatureValue> row, long? fallback)
    {
        var reader = new Utf8JsonReader(message, new JsonReaderOptions { MaxDepth = _options.MaxDepth });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return Fail(DecodeErrorCodes.BadJson, "the message is not a JSON object");
        }

        Span<bool> seen = _fields.Length <= 256 ? stackalloc bool[_fields.Length] : new bool[_fields.Length];
        var seenTimestamp = false;
        long? eventTime = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var index = FindField(ref reader);
            var isEventTime = (index >= 0 && index == _timestampIndex) || (index < 0 && _timestampName is not null && reader.ValueTextEquals(_timestampName));
            if (!reader.Read())
            {
                return Fail(DecodeErrorCodes.BadJson, "the message ends inside an object");
            }

            if (isEventTime)
            {
                if (seenTimestamp)
                {
                    return Fail(DecodeErrorCodes.BadJson, $"field '{TimestampField}' appears twice");
                }

                seenTimestamp = true;
                if (reader.TokenType != JsonTokenType.Null)
                {
                    if (!TryReadTimestamp(ref reader, out var micros, out var why))
                    {
                        return Fail(DecodeErrorCodes.BadTimestamp, $"field '{TimestampField}': {why}");
                    }

                    eventTime = micros;
                }
            }

            if (index >= 0)
            {
                if (seen[index])
                {
                    return Fail(DecodeErrorCodes.BadJson, $"field '{_fields[index].Name}' appears twice");
                }

                seen[index] = true;
                var field = _fields[index];
                if (field.Type is { Shape: TypeShape.Scalar, Scalar: ScalarKind.Timestamp })
                {
                    if (reader.TokenType != JsonTokenType.Null)
                    {
                        if (!TryReadTimestamp(ref reader, out var micros, out var why))
                        {
                            return Fail(DecodeErrorCodes.WrongType, $"field '{field.Name}': {why}");
                        }

                        row[index] = FeatureValue.FromTimestampMicros(micros);
                    }

                    continue;
                }

                if (!TryReadValue(ref reader, field.Type, out var raw, out var error) ||
                    !ValueCoercion.TryCoerce(raw, field.Type, out row[index], out error))
                {
                    return Fail(DecodeErrorCodes.WrongType, $"field '{field.Name}': {error}");
                }
            }
            else if (!isEventTime)
            {
                reader.Skip();
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject)
        {
            return Fail(DecodeErrorCodes.BadJson, "the message ends inside an object");
        }

        // Anything but whitespace after the object makes the reader throw (one JSON value per message).
        while (reader.Read())
        {
        }

        for (var i = 0; i < _fields.Length; i++)
        {
            if (_required[i] && row[i].IsNull)
            {
                return Fail(DecodeErrorCodes.MissingField, $"required field '{_fields[i].Name}' is missing or null");
            }
        }

        if (TimestampField is null)
        {
            return fallback is { } t
                ? new DecodeResult(t, null)
                : Fail(DecodeErrorCodes.MissingField, "the source declares no timestamp_field and the event has no broker timestamp");
        }

        return eventTime is { } time
            ? new DecodeResult(time, null)
            : Fail(DecodeErrorCodes.MissingField, $"timestamp field '{TimestampField}' is missing or null");
    }

    // A linear scan comparing UTF-8 bytes in place: no string per property, and schemas are short.
    private int FindField(ref Utf8JsonReader reader)
    {
        for (var i = 0; i < _names.Length; i++)
        {
            if (reader.ValueTextEquals(_names[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool TryReadTimestamp(ref Utf8JsonReader reader, out long micros, out string? error)
    {
        micros = 0;
        error = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                var text = reader.GetString()!;
                if (text.Length <= 64 && ValueCoercion.TryParseTimestamp(text, out micros))
                {
                    return true;
                }

                error = "expected an RFC 3339 timestamp or epoch seconds";
                return false;
            case JsonTokenType.Number:
                if (!reader.TryGetDecimal(out var seconds) || seconds < MinEpochSeconds || seconds > MaxEpochSeconds)
                {
                    error = "epoch seconds out of range (years 1 to 9999)";
                    return false;
                }

                micros = (long)decimal.Truncate(seconds * 1_000_000m);
                return true;
            default:
                error = "expected an RFC 3339 timestamp or epoch seconds";
                return false;
        }
    }

    private static bool TryReadValue(ref Utf8JsonReader reader, FeatureType type, out FeatureValue value, out string? error)
    {
        error = null;
        value = FeatureValue.Null;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.True or JsonTokenType.False:
                value = FeatureValue.FromBool(reader.GetBoolean());
                return true;
            case JsonTokenType.String:
                value = FeatureValue.FromString(reader.GetString());
                return true;
            case JsonTokenType.Number:
                return TryReadNumber(ref reader, out value, out error);
            case JsonTokenType.StartArray when type.Shape != TypeShape.Scalar:
                return TryReadList(ref reader, type, out value, out error);
            default:
                error = $"expected {type}, got {Describe(reader.TokenType)}";
                return false;
        }
    }

    private static bool TryReadNumber(ref Utf8JsonReader reader, out FeatureValue value, out string? error)
    {
        error = null;
        if (reader.TryGetInt64(out var l))
        {
            value = FeatureValue.FromInt64(l);
            return true;
        }

        if (reader.TryGetDouble(out var d) && double.IsFinite(d))
        {
            value = FeatureValue.FromFloat64(d);
            return true;
        }

        value = FeatureValue.Null;
        error = "the number is out of range";
        return false;
    }

    private static bool TryReadList(ref Utf8JsonReader reader, FeatureType type, out FeatureValue value, out string? error)
    {
        value = FeatureValue.Null;
        error = null;
        var elementType = FeatureType.Of(type.Scalar);
        var items = new List<FeatureValue>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            FeatureValue item;
            if (type.Scalar == ScalarKind.Timestamp)
            {
                if (!TryReadTimestamp(ref reader, out var micros, out error))
                {
                    error = $"item {items.Count}: {error}";
                    return false;
                }

                item = FeatureValue.FromTimestampMicros(micros);
            }
            else if (reader.TokenType is JsonTokenType.StartArray or JsonTokenType.StartObject or JsonTokenType.Null)
            {
                error = $"item {items.Count}: expected {elementType}, got {Describe(reader.TokenType)}";
                return false;
            }
            else if (!TryReadValue(ref reader, elementType, out var raw, out error) || !ValueCoercion.TryCoerce(raw, elementType, out item, out error))
            {
                error = $"item {items.Count}: {error}";
                return false;
            }

            items.Add(item);
        }

        value = BuildList(type, items);
        if (type.Shape == TypeShape.Vector && items.Count != type.Dimension)
        {
            error = $"expected a vector of dimension {type.Dimension}, got {items.Count} values";
            return false;
        }

        return true;
    }

    private static FeatureValue BuildList(FeatureType type, List<FeatureValue> items)
    {
        var n = items.Count;
        switch (type.Scalar)
        {
            case ScalarKind.Bool:
                var b = new bool[n];
                for (var i = 0; i < n; i++)
                {
                    b[i] = items[i].AsBool();
                }

                return FeatureValue.FromList(ValueKind.BoolList, b);
            case ScalarKind.Int32:
                var i32 = new int[n];
                for (var i = 0; i < n; i++)
                {
                    i32[i] = items[i].AsInt32();
                }

                return FeatureValue.FromList(ValueKind.Int32List, i32);
            case ScalarKind.Int64 or ScalarKind.Timestamp:
                var i64 = new long[n];
                for (var i = 0; i < n; i++)
                {
                    i64[i] = items[i].AsInt64();
                }

                return FeatureValue.FromList(type.Scalar == ScalarKind.Int64 ? ValueKind.Int64List : ValueKind.TimestampList, i64);
            case ScalarKind.Float32:
                var f32 = new float[n];
                for (var i = 0; i < n; i++)
                {
                    f32[i] = items[i].AsFloat32();
                }

                return FeatureValue.FromList(ValueKind.Float32List, f32);
            case ScalarKind.Float64:
                var f64 = new double[n];
                for (var i = 0; i < n; i++)
                {
                    f64[i] = items[i].AsFloat64();
                }

                return FeatureValue.FromList(ValueKind.Float64List, f64);
            case ScalarKind.String:
                var s = new string[n];
                for (var i = 0; i < n; i++)
                {
                    s[i] = items[i].AsString();
                }

                return FeatureValue.FromList(ValueKind.StringList, s);
            default:
                var bytes = new byte[n][];
                for (var i = 0; i < n; i++)
                {
                    bytes[i] = items[i].AsBytes();
                }

                return FeatureValue.FromList(ValueKind.BytesList, bytes);
        }
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a bool",
        JsonTokenType.Null => "null",
        _ => token.ToString().ToLower(CultureInfo.InvariantCulture),
    };

    private static DecodeResult Fail(string code, string reason) => new(0, new DecodeError(code, reason));
}
