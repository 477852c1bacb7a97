using System.Globalization;
using System.Runtime.CompilerServices;
using Freshet.Model;

namespace Freshet.Values;

/// <summary>The kind of a <see cref="FeatureValue"/>; lists are typed.</summary>
public enum ValueKind : byte
{
    /// <summary>No value.</summary>
    Null = 0,
    /// <summary>bool.</summary>
    Bool,
    /// <summary>int32.</summary>
    Int32,
    /// <summary>int64.</summary>
    Int64,
    /// <summary>float32.</summary>
    Float32,
    /// <summary>float64.</summary>
    Float64,
    /// <summary>UTF-8 text.</summary>
    String,
    /// <summary>Opaque bytes.</summary>
    Bytes,
    /// <summary>UTC instant, microseconds since the Unix epoch.</summary>
    Timestamp,
    /// <summary>list of bool.</summary>
    BoolList,
    /// <summary>list of int32.</summary>
    Int32List,
    /// <summary>list of int64.</summary>
    Int64List,
    /// <summary>list of float32 (also fixed-dimension vectors).</summary>
    Float32List,
    /// <summary>list of float64.</summary>
    Float64List,
    /// <summary>list of strings.</summary>
    StringList,
    /// <summary>list of byte strings.</summary>
    BytesList,
    /// <summary>list of timestamps (microseconds).</summary>
    TimestampList,
}

/// <summary>
/// One feature value. Scalars are stored inline (no allocation); text, bytes and lists hold one reference.
/// Timestamps are microseconds since the Unix epoch, UTC (the precision of Parquet and DuckDB).
/// </summary>
public readonly struct FeatureValue : IEquatable<FeatureValue>
{
    private readonly long _bits;
    private readonly object? _ref;

    // True when _ref is a row buffer and _bits packs (offset, length) of the text or bytes inside it.
    private readonly bool _slice;

    private FeatureValue(ValueKind kind, long bits, object? reference, bool slice = false)
    {
        Kind = kind;
        _bits = bits;
        _ref = reference;
        _slice = slice;
    }

    /// <summary>The kind of value.</summary>
    public ValueKind Kind { get; }

    /// <summary>True for the null value.</summary>
    public bool IsNull => Kind == ValueKind.Null;

    /// <summary>The null value.</summary>
    public static FeatureValue Null => default;

    /// <summary>A bool.</summary>
    public static FeatureValue FromBool(bool v) => new(ValueKind.Bool, v ? 1 : 0, null);

    /// <summary>An int32.</summary>
    public static FeatureValue FromInt32(int v) => new(ValueKind.Int32, v, null);

    /// <summary>An int64.</summary>
    public static FeatureValue FromInt64(long v) => new(ValueKind.Int64, v, null);

    /// <summary>A float32.</summary>
    public static FeatureValue FromFloat32(float v) => new(ValueKind.Float32, BitConverter.SingleToInt32Bits(v), null);

    /// <summary>A float64.</summary>
    public static FeatureValue FromFloat64(double v) => new(ValueKind.Float64, BitConverter.DoubleToInt64Bits(v), null);

    /// <summary>A string (null gives the null value).</summary>
    public static FeatureValue FromString(string? v) => v is null ? Null : new(ValueKind.String, 0, v);

    /// <summary>Bytes (null gives the null value).</summary>
    public static FeatureValue FromBytes(byte[]? v) => v is null ? Null : new(ValueKind.Bytes, 0, v);

    /// <summary>
    /// A string held as UTF-8 bytes inside <paramref name="buffer"/> (a stored row): no copy until
    /// <see cref="AsString"/> is called, so a writer can send the bytes as they are.
    /// </summary>
    public static FeatureValue FromUtf8Slice(byte[] buffer, int offset, int length) => new(ValueKind.String, Pack(offset, length), buffer, slice: true);

    /// <summary>Bytes held inside <paramref name="buffer"/>; copied only by <see cref="AsBytes"/>.</summary>
    public static FeatureValue FromBytesSlice(byte[] buffer, int offset, int length) => new(ValueKind.Bytes, Pack(offset, length), buffer, slice: true);

    private static long Pack(int offset, int length) => ((long)offset << 32) | (uint)length;

    /// <summary>A timestamp in microseconds since the Unix epoch.</summary>
    public static FeatureValue FromTimestampMicros(long micros) => new(ValueKind.Timestamp, micros, null);

    /// <summary>A timestamp (converted to UTC, truncated to microseconds).</summary>
    public static FeatureValue FromTimestamp(DateTimeOffset t) => FromTimestampMicros(Micros.From(t));

    /// <summary>A typed list; the array is kept, not copied.</summary>
    public static FeatureValue FromList(ValueKind listKind, Array items)
    {
        var ok = listKind switch
        {
            ValueKind.BoolList => items is bool[],
            ValueKind.Int32List => items is int[],
            ValueKind.Int64List or ValueKind.TimestampList => items is long[],
            ValueKind.Float32List => items is float[],
            ValueKind.Float64List => items is double[],
            ValueKind.StringList => items is string[],
            ValueKind.BytesList => items is byte[][],
            _ => false,
        };
        return ok ? new(listKind, 0, items) : throw new ArgumentException($"a {listKind} cannot hold {items.GetType().Name}", nameof(items));
    }

    /// <summary>The bool.</summary>
    public bool AsBool() => _bits != 0;

    /// <summary>The int32.</summary>
    public int AsInt32() => (int)_bits;

    /// <summary>The int64 (also of an int32).</summary>
    public long AsInt64() => _bits;

    /// <summary>The float32.</summary>
    public float AsFloat32() => BitConverter.Int32BitsToSingle((int)_bits);

    /// <summary>The float64.</summary>
    public double AsFloat64() => BitConverter.Int64BitsToDouble(_bits);

    /// <summary>Microseconds since the Unix epoch, of a timestamp.</summary>
    public long TimestampMicros => _bits;

    /// <summary>The string.</summary>
    public string AsString() => _ref as string ?? System.Text.Encoding.UTF8.GetString(Slice());

    /// <summary>The bytes (a copy when the value is a slice of a row).</summary>
    public byte[] AsBytes() => !_slice && _ref is byte[] b ? b : Slice().ToArray();

    /// <summary>The UTF-8 of a string, or the content of bytes, without a copy when the value is a slice.</summary>
    public ReadOnlySpan<byte> Utf8OrBytes => _ref is string s ? System.Text.Encoding.UTF8.GetBytes(s) : Slice();

    private ReadOnlySpan<byte> Slice() =>
        _ref is byte[] buffer ? (_slice ? buffer.AsSpan((int)(_bits >> 32), (int)(uint)_bits) : buffer) : default;

    /// <summary>The list's array (bool[], int[], long[], float[], double[], string[] or byte[][]).</summary>
    public Array AsList() => (Array)_ref!;

    /// <summary>The value as a double, for arithmetic on any numeric kind; NaN for other kinds.</summary>
    public double ToDouble() => Kind switch
    {
        ValueKind.Int32 or ValueKind.Int64 or ValueKind.Timestamp => _bits,
        ValueKind.Float32 => AsFloat32(),
        ValueKind.Float64 => AsFloat64(),
        ValueKind.Bool => _bits,
        _ => double.NaN,
    };

    /// <summary>The value kind that holds values of a definition type.</summary>
    public static ValueKind KindOf(FeatureType type) => type.Shape == TypeShape.Scalar
        ? type.Scalar switch
        {
            ScalarKind.Bool => ValueKind.Bool,
            ScalarKind.Int32 => ValueKind.Int32,
            ScalarKind.Int64 => ValueKind.Int64,
            ScalarKind.Float32 => ValueKind.Float32,
            ScalarKind.Float64 => ValueKind.Float64,
            ScalarKind.String => ValueKind.String,
            ScalarKind.Bytes => ValueKind.Bytes,
            ScalarKind.Timestamp => ValueKind.Timestamp,
            _ => ValueKind.Null,
        }
        : type.Scalar switch
        {
            ScalarKind.Bool => ValueKind.BoolList,
            ScalarKind.Int32 => ValueKind.Int32List,
            ScalarKind.Int64 => ValueKind.Int64List,
            ScalarKind.Float32 => ValueKind.Float32List,
            ScalarKind.Float64 => ValueKind.Float64List,
            ScalarKind.String => ValueKind.StringList,
            ScalarKind.Bytes => ValueKind.BytesList,
            ScalarKind.Timestamp => ValueKind.TimestampList,
            _ => ValueKind.Null,
        };

    /// <inheritdoc />
    public bool Equals(FeatureValue other)
    {
        if (Kind != other.Kind)
        {
            return false;
        }

        return Kind switch
        {
            ValueKind.Null => true,
            ValueKind.String => _ref is string a && other._ref is string b ? string.Equals(a, b, StringComparison.Ordinal) : Utf8OrBytes.SequenceEqual(other.Utf8OrBytes),
            ValueKind.Bytes => Utf8OrBytes.SequenceEqual(other.Utf8OrBytes),
            < ValueKind.BoolList => _bits == other._bits,
            _ => ListEquals(AsList(), other.AsList()),
        };
    }

    private static bool ListEquals(Array a, Array b) => (a, b) switch
    {
        (bool[] x, bool[] y) => x.AsSpan().SequenceEqual(y),
        (int[] x, int[] y) => x.AsSpan().SequenceEqual(y),
        (long[] x, long[] y) => x.AsSpan().SequenceEqual(y),
        (float[] x, float[] y) => x.AsSpan().SequenceEqual(y),
        (double[] x, double[] y) => x.AsSpan().SequenceEqual(y),
        (string[] x, string[] y) => x.AsSpan().SequenceEqual(y),
        (byte[][] x, byte[][] y) => x.Length == y.Length && x.Zip(y).All(p => p.First.AsSpan().SequenceEqual(p.Second)),
        _ => false,
    };

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is FeatureValue v && Equals(v);

    /// <inheritdoc />
    public override int GetHashCode() => Kind switch
    {
        ValueKind.String => HashCode.Combine(Kind, AsString()),
        ValueKind.Bytes => HashCode.Combine(Kind, Utf8OrBytes.Length),
        < ValueKind.String => HashCode.Combine(Kind, _bits),
        _ => HashCode.Combine(Kind, RuntimeHelpers.GetHashCode(_ref)),
    };

    /// <summary>Equality.</summary>
    public static bool operator ==(FeatureValue left, FeatureValue right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(FeatureValue left, FeatureValue right) => !left.Equals(right);

    /// <summary>For people and test messages.</summary>
    public override string ToString() => Kind switch
    {
        ValueKind.Null => "null",
        ValueKind.Bool => AsBool() ? "true" : "false",
        ValueKind.Int32 or ValueKind.Int64 => _bits.ToString(CultureInfo.InvariantCulture),
        ValueKind.Float32 => AsFloat32().ToString("R", CultureInfo.InvariantCulture),
        ValueKind.Float64 => AsFloat64().ToString("R", CultureInfo.InvariantCulture),
        ValueKind.String => AsString(),
        ValueKind.Bytes => Convert.ToBase64String(AsBytes()),
        ValueKind.Timestamp => Micros.ToRfc3339(_bits),
        _ => $"[{AsList().Length} items]",
    };
}

/// <summary>Microsecond timestamps: the one time unit of Freshet (DESIGN §3).</summary>
public static class Micros
{
    /// <summary>Microseconds since the Unix epoch of an instant (UTC, truncated).</summary>
    public static long From(DateTimeOffset t) => (t.UtcTicks - DateTime.UnixEpoch.Ticks) / 10;

    /// <summary>The instant of a microsecond timestamp.</summary>
    public static DateTimeOffset ToDateTimeOffset(long micros) => new(DateTime.UnixEpoch.Ticks + (micros * 10), TimeSpan.Zero);

    /// <summary>RFC 3339 with Z; fractional seconds only when there are any.</summary>
    public static string ToRfc3339(long micros)
    {
        var t = ToDateTimeOffset(micros).UtcDateTime;
        return micros % 1_000_000 == 0
            ? t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : t.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
    }

    /// <summary>Microseconds of a duration.</summary>
    public static long Of(TimeSpan span) => span.Ticks / 10;
}
