using System.Globalization;

namespace Freshet.Expressions;

/// <summary>The limits that keep hostile expressions from costing more than a bounded amount of work.</summary>
public static class ExpressionLimits
{
    /// <summary>The longest expression accepted, in characters.</summary>
    public const int MaxLength = 4096;

    /// <summary>
    /// The deepest nesting accepted: parentheses, function calls and unary operators each add a level while
    /// parsing, and the syntax tree may be no deeper than this either (so a chain of more than 64 <c>+</c> fails).
    /// </summary>
    public const int MaxDepth = 64;
}

/// <summary>
/// One problem in an expression: a plain message, where it is (<see cref="Span"/>, and the 1-based
/// <see cref="Line"/> and <see cref="Column"/> within the expression) and an optional hint
/// (<c>; did you mean 'amount'?</c>).
/// </summary>
public sealed record ExpressionError(string Message, TextSpan Span, int Line, int Column, string Hint = "")
{
    /// <summary>An error at <paramref name="span"/> of <paramref name="text"/>; line and column are computed.</summary>
    public static ExpressionError At(string text, TextSpan span, string message, string hint = "")
    {
        var offset = Math.Clamp(span.Offset, 0, text.Length);
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < offset; i++)
        {
            if (text[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return new ExpressionError(message, span, line, offset - lineStart + 1, hint);
    }

    /// <summary><c>unknown input 'amout' at 1:5; did you mean 'amount'?</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Message} at {Line}:{Column}{Hint}");
}

/// <summary>Thrown by <see cref="ExpressionCompiler.CompileOrThrow"/>: lists every problem found.</summary>
public sealed class ExpressionException(string expression, IReadOnlyList<ExpressionError> errors)
    : Exception($"invalid expression '{expression}': {string.Join("; ", errors)}")
{
    /// <summary>The text that failed.</summary>
    public string Expression { get; } = expression;

    /// <summary>Every problem found.</summary>
    public IReadOnlyList<ExpressionError> Errors { get; } = errors;
}
