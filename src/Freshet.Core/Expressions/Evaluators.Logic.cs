using Freshet.Values;

namespace Freshet.Expressions;

/// <summary>How two operands of a comparison or of min/max are ordered.</summary>
internal enum CompareMode
{
    Int,
    Float,
    String,
    Bool,
    Bytes,
    Timestamp,
}

internal static class Ordering
{
    /// <summary>Orders two non-null values of one mode; bools and bytes only tell equal (0) from different (1).</summary>
    public static int Compare(CompareMode mode, in FeatureValue a, in FeatureValue b) => mode switch
    {
        CompareMode.Int => a.AsInt64().CompareTo(b.AsInt64()),
        CompareMode.Float => a.ToDouble().CompareTo(b.ToDouble()),
        CompareMode.Timestamp => a.TimestampMicros.CompareTo(b.TimestampMicros),
        CompareMode.Bool => a.AsBool() == b.AsBool() ? 0 : 1,
        CompareMode.Bytes => a.Utf8OrBytes.SequenceEqual(b.Utf8OrBytes) ? 0 : 1,
        _ => CodePoints(a.AsString(), b.AsString()),
    };

    /// <summary>
    /// Orders strings by Unicode code point, which is the order of their UTF-8 bytes (DuckDB's order, so online
    /// and offline agree). UTF-16 order differs only where a surrogate pair meets U+E000..U+FFFF; moving
    /// surrogates above that range fixes it without decoding.
    /// </summary>
    public static int CodePoints(string a, string b)
    {
        var n = Math.Min(a.Length, b.Length);
        for (var i = 0; i < n; i++)
        {
            var x = a[i];
            var y = b[i];
            if (x != y)
            {
                return Fix(x) - Fix(y);
            }
        }

        return a.Length.CompareTo(b.Length);
    }

    private static int Fix(char c) => c < 0xD800 ? c : c < 0xE000 ? c + 0x2000 : c - 0x800;
}

internal interface ITest
{
    static abstract bool Test(int order);
}

internal struct EqualTest : ITest
{
    public static bool Test(int order) => order == 0;
}

internal struct NotEqualTest : ITest
{
    public static bool Test(int order) => order != 0;
}

internal struct LessTest : ITest
{
    public static bool Test(int order) => order < 0;
}

internal struct LessOrEqualTest : ITest
{
    public static bool Test(int order) => order <= 0;
}

internal struct GreaterTest : ITest
{
    public static bool Test(int order) => order > 0;
}

internal struct GreaterOrEqualTest : ITest
{
    public static bool Test(int order) => order >= 0;
}

internal sealed class Comparison<TTest>(Evaluator left, Evaluator right, CompareMode mode) : Evaluator
    where TTest : struct, ITest
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = left.Eval(inputs);
        if (a.IsNull)
        {
            return a;
        }

        var b = right.Eval(inputs);
        if (b.IsNull)
        {
            return b;
        }

        return FeatureValue.FromBool(TTest.Test(Ordering.Compare(mode, a, b)));
    }
}

/// <summary>Three-valued <c>and</c>: false wins over null, and the right side is skipped when the left is false.</summary>
internal sealed class AndEval(Evaluator left, Evaluator right) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = left.Eval(inputs);
        if (!a.IsNull && !a.AsBool())
        {
            return a;
        }

        var b = right.Eval(inputs);
        if (!b.IsNull && !b.AsBool())
        {
            return b;
        }

        return a.IsNull ? a : b;
    }
}

/// <summary>Three-valued <c>or</c>: true wins over null, and the right side is skipped when the left is true.</summary>
internal sealed class OrEval(Evaluator left, Evaluator right) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = left.Eval(inputs);
        if (!a.IsNull && a.AsBool())
        {
            return a;
        }

        var b = right.Eval(inputs);
        if (!b.IsNull && b.AsBool())
        {
            return b;
        }

        return a.IsNull ? a : b;
    }
}

internal sealed class NotEval(Evaluator operand) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = operand.Eval(inputs);
        return a.IsNull ? a : FeatureValue.FromBool(!a.AsBool());
    }
}

internal sealed class IsNullEval(Evaluator operand, bool negated) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs) => FeatureValue.FromBool(operand.Eval(inputs).IsNull != negated);
}
