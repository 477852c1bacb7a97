using Freshet.Values;

namespace Freshet.Expressions;

/// <summary>A range of characters in an expression's text: its start offset (from 0) and length.</summary>
public readonly record struct TextSpan(int Offset, int Length)
{
    /// <summary>The offset just past the end.</summary>
    public int End => Offset + Length;

    /// <summary>The span from the start of <paramref name="first"/> to the end of <paramref name="last"/>.</summary>
    public static TextSpan Cover(TextSpan first, TextSpan last) => new(first.Offset, last.End - first.Offset);
}

/// <summary>A unary operator.</summary>
public enum UnaryOperator
{
    /// <summary><c>-x</c>.</summary>
    Negate,
    /// <summary><c>not x</c>.</summary>
    Not,
}

/// <summary>A binary operator.</summary>
public enum BinaryOperator
{
    /// <summary><c>+</c>.</summary>
    Add,
    /// <summary><c>-</c>.</summary>
    Subtract,
    /// <summary><c>*</c>.</summary>
    Multiply,
    /// <summary><c>/</c> (always float64).</summary>
    Divide,
    /// <summary><c>%</c>.</summary>
    Remainder,
    /// <summary><c>==</c>.</summary>
    Equal,
    /// <summary><c>!=</c>.</summary>
    NotEqual,
    /// <summary><c>&lt;</c>.</summary>
    Less,
    /// <summary><c>&lt;=</c>.</summary>
    LessOrEqual,
    /// <summary><c>&gt;</c>.</summary>
    Greater,
    /// <summary><c>&gt;=</c>.</summary>
    GreaterOrEqual,
    /// <summary><c>and</c>.</summary>
    And,
    /// <summary><c>or</c>.</summary>
    Or,
}

/// <summary>A node of a parsed expression; <see cref="Span"/> locates it in the text.</summary>
public abstract record ExpressionSyntax(TextSpan Span)
{
    /// <summary>The text form of an operator.</summary>
    public static string Text(BinaryOperator op) => op switch
    {
        BinaryOperator.Add => "+",
        BinaryOperator.Subtract => "-",
        BinaryOperator.Multiply => "*",
        BinaryOperator.Divide => "/",
        BinaryOperator.Remainder => "%",
        BinaryOperator.Equal => "==",
        BinaryOperator.NotEqual => "!=",
        BinaryOperator.Less => "<",
        BinaryOperator.LessOrEqual => "<=",
        BinaryOperator.Greater => ">",
        BinaryOperator.GreaterOrEqual => ">=",
        BinaryOperator.And => "and",
        _ => "or",
    };
}

/// <summary>A literal: a number (int64 or float64), a string, <c>true</c>, <c>false</c> or <c>null</c>.</summary>
public sealed record LiteralSyntax(TextSpan Span, FeatureValue Value) : ExpressionSyntax(Span);

/// <summary>An input name, bare (<c>amount</c>) or qualified by its input (<c>scoring_request.amount</c>).</summary>
public sealed record IdentifierSyntax(TextSpan Span, string Name) : ExpressionSyntax(Span);

/// <summary><c>-x</c> or <c>not x</c>.</summary>
public sealed record UnarySyntax(TextSpan Span, UnaryOperator Operator, ExpressionSyntax Operand) : ExpressionSyntax(Span);

/// <summary>A binary operation; <see cref="OperatorSpan"/> locates the operator itself.</summary>
public sealed record BinarySyntax(TextSpan Span, BinaryOperator Operator, TextSpan OperatorSpan, ExpressionSyntax Left, ExpressionSyntax Right) : ExpressionSyntax(Span);

/// <summary><c>x is null</c> or <c>x is not null</c>.</summary>
public sealed record IsNullSyntax(TextSpan Span, ExpressionSyntax Operand, bool Negated) : ExpressionSyntax(Span);

/// <summary>A function call: <c>max(a, b)</c>; <see cref="NameSpan"/> locates the name.</summary>
public sealed record CallSyntax(TextSpan Span, string Function, TextSpan NameSpan, IReadOnlyList<ExpressionSyntax> Arguments) : ExpressionSyntax(Span);
