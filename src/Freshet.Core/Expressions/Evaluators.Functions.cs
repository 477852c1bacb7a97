using Freshet.Values;

namespace Freshet.Expressions;

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
