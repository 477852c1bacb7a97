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

/// <summary><c>if(c, a, b)</c>: <c>a</c> when c is true; <c>b</c> when c is false or null, as SQL's CASE.</summary>
internal sealed class IfEval(Evaluator condition, Evaluator then, Evaluator otherwise) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var c = condition.Eval(inputs);
        return !c.IsNull && c.AsBool() ? then.Eval(inputs) : otherwise.Eval(inputs);
    }
}

internal sealed class CoalesceEval(Evaluator[] args) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        foreach (var a in args)
        {
            var v = a.Eval(inputs);
            if (!v.IsNull)
            {
                return v;
            }
        }

        return FeatureValue.Null;
    }
}

/// <summary><c>min</c> and <c>max</c> over arguments of one mode (int and float mixed are widened first); any null gives null.</summary>
internal sealed class MinMaxEval(Evaluator[] args, CompareMode mode, bool max) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var best = args[0].Eval(inputs);
        if (best.IsNull)
        {
            return best;
        }

        for (var i = 1; i < args.Length; i++)
        {
            var v = args[i].Eval(inputs);
            if (v.IsNull)
            {
                return v;
            }

            var order = Ordering.Compare(mode, v, best);
            if (max ? order > 0 : order < 0)
            {
                best = v;
            }
        }

        return best;
    }
}

internal sealed class AbsInt(Evaluator operand) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = operand.Eval(inputs);
        return a.IsNull || a.AsInt64() == long.MinValue ? FeatureValue.Null : FeatureValue.FromInt64(Math.Abs(a.AsInt64()));
    }
}

internal sealed class AbsFloat(Evaluator operand) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = operand.Eval(inputs);
        return a.IsNull ? a : FeatureValue.FromFloat64(Math.Abs(a.AsFloat64()));
    }
}

/// <summary>Natural log; a non-positive argument gives null (log(0) is not finite).</summary>
internal sealed class LogEval(Evaluator operand) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = operand.Eval(inputs);
        if (a.IsNull)
        {
            return a;
        }

        var d = a.ToDouble();
        return d > 0 ? FloatArith<AddOp>.Finite(Math.Log(d)) : FeatureValue.Null;
    }
}

/// <summary>Square root; a negative argument gives null.</summary>
internal sealed class SqrtEval(Evaluator operand) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = operand.Eval(inputs);
        if (a.IsNull)
        {
            return a;
        }

        var d = a.ToDouble();
        return d >= 0 ? FeatureValue.FromFloat64(Math.Sqrt(d)) : FeatureValue.Null;
    }
}
