using Freshet.Definitions;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.Expressions;

/// <summary>
/// Resolves names against a scope, checks types and arities, and builds the evaluator tree in the same pass.
/// Every problem is collected; a node with a problem takes the error type, which fits anywhere, so one
/// mistake gives one message.
/// </summary>
internal sealed partial class ExpressionBinder(string text, ExpressionScope scope)
{
    private static readonly Bound ErrorNode = new(new ConstantEval(FeatureValue.Null), new ExprType(ExprKind.Error));

    public List<ExpressionError> Errors { get; } = [];

    public SortedSet<int> Slots { get; } = [];

    internal readonly record struct Bound(Evaluator Eval, ExprType Type)
    {
        public ExprKind Kind => Type.Kind;
    }

    private Bound Error(TextSpan span, string message, string hint = "")
    {
        Errors.Add(ExpressionError.At(text, span, message, hint));
        return ErrorNode;
    }

    private static Bound Null(ExprType type) => new(new ConstantEval(FeatureValue.Null), type);

    /// <summary>Binds the whole expression and converts its result to the declared type of the feature.</summary>
    public Evaluator BindResult(ExpressionSyntax syntax, FeatureType declared)
    {
        var b = Bind(syntax);
        if (b.Kind is ExprKind.Error || !declared.IsValid)
        {
            return b.Eval;
        }

        var converted = Convert(b, declared);
        if (converted is null)
        {
            Error(syntax.Span, $"the expression gives {b.Type}, but the feature is declared {declared}",
                b.Kind == ExprKind.Float && declared.Scalar is ScalarKind.Int32 or ScalarKind.Int64 && declared.IsScalar
                    ? "; declare the feature float64 (an integer feature takes only integer results)"
                    : "");
            return b.Eval;
        }

        return converted;
    }

    private static Evaluator? Convert(Bound b, FeatureType declared)
    {
        if (b.Kind == ExprKind.Null)
        {
            return b.Eval;
        }

        if (!declared.IsScalar)
        {
            return b.Kind == ExprKind.Opaque && b.Type.Opaque == declared ? b.Eval : null;
        }

        return (declared.Scalar, b.Kind) switch
        {
            (ScalarKind.Bool, ExprKind.Bool) => b.Eval,
            (ScalarKind.Int64, ExprKind.Int) => b.Eval,
            (ScalarKind.Int32, ExprKind.Int) => new ToInt32(b.Eval),
            (ScalarKind.Float64, ExprKind.Float) => b.Eval,
            (ScalarKind.Float64, ExprKind.Int) => new IntToFloat(b.Eval),
            (ScalarKind.Float32, ExprKind.Int or ExprKind.Float) => new ToFloat32(b.Eval),
            (ScalarKind.String, ExprKind.String) => b.Eval,
            (ScalarKind.Bytes, ExprKind.Bytes) => b.Eval,
            (ScalarKind.Timestamp, ExprKind.Timestamp) => b.Eval,
            _ => null,
        };
    }

    public Bound Bind(ExpressionSyntax syntax) => syntax switch
    {
        LiteralSyntax l => BindLiteral(l),
        IdentifierSyntax i => BindIdentifier(i),
        UnarySyntax u => BindUnary(u),
        BinarySyntax b => BindBinary(b),
        IsNullSyntax n => BindIsNull(n),
        CallSyntax c => BindCall(c),
        _ => Error(syntax.Span, "unsupported syntax"),
    };

    private static Bound BindLiteral(LiteralSyntax l) => new(new ConstantEval(l.Value), new ExprType(l.Value.Kind switch
    {
        ValueKind.Bool => ExprKind.Bool,
        ValueKind.Int64 => ExprKind.Int,
        ValueKind.Float64 => ExprKind.Float,
        ValueKind.String => ExprKind.String,
        _ => ExprKind.Null,
    }));

    private Bound BindIdentifier(IdentifierSyntax i)
    {
        var found = scope.Find(i.Name);
        if (found.Ambiguous is { } several)
        {
            return Error(i.Span, $"'{i.Name}' is ambiguous: {several.Count} inputs have it; write {string.Join(" or ", several.Select(e => e.QualifiedName))}");
        }

        if (found.Input is not { } input)
        {
            return Error(i.Span, $"unknown input '{i.Name}'", Suggest.Hint(i.Name, scope.Names()));
        }

        var type = TypeOf(input.Type);
        if (type.Kind == ExprKind.Error)
        {
            return ErrorNode;
        }

        Slots.Add(input.Slot);
        return new Bound(new LoadEval(input.Slot, type, FeatureValue.KindOf(input.Type)), type);
    }

    /// <summary>The expression type of an input type: int32 reads as int64, float32 as float64.</summary>
    internal static ExprType TypeOf(FeatureType t)
    {
        if (!t.IsValid)
        {
            return new ExprType(ExprKind.Error);
        }

        if (!t.IsScalar)
        {
            return new ExprType(ExprKind.Opaque, t);
        }

        return new ExprType(t.Scalar switch
        {
            ScalarKind.Bool => ExprKind.Bool,
            ScalarKind.Int32 or ScalarKind.Int64 => ExprKind.Int,
            ScalarKind.Float32 or ScalarKind.Float64 => ExprKind.Float,
            ScalarKind.String => ExprKind.String,
            ScalarKind.Bytes => ExprKind.Bytes,
            _ => ExprKind.Timestamp,
        });
    }

    private Bound BindUnary(UnarySyntax u)
    {
        var operand = Bind(u.Operand);
        var opSpan = new TextSpan(u.Span.Offset, u.Operator == UnaryOperator.Not ? 3 : 1);
        if (u.Operator == UnaryOperator.Not)
        {
            return operand.Kind switch
            {
                ExprKind.Error => ErrorNode,
                ExprKind.Null => Null(new ExprType(ExprKind.Bool)),
                ExprKind.Bool => new Bound(new NotEval(operand.Eval), operand.Type),
                _ => Error(opSpan, $"'not' needs a bool, not {operand.Type}"),
            };
        }

        return operand.Kind switch
        {
            ExprKind.Error => ErrorNode,
            ExprKind.Null => operand,
            ExprKind.Int => new Bound(new IntNegate(operand.Eval), operand.Type),
            ExprKind.Float => new Bound(new FloatNegate(operand.Eval), operand.Type),
            _ => Error(opSpan, $"'-' needs a number, not {operand.Type}"),
        };
    }

    private Bound BindIsNull(IsNullSyntax n)
    {
        var operand = Bind(n.Operand);
        var type = new ExprType(ExprKind.Bool);
        return operand.Kind switch
        {
            ExprKind.Error => ErrorNode,
            ExprKind.Null => new Bound(new ConstantEval(FeatureValue.FromBool(!n.Negated)), type),
            _ => new Bound(new IsNullEval(operand.Eval, n.Negated), type),
        };
    }

    /// <summary>Widens an int64 operand to float64 where the other operands made the type float64.</summary>
    private static Evaluator To(Bound b, ExprType target) =>
        target.Kind == ExprKind.Float && b.Kind == ExprKind.Int ? new IntToFloat(b.Eval) : b.Eval;

    /// <summary>The common type of two operands, or null when they have none.</summary>
    private static ExprType? Unify(ExprType a, ExprType b)
    {
        if (a.Kind == ExprKind.Error || b.Kind == ExprKind.Error)
        {
            return new ExprType(ExprKind.Error);
        }

        if (a.Kind == ExprKind.Null)
        {
            return b;
        }

        if (b.Kind == ExprKind.Null || a == b)
        {
            return a;
        }

        return a.IsNumeric && b.IsNumeric ? new ExprType(ExprKind.Float) : null;
    }
}
