using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Freshet.Model;

/// <summary>The scalar kinds a feature value or join key can have.</summary>
public enum ScalarKind : byte
{
    /// <summary>true or false.</summary>
    Bool = 1,
    /// <summary>32-bit signed integer.</summary>
    Int32,
    /// <summary>64-bit signed integer.</summary>
    Int64,
    /// <summary>IEEE 754 single precision.</summary>
    Float32,
    /// <summary>IEEE 754 double precision.</summary>
    Float64,
    /// <summary>UTF-8 text.</summary>
    String,
    /// <summary>Opaque bytes.</summary>
    Bytes,
    /// <summary>UTC instant with microsecond precision.</summary>
    Timestamp,
}

/// <summary>Whether a type is one value, a list of values or a fixed-dimension float vector.</summary>
public enum TypeShape : byte
{
    /// <summary>A single value.</summary>
    Scalar,
    /// <summary>A variable-length list of one scalar kind.</summary>
    List,
    /// <summary>A float32 vector of a fixed dimension (embeddings).</summary>
    Vector,
}

/// <summary>
/// A Freshet value type: <c>int64</c>, <c>list&lt;string&gt;</c>, <c>vector&lt;128&gt;</c>.
/// The text form is the one used in YAML and in the registry.
/// </summary>
public readonly record struct FeatureType(ScalarKind Scalar, TypeShape Shape = TypeShape.Scalar, int Dimension = 0)
{
    /// <summary>The type names accepted in definitions, canonical first.</summary>
    public const string Help = "bool, int32, int64, float32, float64, string, bytes, timestamp, list<T> of one of those, or vector<N> (a float32 vector of dimension N)";

    /// <summary>A scalar type.</summary>
    public static FeatureType Of(ScalarKind kind) => new(kind);

    /// <summary>A list of the given scalar kind.</summary>
    public static FeatureType ListOf(ScalarKind kind) => new(kind, TypeShape.List);

    /// <summary>A float32 vector of a fixed dimension.</summary>
    public static FeatureType VectorOf(int dimension) =>
        dimension > 0 ? new(ScalarKind.Float32, TypeShape.Vector, dimension) : throw new ArgumentOutOfRangeException(nameof(dimension), "a vector needs a dimension of at least 1");

    /// <summary>False for the default value, which stands for a type that could not be read.</summary>
    public bool IsValid => Scalar != 0;

    /// <summary>True for int32, int64, float32, float64 scalars.</summary>
    public bool IsNumeric => Shape == TypeShape.Scalar && Scalar is ScalarKind.Int32 or ScalarKind.Int64 or ScalarKind.Float32 or ScalarKind.Float64;

    /// <summary>True for a single value of any kind.</summary>
    public bool IsScalar => Shape == TypeShape.Scalar;

    /// <summary>Parses a type name; the error says what is accepted.</summary>
    public static bool TryParse(string? text, out FeatureType type, [NotNullWhen(false)] out string? error)
    {
        type = default;
        var t = (text ?? "").Trim();
        if (t.Length == 0)
        {
            error = $"a type is required: {Help}";
            return false;
        }

        var lower = t.ToLowerInvariant().Replace(" ", "", StringComparison.Ordinal);
        if (TryInner(lower, "list", out var inner) || TryInner(lower, "array", out inner))
        {
            if (!TryParseScalar(inner, out var element))
            {
                error = $"unknown list element type '{inner}' in '{t}': a list holds one of bool, int32, int64, float32, float64, string, bytes, timestamp";
                return false;
            }

            type = ListOf(element);
            error = null;
            return true;
        }

        if (TryInner(lower, "vector", out inner))
        {
            if (!int.TryParse(inner, NumberStyles.None, CultureInfo.InvariantCulture, out var dim) || dim < 1 || dim > 65536)
            {
                error = $"bad vector type '{t}': expected vector<N> with a dimension N from 1 to 65536";
                return false;
            }

            type = VectorOf(dim);
            error = null;
            return true;
        }

        if (TryParseScalar(lower, out var kind))
        {
            type = Of(kind);
            error = null;
            return true;
        }

        error = $"unknown type '{t}': expected {Help}";
        return false;
    }

    /// <summary>Parses a type name or throws <see cref="FormatException"/>.</summary>
    public static FeatureType Parse(string text) =>
        TryParse(text, out var type, out var error) ? type : throw new FormatException(error);

    private static bool TryInner(string text, string head, out string inner)
    {
        inner = "";
        if (!text.StartsWith(head, StringComparison.Ordinal) || text.Length < head.Length + 2)
        {
            return false;
        }

        var open = text[head.Length];
        var close = text[^1];
        if ((open == '<' && close == '>') || (open == '(' && close == ')') || (open == '[' && close == ']'))
        {
            inner = text[(head.Length + 1)..^1];
            return true;
        }

        return false;
    }

    private static bool TryParseScalar(string lower, out ScalarKind kind)
    {
        // Canonical names first, then the spellings Feast users bring (Int64, Float32, UnixTimestamp, ...).
        kind = lower switch
        {
            "bool" or "boolean" => ScalarKind.Bool,
            "int32" => ScalarKind.Int32,
            "int64" => ScalarKind.Int64,
            "float32" or "float" => ScalarKind.Float32,
            "float64" or "double" => ScalarKind.Float64,
            "string" => ScalarKind.String,
            "bytes" => ScalarKind.Bytes,
            "timestamp" or "unixtimestamp" or "unix_timestamp" => ScalarKind.Timestamp,
            _ => 0,
        };
        return kind != 0;
    }

    /// <summary>The canonical name of a scalar kind.</summary>
    public static string NameOf(ScalarKind kind) => kind switch
    {
        ScalarKind.Bool => "bool",
        ScalarKind.Int32 => "int32",
        ScalarKind.Int64 => "int64",
        ScalarKind.Float32 => "float32",
        ScalarKind.Float64 => "float64",
        ScalarKind.String => "string",
        ScalarKind.Bytes => "bytes",
        ScalarKind.Timestamp => "timestamp",
        _ => "invalid",
    };

    /// <summary>The canonical text form.</summary>
    public override string ToString() => Shape switch
    {
        TypeShape.List => $"list<{NameOf(Scalar)}>",
        TypeShape.Vector => string.Create(CultureInfo.InvariantCulture, $"vector<{Dimension}>"),
        _ => NameOf(Scalar),
    };
}
