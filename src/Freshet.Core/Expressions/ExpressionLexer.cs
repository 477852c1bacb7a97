using System.Globalization;
using System.Text;
using Freshet.Values;

namespace Freshet.Expressions;

internal enum TokenKind
{
    End,
    Number,
    String,
    Identifier,
    And,
    Or,
    Not,
    Is,
    Null,
    True,
    False,
    OpenParen,
    CloseParen,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    EqualEqual,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
}

/// <summary>A token; <see cref="Value"/> holds the value of a literal, <see cref="Text"/> the name of an identifier.</summary>
internal readonly record struct Token(TokenKind Kind, TextSpan Span, string Text, FeatureValue Value);

/// <summary>
/// Splits an expression into tokens. The first problem stops it: an error of form is reported once, at
/// its position, and nothing after it is read.
/// </summary>
internal sealed class ExpressionLexer(string text)
{
    private int _pos;

    public ExpressionError? Error { get; private set; }

    /// <summary>The next token, or an <see cref="TokenKind.End"/> token with <see cref="Error"/> set.</summary>
    public Token Next()
    {
        while (_pos < text.Length && text[_pos] is ' ' or '\t' or '\r' or '\n')
        {
            _pos++;
        }

        if (_pos >= text.Length)
        {
            return new Token(TokenKind.End, new TextSpan(text.Length, 0), "", default);
        }

        var start = _pos;
        var c = text[_pos];
        if (char.IsAsciiLetter(c) || c == '_')
        {
            return Word(start);
        }

        if (char.IsAsciiDigit(c))
        {
            return Number(start);
        }

        if (c is '\'' or '"')
        {
            return String(start, c);
        }

        var next = _pos + 1 < text.Length ? text[_pos + 1] : '\0';
        switch (c)
        {
            case '(': return Punct(TokenKind.OpenParen, 1);
            case ')': return Punct(TokenKind.CloseParen, 1);
            case ',': return Punct(TokenKind.Comma, 1);
            case '+': return Punct(TokenKind.Plus, 1);
            case '-': return Punct(TokenKind.Minus, 1);
            case '*': return Punct(TokenKind.Star, 1);
            case '/': return Punct(TokenKind.Slash, 1);
            case '%': return Punct(TokenKind.Percent, 1);
            case '=' when next == '=': return Punct(TokenKind.EqualEqual, 2);
            case '=': return Fail(start, 1, "'=' is not an operator; write '==' to compare");
            case '!' when next == '=': return Punct(TokenKind.NotEqual, 2);
            case '!': return Fail(start, 1, "'!' is not an operator; write 'not'");
            case '<' when next == '=': return Punct(TokenKind.LessEqual, 2);
            case '<' when next == '>': return Fail(start, 2, "'<>' is not an operator; write '!='");
            case '<': return Punct(TokenKind.Less, 1);
            case '>' when next == '=': return Punct(TokenKind.GreaterEqual, 2);
            case '>': return Punct(TokenKind.Greater, 1);
            case '&': return Fail(start, next == '&' ? 2 : 1, "'&&' is not an operator; write 'and'");
            case '|': return Fail(start, next == '|' ? 2 : 1, "'||' is not an operator; write 'or'");
            case '.' when char.IsAsciiDigit(next): return Fail(start, 1, "a number must start with a digit: write 0.5, not .5");
            default:
                var shown = char.IsControl(c) || char.IsSurrogate(c) ? $"U+{(int)c:X4}" : c.ToString();
                return Fail(start, 1, $"unexpected character '{shown}'");
        }
    }

    private Token Punct(TokenKind kind, int length)
    {
        var span = new TextSpan(_pos, length);
        _pos += length;
        return new Token(kind, span, "", default);
    }

    private Token Fail(int offset, int length, string message)
    {
        Error ??= ExpressionError.At(text, new TextSpan(offset, length), message);
        _pos = text.Length;
        return new Token(TokenKind.End, new TextSpan(offset, length), "", default);
    }

    private Token Word(int start)
    {
        ReadName();

        // One dot joins an input to one of its names: scoring_request.amount.
        if (_pos + 1 < text.Length && text[_pos] == '.' && (char.IsAsciiLetter(text[_pos + 1]) || text[_pos + 1] == '_'))
        {
            _pos++;
            ReadName();
            if (_pos < text.Length && text[_pos] == '.')
            {
                return Fail(start, _pos - start + 1, "a name has at most one dot: input.feature");
            }
        }

        var span = new TextSpan(start, _pos - start);
        var word = text.Substring(start, span.Length);
        var kind = word switch
        {
            "and" => TokenKind.And,
            "or" => TokenKind.Or,
            "not" => TokenKind.Not,
            "is" => TokenKind.Is,
            "null" => TokenKind.Null,
            "true" => TokenKind.True,
            "false" => TokenKind.False,
            _ => TokenKind.Identifier,
        };
        var value = kind switch
        {
            TokenKind.True => FeatureValue.FromBool(true),
            TokenKind.False => FeatureValue.FromBool(false),
            _ => default,
        };
        return new Token(kind, span, word, value);
    }

    private void ReadName()
    {
        while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '_'))
        {
            _pos++;
        }
    }

    private Token Number(int start)
    {
        var isFloat = false;
        SkipDigits();
        if (_pos < text.Length && text[_pos] == '.')
        {
            _pos++;
            if (_pos >= text.Length || !char.IsAsciiDigit(text[_pos]))
            {
                return Fail(start, _pos - start, "a digit must follow the decimal point: write 1.0, not 1.");
            }

            SkipDigits();
            isFloat = true;
        }

        if (_pos < text.Length && text[_pos] is 'e' or 'E')
        {
            _pos++;
            if (_pos < text.Length && text[_pos] is '+' or '-')
            {
                _pos++;
            }

            if (_pos >= text.Length || !char.IsAsciiDigit(text[_pos]))
            {
                return Fail(start, _pos - start, "an exponent needs digits: write 1e6 or 2.5e-3");
            }

            SkipDigits();
            isFloat = true;
        }

        if (_pos < text.Length && (char.IsAsciiLetter(text[_pos]) || text[_pos] == '_'))
        {
            return Fail(start, _pos - start + 1, "a name cannot start with a digit");
        }

        var span = new TextSpan(start, _pos - start);
        var digits = text.AsSpan(start, span.Length);
        if (isFloat)
        {
            var d = double.Parse(digits, NumberStyles.Float, CultureInfo.InvariantCulture);
            return double.IsFinite(d)
                ? new Token(TokenKind.Number, span, "", FeatureValue.FromFloat64(d))
                : Fail(start, span.Length, "number is too large for float64");
        }

        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var l)
            ? new Token(TokenKind.Number, span, "", FeatureValue.FromInt64(l))
            : Fail(start, span.Length, "integer is too large for int64; write it as a float (e.g. 1e19)");
    }

    private void SkipDigits()
    {
        while (_pos < text.Length && char.IsAsciiDigit(text[_pos]))
        {
            _pos++;
        }
    }

    private Token String(int start, char quote)
    {
        var sb = new StringBuilder();
        _pos++;
        while (_pos < text.Length)
        {
            var c = text[_pos];
            if (c == quote)
            {
                _pos++;
                return new Token(TokenKind.String, new TextSpan(start, _pos - start), "", FeatureValue.FromString(sb.ToString()));
            }

            if (c == '\\')
            {
                if (_pos + 1 >= text.Length)
                {
                    break;
                }

                var e = text[_pos + 1];
                char? unescaped = e switch
                {
                    '\\' => '\\',
                    '\'' => '\'',
                    '"' => '"',
                    'n' => '\n',
                    't' => '\t',
                    _ => null,
                };
                if (unescaped is null)
                {
                    return Fail(_pos, 2, $"unknown escape '\\{e}' in a string; use \\\\, \\', \\\", \\n or \\t");
                }

                sb.Append(unescaped.Value);
                _pos += 2;
                continue;
            }

            sb.Append(c);
            _pos++;
        }

        return Fail(start, 1, $"unterminated string: the {(quote == '\'' ? "quote" : "double quote")} opened here is never closed");
    }
}
