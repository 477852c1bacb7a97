using Freshet.Definitions;

namespace Freshet.Expressions;

internal sealed partial class ExpressionBinder
{
    private static readonly string[] Functions = ["abs", "coalesce", "if", "log", "max", "min", "sqrt"];

    private Bound BindBinary(BinarySyntax b)
    {
        var left = Bind(b.Left);
        var right = Bind(b.Right);
        var op = ExpressionSyntax.Text(b.Operator);
        if (left.Kind == ExprKind.Error || right.Kind == ExprKind.Error)
        {
            return ErrorNode;
        }

        switch (b.Operator)
        {
            case BinaryOperator.And or BinaryOperator.Or:
                if (!IsBoolOrNull(left) || !IsBoolOrNull(right))
                {
                    return Error(b.OperatorSpan, $"'{op}' needs bools, not {left.Type} and {right.Type}");
                }

                Evaluator logic = b.Operator == BinaryOperator.And ? new AndEval(left.Eval, right.Eval) : new OrEval(left.Eval, right.Eval);
                return new Bound(logic, new ExprType(ExprKind.Bool));
            case >= BinaryOperator.Equal and <= BinaryOperator.GreaterOrEqual:
                return BindComparison(b, left, right, op);
            default:
                return BindArithmetic(b, left, right, op);
        }
    }

    private static bool IsBoolOrNull(Bound b) => b.Kind is ExprKind.Bool or ExprKind.Null;

    private Bound BindArithmetic(BinarySyntax b, Bound left, Bound right, string op)
    {
        if (!(left.Type.IsNumeric || left.Kind == ExprKind.Null) || !(right.Type.IsNumeric || right.Kind == ExprKind.Null))
        {
            return Error(b.OperatorSpan, $"'{op}' needs numbers, not {left.Type} and {right.Type}");
        }

        var isInt = b.Operator != BinaryOperator.Divide && left.Kind != ExprKind.Float && right.Kind != ExprKind.Float;
        var type = new ExprType(isInt ? ExprKind.Int : ExprKind.Float);
        if (left.Kind == ExprKind.Null || right.Kind == ExprKind.Null)
        {
            return Null(left.Kind == ExprKind.Null && right.Kind == ExprKind.Null && b.Operator != BinaryOperator.Divide ? new ExprType(ExprKind.Null) : type);
        }

        Evaluator e = (b.Operator, isInt) switch
        {
            (BinaryOperator.Add, true) => new IntArith<AddOp>(left.Eval, right.Eval),
            (BinaryOperator.Subtract, true) => new IntArith<SubtractOp>(left.Eval, right.Eval),
            (BinaryOperator.Multiply, true) => new IntArith<MultiplyOp>(left.Eval, right.Eval),
            (BinaryOperator.Remainder, true) => new IntArith<RemainderOp>(left.Eval, right.Eval),
            (BinaryOperator.Add, false) => new FloatArith<AddOp>(left.Eval, right.Eval),
            (BinaryOperator.Subtract, false) => new FloatArith<SubtractOp>(left.Eval, right.Eval),
            (BinaryOperator.Multiply, false) => new FloatArith<MultiplyOp>(left.Eval, right.Eval),
            (BinaryOperator.Remainder, false) => new FloatArith<RemainderOp>(left.Eval, right.Eval),
            _ => new FloatArith<DivideOp>(left.Eval, right.Eval),
        };
        return new Bound(e, type);
    }

    private Bound BindComparison(BinarySyntax b, Bound left, Bound right, string op)
    {
        if (left.Kind == ExprKind.Null || right.Kind == ExprKind.Null)
        {
            var other = left.Kind == ExprKind.Null ? b.Right : b.Left;
            var shown = text.Substring(other.Span.Offset, other.Span.Length);
            var fix = b.Operator == BinaryOperator.NotEqual ? "is not null" : "is null";
            return Error(b.OperatorSpan, $"comparing with null always gives null; write '{shown} {fix}'");
        }

        var ordering = b.Operator is not (BinaryOperator.Equal or BinaryOperator.NotEqual);
        CompareMode? mode = (left.Kind, right.Kind) switch
        {
            (ExprKind.Int, ExprKind.Int) => CompareMode.Int,
            (ExprKind.Int or ExprKind.Float, ExprKind.Int or ExprKind.Float) => CompareMode.Float,
            (ExprKind.String, ExprKind.String) => CompareMode.String,
            (ExprKind.Timestamp, ExprKind.Timestamp) => CompareMode.Timestamp,
            (ExprKind.Bool, ExprKind.Bool) when !ordering => CompareMode.Bool,
            (ExprKind.Bytes, ExprKind.Bytes) when !ordering => CompareMode.Bytes,
            _ => null,
        };
        if (mode is not { } m)
        {
            return left.Type == right.Type && left.Kind is ExprKind.Bool or ExprKind.Bytes
                ? Error(b.OperatorSpan, $"'{op}' does not order {left.Type} values; only == and != apply")
                : Error(b.OperatorSpan, $"'{op}' cannot compare {left.Type} with {right.Type}");
        }

        Evaluator e = b.Operator switch
        {
            BinaryOperator.Equal => new Comparison<EqualTest>(left.Eval, right.Eval, m),
            BinaryOperator.NotEqual => new Comparison<NotEqualTest>(left.Eval, right.Eval, m),
            BinaryOperator.Less => new Comparison<LessTest>(left.Eval, right.Eval, m),
            BinaryOperator.LessOrEqual => new Comparison<LessOrEqualTest>(left.Eval, right.Eval, m),
            BinaryOperator.Greater => new Comparison<GreaterTest>(left.Eval, right.Eval, m),
            _ => new Comparison<GreaterOrEqualTest>(left.Eval, right.Eval, m),
        };
        return new Bound(e, new ExprType(ExprKind.Bool));
    }

    private Bound BindCall(CallSyntax c)
    {
        if (Array.IndexOf(Functions, c.Function) < 0)
        {
            return scope.Find(c.Function) is { Input: not null } or { Ambiguous: not null }
                ? Error(c.NameSpan, $"'{c.Function}' is an input, not a function")
                : Error(c.NameSpan, $"unknown function '{c.Function}'", Suggest.Hint(c.Function, Functions));
        }

        var args = new Bound[c.Arguments.Count];
        var failed = false;
        for (var i = 0; i < args.Length; i++)
        {
            args[i] = Bind(c.Arguments[i]);
            failed |= args[i].Kind == ExprKind.Error;
        }

        var (min, max, arity) = c.Function switch
        {
            "abs" or "log" or "sqrt" => (1, 1, "one argument"),
            "min" or "max" => (2, int.MaxValue, "at least two arguments"),
            "coalesce" => (1, int.MaxValue, "at least one argument"),
            _ => (3, 3, "three arguments: if(condition, then, else)"),
        };
        if (args.Length < min || args.Length > max)
        {
            return Error(c.NameSpan, $"'{c.Function}' takes {arity}, not {args.Length}");
        }

        if (failed)
        {
            return ErrorNode;
        }

        return c.Function switch
        {
            "abs" or "log" or "sqrt" => BindMath(c, args[0]),
            "min" or "max" => BindMinMax(c, args),
            "coalesce" => BindCoalesce(c, args),
            _ => BindIf(c, args),
        };
    }

    private Bound BindMath(CallSyntax c, Bound a)
    {
        if (!a.Type.IsNumeric && a.Kind != ExprKind.Null)
        {
            return Error(c.Arguments[0].Span, $"'{c.Function}' needs a number, not {a.Type}");
        }

        if (c.Function == "abs")
        {
            return a.Kind switch
            {
                ExprKind.Null => a,
                ExprKind.Int => new Bound(new AbsInt(a.Eval), a.Type),
                _ => new Bound(new AbsFloat(a.Eval), a.Type),
            };
        }

        var type = new ExprType(ExprKind.Float);
        if (a.Kind == ExprKind.Null)
        {
            return Null(type);
        }

        return new Bound(c.Function == "log" ? new LogEval(a.Eval) : new SqrtEval(a.Eval), type);
    }

    /// <summary>The common type of all arguments; reports at the first that does not fit.</summary>
    private ExprType? UnifyAll(CallSyntax c, Bound[] args, int first)
    {
        var type = new ExprType(ExprKind.Null);
        for (var i = first; i < args.Length; i++)
        {
            if (Unify(type, args[i].Type) is not { } t)
            {
                Error(c.Arguments[i].Span, $"the arguments of '{c.Function}' must have one type: {args[i].Type} does not go with {type}");
                return null;
            }

            type = t;
        }

        return type;
    }

    private Bound BindMinMax(CallSyntax c, Bound[] args)
    {
        if (UnifyAll(c, args, 0) is not { } type)
        {
            return ErrorNode;
        }

        CompareMode? mode = type.Kind switch
        {
            ExprKind.Int => CompareMode.Int,
            ExprKind.Float => CompareMode.Float,
            ExprKind.String => CompareMode.String,
            ExprKind.Timestamp => CompareMode.Timestamp,
            ExprKind.Null => CompareMode.Int,
            _ => null,
        };
        if (mode is not { } m)
        {
            return Error(c.NameSpan, $"'{c.Function}' needs numbers, strings or timestamps, not {type}");
        }

        if (Array.Exists(args, a => a.Kind == ExprKind.Null))
        {
            return Null(type);
        }

        var evals = Array.ConvertAll(args, a => To(a, type));
        return new Bound(new MinMaxEval(evals, m, c.Function == "max"), type);
    }

    private Bound BindCoalesce(CallSyntax c, Bound[] args)
    {
        if (UnifyAll(c, args, 0) is not { } type)
        {
            return ErrorNode;
        }

        var evals = Array.ConvertAll(args, a => To(a, type));
        return new Bound(evals.Length == 1 ? evals[0] : new CoalesceEval(evals), type);
    }

    private Bound BindIf(CallSyntax c, Bound[] args)
    {
        if (!IsBoolOrNull(args[0]))
        {
            return Error(c.Arguments[0].Span, $"the condition of 'if' must be a bool, not {args[0].Type}");
        }

        if (UnifyAll(c, args, 1) is not { } type)
        {
            return ErrorNode;
        }

        return new Bound(new IfEval(args[0].Eval, To(args[1], type), To(args[2], type)), type);
    }
}
