using System.Diagnostics.CodeAnalysis;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.Expressions;

/// <summary>
/// A node of a compiled expression. Each node is specialised at compile time for the types of its operands,
/// so evaluation does no type dispatch beyond null checks, and numeric results allocate nothing.
/// </summary>
internal abstract class Evaluator
{
    public abstract FeatureValue Eval(IValueSource inputs);
}

/// <summary>The static type of an expression. <see cref="Int"/> is int64, <see cref="Float"/> is float64.</summary>
internal enum ExprKind
{
    /// <summary>A problem was reported; the node takes any type so that no second error follows from it.</summary>
    Error,
    /// <summary>The <c>null</c> literal (and what is built only of it): fits any type.</summary>
    Null,
    Bool,
    Int,
    Float,
    String,
    Bytes,
    Timestamp,
    /// <summary>A list or vector: read, tested for null, passed through coalesce and if, nothing else.</summary>
    Opaque,
}

/// <summary>An expression's static type; <see cref="Opaque"/> is the list or vector type when the kind is opaque.</summary>
internal readonly record struct ExprType(ExprKind Kind, FeatureType Opaque = default)
{
    public bool IsNumeric => Kind is ExprKind.Int or ExprKind.Float;

    public override string ToString() => Kind switch
    {
        ExprKind.Error => "(error)",
        ExprKind.Null => "null",
        ExprKind.Bool => "bool",
        ExprKind.Int => "int64",
        ExprKind.Float => "float64",
        ExprKind.String => "string",
        ExprKind.Bytes => "bytes",
        ExprKind.Timestamp => "timestamp",
        _ => Opaque.ToString(),
    };
}

internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void WrongInput(int slot, ValueKind actual, ExprType expected) =>
        throw new InvalidOperationException($"input slot {slot} holds a {actual} value, but the expression reads it as {expected}; values must be coerced to the input's declared type before evaluation");
}

internal sealed class ConstantEval(FeatureValue value) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs) => value;
}

/// <summary>Reads a slot and brings it to the expression's representation: int32 to int64, float32 to float64, non-finite floats to null.</summary>
internal sealed class LoadEval(int slot, ExprType type, ValueKind opaqueKind) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var v = inputs.Get(slot);
        if (v.IsNull)
        {
            return v;
        }

        switch (type.Kind)
        {
            case ExprKind.Int when v.Kind == ValueKind.Int64:
                return v;
            case ExprKind.Int when v.Kind == ValueKind.Int32:
                return FeatureValue.FromInt64(v.AsInt64());
            case ExprKind.Float when v.Kind is ValueKind.Float64 or ValueKind.Float32 or ValueKind.Int32 or ValueKind.Int64:
                var d = v.ToDouble();
                return double.IsFinite(d) ? (v.Kind == ValueKind.Float64 ? v : FeatureValue.FromFloat64(d)) : FeatureValue.Null;
            case ExprKind.Bool when v.Kind == ValueKind.Bool:
            case ExprKind.String when v.Kind == ValueKind.String:
            case ExprKind.Bytes when v.Kind == ValueKind.Bytes:
            case ExprKind.Timestamp when v.Kind == ValueKind.Timestamp:
                return v;
            case ExprKind.Opaque when v.Kind == opaqueKind:
                return v;
        }

        ThrowHelper.WrongInput(slot, v.Kind, type);
        return default;
    }
}

internal interface IIntOp
{
    static abstract bool Apply(long a, long b, out long result);
}

internal interface IFloatOp
{
    static abstract double Apply(double a, double b);
}

internal struct AddOp : IIntOp, IFloatOp
{
    public static bool Apply(long a, long b, out long result)
    {
        result = unchecked(a + b);
        return ((a ^ result) & (b ^ result)) >= 0;
    }

    public static double Apply(double a, double b) => a + b;
}

internal struct SubtractOp : IIntOp, IFloatOp
{
    public static bool Apply(long a, long b, out long result)
    {
        result = unchecked(a - b);
        return ((a ^ b) & (a ^ result)) >= 0;
    }

    public static double Apply(double a, double b) => a - b;
}

internal struct MultiplyOp : IIntOp, IFloatOp
{
    public static bool Apply(long a, long b, out long result)
    {
        var high = Math.BigMul(a, b, out result);
        return high == (result >> 63);
    }

    public static double Apply(double a, double b) => a * b;
}

internal struct RemainderOp : IIntOp, IFloatOp
{
    public static bool Apply(long a, long b, out long result)
    {
        // long.MinValue % -1 throws in .NET; its value is 0.
        result = b == -1 ? 0 : b == 0 ? 0 : a % b;
        return b != 0;
    }

    public static double Apply(double a, double b) => a % b;
}

internal struct DivideOp : IFloatOp
{
    public static double Apply(double a, double b) => a / b;
}

/// <summary>int64 arithmetic; overflow and a zero divisor give null.</summary>
internal sealed class IntArith<TOp>(Evaluator left, Evaluator right) : Evaluator
    where TOp : struct, IIntOp
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

        return TOp.Apply(a.AsInt64(), b.AsInt64(), out var r) ? FeatureValue.FromInt64(r) : FeatureValue.Null;
    }
}

/// <summary>float64 arithmetic on numbers of either kind; a result that is not finite (x/0, overflow) is null.</summary>
internal sealed class FloatArith<TOp>(Evaluator left, Evaluator right) : Evaluator
    where TOp : struct, IFloatOp
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

        return Finite(TOp.Apply(a.ToDouble(), b.ToDouble()));
    }

    public static FeatureValue Finite(double r) => double.IsFinite(r) ? FeatureValue.FromFloat64(r) : FeatureValue.Null;
}

internal sealed class IntNegate(Evaluator operand) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = operand.Eval(inputs);
        return a.IsNull || a.AsInt64() == long.MinValue ? FeatureValue.Null : FeatureValue.FromInt64(-a.AsInt64());
    }
}

internal sealed class FloatNegate(Evaluator operand) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = operand.Eval(inputs);
        return a.IsNull ? a : FeatureValue.FromFloat64(-a.AsFloat64());
    }
}

/// <summary>An int64 widened to float64 where a float64 is expected (a branch of if, an argument of max, the result).</summary>
internal sealed class IntToFloat(Evaluator operand) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = operand.Eval(inputs);
        return a.IsNull ? a : FeatureValue.FromFloat64(a.AsInt64());
    }
}

/// <summary>The result of an int32 feature: an int64 out of range gives null.</summary>
internal sealed class ToInt32(Evaluator operand) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = operand.Eval(inputs);
        return a.IsNull || a.AsInt64() is < int.MinValue or > int.MaxValue ? FeatureValue.Null : FeatureValue.FromInt32((int)a.AsInt64());
    }
}

/// <summary>The result of a float32 feature: a number out of float32's range gives null.</summary>
internal sealed class ToFloat32(Evaluator operand) : Evaluator
{
    public override FeatureValue Eval(IValueSource inputs)
    {
        var a = operand.Eval(inputs);
        if (a.IsNull)
        {
            return a;
        }

        var f = (float)a.ToDouble();
        return float.IsFinite(f) ? FeatureValue.FromFloat32(f) : FeatureValue.Null;
    }
}
