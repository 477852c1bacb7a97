using System.Diagnostics.CodeAnalysis;
using Freshet.Values;

namespace Freshet.Expressions;

/// <summary>A parsed expression, or the first problem that stopped the parser.</summary>
public sealed record ParseResult(ExpressionSyntax? Syntax, ExpressionError? Error)
{
    /// <summary>True when the text parsed.</summary>
    [MemberNotNullWhen(true, nameof(Syntax))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool Success => Syntax is not null;
}

/// <summary>
/// Recursive-descent parser of the expression language (docs/expressions.md). It never throws on bad input:
/// length and nesting are bounded (<see cref="ExpressionLimits"/>), and the first problem is returned.
/// </summary>
public static class ExpressionParser
{
    /// <summary>Parses an expression.</summary>
    public static ParseResult Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > ExpressionLimits.MaxLength)
        {
            return new ParseResult(null, ExpressionError.At(text, new TextSpan(ExpressionLimits.MaxLength, text.Length - ExpressionLimits.MaxLength),
                $"expression is too long: {text.Length} characters, at most {ExpressionLimits.MaxLength} are accepted"));
        }

        try
        {
            var p = new Parser(text);
            return new ParseResult(p.ParseAll(), null);
        }
        catch (ParseFailure f)
        {
            return new ParseResult(null, f.Error);
        }
    }

    /// <summary>Unwinds the descent at the first problem; never leaves <see cref="Parse"/>.</summary>
    private sealed class ParseFailure(ExpressionError error) : Exception(error.Message)
    {
        public ExpressionError Error { get; } = error;
    }

    private readonly record struct Parsed(ExpressionSyntax Node, int Depth);

    private sealed class Parser
    {
        private readonly string _text;
        private readonly ExpressionLexer _lexer;
        private Token _token;
        private int _nesting;

        public Parser(string text)
        {
            _text = text;
            _lexer = new ExpressionLexer(text);
            Advance();
        }

        public ExpressionSyntax ParseAll()
        {
            if (_token.Kind == TokenKind.End)
            {
                throw Fail(_token.Span, "expression is empty");
            }

            var e = ParseOr();
            if (_token.Kind != TokenKind.End)
            {
                var hint = _token.Kind == TokenKind.CloseParen ? "unmatched ')'" : $"unexpected {Describe(_token)} after a complete expression";
                throw Fail(_token.Span, hint);
            }

            return e.Node;
        }

        private void Advance()
        {
            _token = _lexer.Next();
            if (_lexer.Error is { } error)
            {
                throw new ParseFailure(error);
            }
        }

        private ParseFailure Fail(TextSpan span, string message) => new(ExpressionError.At(_text, span, message));

        private void Enter(TextSpan at)
        {
            if (++_nesting > ExpressionLimits.MaxDepth)
            {
                throw Fail(at, $"expression is nested too deeply: at most {ExpressionLimits.MaxDepth} levels");
            }
        }

        private Parsed Make(ExpressionSyntax node, int depth) =>
            depth > ExpressionLimits.MaxDepth
                ? throw Fail(node.Span, $"expression is nested too deeply: at most {ExpressionLimits.MaxDepth} levels")
                : new Parsed(node, depth);

        private Parsed Binary(BinaryOperator op, TextSpan opSpan, Parsed left, Parsed right) =>
            Make(new BinarySyntax(TextSpan.Cover(left.Node.Span, right.Node.Span), op, opSpan, left.Node, right.Node), 1 + Math.Max(left.Depth, right.Depth));

        private Parsed ParseOr()
        {
            var left = ParseAnd();
            while (_token.Kind == TokenKind.Or)
            {
                var op = _token.Span;
                Advance();
                left = Binary(BinaryOperator.Or, op, left, ParseAnd());
            }

            return left;
        }

        private Parsed ParseAnd()
        {
            var left = ParseNot();
            while (_token.Kind == TokenKind.And)
            {
                var op = _token.Span;
                Advance();
                left = Binary(BinaryOperator.And, op, left, ParseNot());
            }

            return left;
        }

        private Parsed ParseNot()
        {
            if (_token.Kind != TokenKind.Not)
            {
                return ParseComparison();
            }

            var start = _token.Span;
            Enter(start);
            Advance();
            var operand = ParseNot();
            _nesting--;
            return Make(new UnarySyntax(TextSpan.Cover(start, operand.Node.Span), UnaryOperator.Not, operand.Node), operand.Depth + 1);
        }

        private Parsed ParseComparison()
        {
            var left = ParseAdditive();
            Parsed result;
            if (_token.Kind == TokenKind.Is)
            {
                Advance();
                var negated = false;
                if (_token.Kind == TokenKind.Not)
                {
                    negated = true;
                    Advance();
                }

                if (_token.Kind != TokenKind.Null)
                {
                    throw Fail(_token.Span, $"expected 'null' after '{(negated ? "is not" : "is")}', found {Describe(_token)}");
                }

                var end = _token.Span;
                Advance();
                result = Make(new IsNullSyntax(TextSpan.Cover(left.Node.Span, end), left.Node, negated), left.Depth + 1);
            }
            else if (ComparisonOf(_token.Kind) is { } op)
            {
                var opSpan = _token.Span;
                Advance();
                result = Binary(op, opSpan, left, ParseAdditive());
            }
            else
            {
                return left;
            }

            if (ComparisonOf(_token.Kind) is not null || _token.Kind == TokenKind.Is)
            {
                throw Fail(_token.Span, "comparisons do not chain: write 'a < b and b < c', or add parentheses");
            }

            return result;
        }

        private static BinaryOperator? ComparisonOf(TokenKind kind) => kind switch
        {
            TokenKind.EqualEqual => BinaryOperator.Equal,
            TokenKind.NotEqual => BinaryOperator.NotEqual,
            TokenKind.Less => BinaryOperator.Less,
            TokenKind.LessEqual => BinaryOperator.LessOrEqual,
            TokenKind.Greater => BinaryOperator.Greater,
            TokenKind.GreaterEqual => BinaryOperator.GreaterOrEqual,
            _ => null,
        };

        private Parsed ParseAdditive()
        {
            var left = ParseMultiplicative();
            while (_token.Kind is TokenKind.Plus or TokenKind.Minus)
            {
                var op = _token.Kind == TokenKind.Plus ? BinaryOperator.Add : BinaryOperator.Subtract;
                var opSpan = _token.Span;
                Advance();
                left = Binary(op, opSpan, left, ParseMultiplicative());
            }

            return left;
        }

        private Parsed ParseMultiplicative()
        {
            var left = ParseUnary();
            while (_token.Kind is TokenKind.Star or TokenKind.Slash or TokenKind.Percent)
            {
                var op = _token.Kind switch
                {
                    TokenKind.Star => BinaryOperator.Multiply,
                    TokenKind.Slash => BinaryOperator.Divide,
                    _ => BinaryOperator.Remainder,
                };
                var opSpan = _token.Span;
                Advance();
                left = Binary(op, opSpan, left, ParseUnary());
            }

            return left;
        }

        private Parsed ParseUnary()
        {
            if (_token.Kind != TokenKind.Minus)
            {
                return ParsePrimary();
            }

            var start = _token.Span;
            Enter(start);
            Advance();
            var operand = ParseUnary();
            _nesting--;
            return Make(new UnarySyntax(TextSpan.Cover(start, operand.Node.Span), UnaryOperator.Negate, operand.Node), operand.Depth + 1);
        }

        private Parsed ParsePrimary()
        {
            var t = _token;
            switch (t.Kind)
            {
                case TokenKind.Number or TokenKind.String or TokenKind.True or TokenKind.False:
                    Advance();
                    return new Parsed(new LiteralSyntax(t.Span, t.Value), 1);
                case TokenKind.Null:
                    Advance();
                    return new Parsed(new LiteralSyntax(t.Span, FeatureValue.Null), 1);
                case TokenKind.OpenParen:
                {
                    Enter(t.Span);
                    Advance();
                    var inner = ParseOr();
                    if (_token.Kind != TokenKind.CloseParen)
                    {
                        throw Fail(_token.Kind == TokenKind.End ? t.Span : _token.Span, _token.Kind == TokenKind.End
                            ? "unclosed '(': the parenthesis opened here is never closed"
                            : $"expected ')' to close the '(' at offset {t.Span.Offset}, found {Describe(_token)}");
                    }

                    // The node takes the span of its parentheses, so that messages quote what was written.
                    var close = _token.Span;
                    Advance();
                    _nesting--;
                    return inner with { Node = inner.Node with { Span = TextSpan.Cover(t.Span, close) } };
                }

                case TokenKind.Identifier:
                    Advance();
                    return _token.Kind == TokenKind.OpenParen ? ParseCall(t) : new Parsed(new IdentifierSyntax(t.Span, t.Text), 1);
                default:
                    throw Fail(t.Span, $"expected a value, found {Describe(t)}");
            }
        }

        private Parsed ParseCall(Token name)
        {
            var open = _token.Span;
            Enter(open);
            Advance();
            var args = new List<ExpressionSyntax>();
            var depth = 0;
            if (_token.Kind != TokenKind.CloseParen)
            {
                while (true)
                {
                    var arg = ParseOr();
                    args.Add(arg.Node);
                    depth = Math.Max(depth, arg.Depth);
                    if (_token.Kind == TokenKind.Comma)
                    {
                        Advance();
                        continue;
                    }

                    if (_token.Kind == TokenKind.CloseParen)
                    {
                        break;
                    }

                    throw Fail(_token.Kind == TokenKind.End ? open : _token.Span, _token.Kind == TokenKind.End
                        ? $"unclosed '(' of the call to '{name.Text}'"
                        : $"expected ',' or ')' in the call to '{name.Text}', found {Describe(_token)}");
                }
            }

            var close = _token.Span;
            Advance();
            _nesting--;
            return Make(new CallSyntax(TextSpan.Cover(name.Span, close), name.Text, name.Span, args), depth + 1);
        }

        private string Describe(Token t) => t.Kind switch
        {
            TokenKind.End => "the end of the expression",
            TokenKind.Identifier => $"name '{t.Text}'",
            TokenKind.Number or TokenKind.String => $"literal {_text.Substring(t.Span.Offset, t.Span.Length)}",
            _ => $"'{_text.Substring(t.Span.Offset, t.Span.Length)}'",
        };
    }
}
