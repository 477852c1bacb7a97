using System.Text;
using Freshet.Expressions;

namespace Freshet.Core.Tests;

public sealed class ExpressionParserTests
{
    /// <summary>The tree, fully parenthesised.</summary>
    internal static string Show(ExpressionSyntax e) => e switch
    {
        LiteralSyntax l => l.Value.IsNull ? "null" : l.Value.Kind == Values.ValueKind.String ? $"'{l.Value}'" : l.Value.ToString(),
        IdentifierSyntax i => i.Name,
        UnarySyntax u => u.Operator == UnaryOperator.Not ? $"(not {Show(u.Operand)})" : $"(-{Show(u.Operand)})",
        BinarySyntax b => $"({Show(b.Left)} {ExpressionSyntax.Text(b.Operator)} {Show(b.Right)})",
        IsNullSyntax n => $"({Show(n.Operand)} is {(n.Negated ? "not " : "")}null)",
        CallSyntax c => $"{c.Function}({string.Join(", ", c.Arguments.Select(Show))})",
        _ => "?",
    };

    private static string Parse(string text)
    {
        var r = ExpressionParser.Parse(text);
        Assert.True(r.Success, r.Error?.ToString());
        return Show(r.Syntax);
    }

    private static ExpressionError Fails(string text)
    {
        var r = ExpressionParser.Parse(text);
        Assert.False(r.Success, $"'{text}' parsed as {(r.Syntax is null ? "" : Show(r.Syntax))}");
        return r.Error;
    }

    [Theory]
    [InlineData("a + b * c", "(a + (b * c))")]
    [InlineData("a * b + c", "((a * b) + c)")]
    [InlineData("a - b - c", "((a - b) - c)")]
    [InlineData("a / b / c", "((a / b) / c)")]
    [InlineData("a % b * c", "((a % b) * c)")]
    [InlineData("(a + b) * c", "((a + b) * c)")]
    [InlineData("-a * b", "((-a) * b)")]
    [InlineData("- -a", "(-(-a))")]
    [InlineData("a - -b", "(a - (-b))")]
    [InlineData("a + b < c * d", "((a + b) < (c * d))")]
    [InlineData("a < b and c >= d or e == f", "(((a < b) and (c >= d)) or (e == f))")]
    [InlineData("a or b and c", "(a or (b and c))")]
    [InlineData("a and b and c", "((a and b) and c)")]
    [InlineData("a or b or c", "((a or b) or c)")]
    [InlineData("not a and b", "((not a) and b)")]
    [InlineData("not a == b", "(not (a == b))")]
    [InlineData("not not a", "(not (not a))")]
    [InlineData("a is null", "(a is null)")]
    [InlineData("a + 1 is not null and b is null", "(((a + 1) is not null) and (b is null))")]
    [InlineData("not a is null", "(not (a is null))")]
    [InlineData("a != b", "(a != b)")]
    [InlineData("a <= b", "(a <= b)")]
    [InlineData("a > b", "(a > b)")]
    [InlineData("max(a, b, 3) + min(1, 2)", "(max(a, b, 3) + min(1, 2))")]
    [InlineData("if(a > 0, 'pos', \"neg\")", "if((a > 0), 'pos', 'neg')")]
    [InlineData("coalesce(req.amount, 0)", "coalesce(req.amount, 0)")]
    [InlineData("f()", "f()")]
    [InlineData("1.5e3 + 2E-1 + 7", "((1500 + 0.2) + 7)")]
    [InlineData("true and false or null", "((true and false) or null)")]
    [InlineData("'it\\'s' == \"a \\\"q\\\"\\n\"", "('it's' == 'a \"q\"\n')")]
    [InlineData("  a\n+\tb  ", "(a + b)")]
    public void Operators_bind_by_precedence_and_associate_left(string text, string tree) => Assert.Equal(tree, Parse(text));

    [Fact]
    public void Nodes_carry_their_offsets()
    {
        var r = ExpressionParser.Parse("amount / coalesce(mean_7d, 1)");
        var div = Assert.IsType<BinarySyntax>(r.Syntax);
        Assert.Equal(new TextSpan(0, 29), div.Span);
        Assert.Equal(new TextSpan(7, 1), div.OperatorSpan);
        Assert.Equal(new TextSpan(0, 6), div.Left.Span);
        var call = Assert.IsType<CallSyntax>(div.Right);
        Assert.Equal(new TextSpan(9, 20), call.Span);
        Assert.Equal(new TextSpan(9, 8), call.NameSpan);
        Assert.Equal(new TextSpan(18, 7), call.Arguments[0].Span);
        Assert.Equal(new TextSpan(27, 1), call.Arguments[1].Span);
        var isNull = Assert.IsType<IsNullSyntax>(ExpressionParser.Parse("x  is not null").Syntax);
        Assert.Equal(new TextSpan(0, 14), isNull.Span);
        var paren = Assert.IsType<BinarySyntax>(ExpressionParser.Parse("(a)+b").Syntax);
        Assert.Equal(new TextSpan(0, 5), paren.Span);
        Assert.Equal(new TextSpan(0, 3), paren.Left.Span);
    }

    [Theory]
    [InlineData("", "expression is empty", 1)]
    [InlineData("   ", "expression is empty", 4)]
    [InlineData("a +", "expected a value, found the end of the expression", 4)]
    [InlineData("a + * b", "expected a value, found '*'", 5)]
    [InlineData("(a + b", "unclosed '('", 1)]
    [InlineData("a + b)", "unmatched ')'", 6)]
    [InlineData("a b", "unexpected name 'b' after a complete expression", 3)]
    [InlineData("'abc", "unterminated string", 1)]
    [InlineData("x == \"abc", "unterminated string", 6)]
    [InlineData("'a\\qb'", "unknown escape '\\q'", 3)]
    [InlineData("'abc\\", "unterminated string", 1)]
    [InlineData("a = b", "write '==' to compare", 3)]
    [InlineData("a && b", "write 'and'", 3)]
    [InlineData("a || b", "write 'or'", 3)]
    [InlineData("!a", "write 'not'", 1)]
    [InlineData("a <> b", "write '!='", 3)]
    [InlineData("a # b", "unexpected character '#'", 3)]
    [InlineData("a \u0001 b", "unexpected character 'U+0001'", 3)]
    [InlineData("a < b < c", "comparisons do not chain", 7)]
    [InlineData("a is null is null", "comparisons do not chain", 11)]
    [InlineData("a is 3", "expected 'null' after 'is'", 6)]
    [InlineData("a is not b", "expected 'null' after 'is not'", 10)]
    [InlineData("1.", "a digit must follow the decimal point", 1)]
    [InlineData(".5", "write 0.5", 1)]
    [InlineData("1e", "an exponent needs digits", 1)]
    [InlineData("2abc", "a name cannot start with a digit", 1)]
    [InlineData("99999999999999999999", "too large for int64", 1)]
    [InlineData("1e999", "too large for float64", 1)]
    [InlineData("a.b.c", "at most one dot", 1)]
    [InlineData("f(a,)", "expected a value, found ')'", 5)]
    [InlineData("f(a b)", "expected ',' or ')' in the call to 'f'", 5)]
    [InlineData("f(a, b", "unclosed '(' of the call to 'f'", 2)]
    [InlineData("1 + not a", "expected a value, found 'not'", 5)]
    public void Bad_text_gives_one_error_at_its_place(string text, string message, int column)
    {
        var e = Fails(text);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal(column, e.Column);
        Assert.Equal(1, e.Line);
    }

    [Fact]
    public void Errors_on_later_lines_count_lines_and_columns_within_the_expression()
    {
        var e = Fails("a +\n  b *\n   # c");
        Assert.Equal((3, 4), (e.Line, e.Column));
        Assert.Equal("unexpected character '#' at 3:4", e.ToString());
    }

    [Theory]
    [InlineData(65, false)]
    [InlineData(64, true)]
    public void Parentheses_nest_at_most_64_deep(int depth, bool ok)
    {
        var text = new string('(', depth) + "a" + new string(')', depth);
        var r = ExpressionParser.Parse(text);
        Assert.Equal(ok, r.Success);
        if (!ok)
        {
            Assert.Contains("nested too deeply", r.Error!.Message, StringComparison.Ordinal);
            Assert.Equal(64, r.Error.Span.Offset);
        }
    }

    [Theory]
    [InlineData("(")]
    [InlineData("-")]
    [InlineData("not ")]
    [InlineData("f(")]
    [InlineData("abs(-(")]
    public void Hostile_nesting_fails_cleanly_without_overflowing_the_stack(string unit)
    {
        var text = new StringBuilder().Insert(0, unit, ExpressionLimits.MaxLength / unit.Length).ToString();
        var r = ExpressionParser.Parse(text);
        Assert.False(r.Success);
        Assert.Contains("nested too deeply", r.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_long_chain_of_operators_is_bounded_by_the_tree_depth()
    {
        var chain = string.Join(" + ", Enumerable.Repeat("a", 200));
        var r = ExpressionParser.Parse(chain);
        Assert.False(r.Success);
        Assert.Contains("nested too deeply", r.Error!.Message, StringComparison.Ordinal);
        Assert.True(ExpressionParser.Parse(string.Join(" + ", Enumerable.Repeat("a", 60))).Success);
    }

    [Fact]
    public void Text_longer_than_the_limit_is_refused_before_reading()
    {
        var r = ExpressionParser.Parse(new string('a', ExpressionLimits.MaxLength + 1));
        Assert.False(r.Success);
        Assert.Contains("too long", r.Error!.Message, StringComparison.Ordinal);
        Assert.True(ExpressionParser.Parse(new string('a', ExpressionLimits.MaxLength)).Success);
        Assert.False(ExpressionParser.Parse(new string('x', 1_000_000)).Success);
    }

    [Fact]
    public void Random_garbage_never_throws()
    {
        var rng = new Random(1234);
        const string alphabet = "ab1.0e+-*/%()=!<>,'\"\\ \nnotandoris nullif_\u00e9#&|";
        for (var n = 0; n < 5000; n++)
        {
            var chars = new char[rng.Next(0, 40)];
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = alphabet[rng.Next(alphabet.Length)];
            }

            var text = new string(chars);
            var r = ExpressionParser.Parse(text);
            Assert.True(r.Success ^ (r.Error is not null), text);
            var scope = new ExpressionScope();
            scope.Add("in", "a", Model.FeatureType.Of(Model.ScalarKind.Float64));
            _ = ExpressionCompiler.Compile(text, scope, Model.FeatureType.Of(Model.ScalarKind.Float64));
        }
    }
}
