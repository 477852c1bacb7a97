using System.Globalization;
using Freshet.Expressions;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>Values by slot, for tests.</summary>
internal sealed class SlotValues(FeatureValue[] values) : IValueSource
{
    public FeatureValue[] Values { get; } = values;

    public FeatureValue Get(int slot) => Values[slot];
}

public sealed class ExpressionEvaluationTests
{
    private static readonly long T0 = Micros.From(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    private static readonly (string Input, string Name, string Type, FeatureValue Value)[] Inputs =
    [
        ("req", "i", "int64", FeatureValue.FromInt64(7)),
        ("req", "j", "int32", FeatureValue.FromInt32(-3)),
        ("req", "x", "float64", FeatureValue.FromFloat64(2.5)),
        ("req", "y", "float32", FeatureValue.FromFloat32(0.5f)),
        ("req", "s", "string", FeatureValue.FromString("abc")),
        ("req", "t", "string", FeatureValue.FromString("abd")),
        ("req", "b", "bool", FeatureValue.FromBool(true)),
        ("req", "c", "bool", FeatureValue.FromBool(false)),
        ("req", "ts", "timestamp", FeatureValue.FromTimestampMicros(T0)),
        ("req", "ts2", "timestamp", FeatureValue.FromTimestampMicros(T0 + 1)),
        ("req", "by", "bytes", FeatureValue.FromBytes([1, 2])),
        ("req", "by2", "bytes", FeatureValue.FromBytes([1, 3])),
        ("req", "v", "vector<3>", FeatureValue.FromList(ValueKind.Float32List, new float[] { 1, 2, 3 })),
        ("req", "l", "list<int64>", FeatureValue.Null),
        ("req", "ni", "int64", FeatureValue.Null),
        ("req", "nx", "float64", FeatureValue.Null),
        ("req", "nb", "bool", FeatureValue.Null),
        ("req", "ns", "string", FeatureValue.Null),
        ("req", "amount", "float64", FeatureValue.FromFloat64(10)),
        ("req", "dup", "int64", FeatureValue.FromInt64(1)),
        ("stats", "dup", "int64", FeatureValue.FromInt64(2)),
        ("stats", "mean_7d", "float64", FeatureValue.FromFloat64(4)),
    ];

    internal static ExpressionScope Scope()
    {
        var scope = new ExpressionScope();
        foreach (var (input, name, type, _) in Inputs)
        {
            scope.Add(input, name, FeatureType.Parse(type));
        }

        return scope;
    }

    private static SlotValues Values() => new([.. Inputs.Select(i => i.Value)]);

    private static FeatureValue Eval(string text, string type)
    {
        var declared = FeatureType.Parse(type);
        var c = ExpressionCompiler.Compile(text, Scope(), declared);
        Assert.True(c.Success, string.Join("; ", c.Errors));
        var v = c.Expression.Evaluate(Values());
        Assert.True(v.IsNull || v.Kind == FeatureValue.KindOf(declared), $"{text} gave a {v.Kind}, declared {type}");
        return v;
    }

    private static ExpressionError Error(string text, string type)
    {
        var c = ExpressionCompiler.Compile(text, Scope(), FeatureType.Parse(type));
        Assert.False(c.Success, text);
        return Assert.Single(c.Errors);
    }

    [Theory]
    [InlineData("i + 1", "int64", "8")]
    [InlineData("i - 10", "int64", "-3")]
    [InlineData("i * j", "int64", "-21")]
    [InlineData("i % 4", "int64", "3")]
    [InlineData("-7 % 4", "int64", "-3")]
    [InlineData("i % 0", "int64", "null")]
    [InlineData("i / 2", "float64", "3.5")]
    [InlineData("6 / 3", "float64", "2")]
    [InlineData("i / 0", "float64", "null")]
    [InlineData("x / 0", "float64", "null")]
    [InlineData("0 / 0.0", "float64", "null")]
    [InlineData("x + i", "float64", "9.5")]
    [InlineData("x * 2", "float64", "5")]
    [InlineData("y + 1", "float64", "1.5")]
    [InlineData("x - 0.5", "float64", "2")]
    [InlineData("x % 2", "float64", "0.5")]
    [InlineData("x % 0", "float64", "null")]
    [InlineData("-i", "int64", "-7")]
    [InlineData("-x", "float64", "-2.5")]
    [InlineData("- -i", "int64", "7")]
    [InlineData("9223372036854775807 + 1", "int64", "null")]
    [InlineData("-9223372036854775807 - 2", "int64", "null")]
    [InlineData("4611686018427387904 * 2", "int64", "null")]
    [InlineData("-4611686018427387904 * 2", "int64", "-9223372036854775808")]
    [InlineData("3037000499 * 3037000499", "int64", "9223372030926249001")]
    [InlineData("-(-9223372036854775807 - 1)", "int64", "null")]
    [InlineData("(-9223372036854775807 - 1) % -1", "int64", "0")]
    [InlineData("1e308 * 10", "float64", "null")]
    [InlineData("ni + 1", "int64", "null")]
    [InlineData("1 + ni", "int64", "null")]
    [InlineData("nx * 0", "float64", "null")]
    [InlineData("-ni", "int64", "null")]
    [InlineData("-nx", "float64", "null")]
    [InlineData("null + 1", "int64", "null")]
    [InlineData("null / null", "float64", "null")]
    [InlineData("i + 1", "float64", "8")]
    [InlineData("i + j", "int32", "4")]
    [InlineData("2147483647 + 1", "int32", "null")]
    [InlineData("-2147483648", "int32", "-2147483648")]
    [InlineData("x", "float32", "2.5")]
    [InlineData("i", "float32", "7")]
    [InlineData("1e300", "float32", "null")]
    [InlineData("amount / mean_7d", "float64", "2.5")]
    [InlineData("req.dup - stats.dup", "int64", "-1")]
    public void Arithmetic(string text, string type, string expected) => Assert.Equal(expected, Eval(text, type).ToString());

    [Theory]
    [InlineData("i == 7", "true")]
    [InlineData("i != 7", "false")]
    [InlineData("i < x", "false")]
    [InlineData("j < 0", "true")]
    [InlineData("i >= 7", "true")]
    [InlineData("i <= 6", "false")]
    [InlineData("i > 6.5", "true")]
    [InlineData("3 == 3.0", "true")]
    [InlineData("y == 0.5", "true")]
    [InlineData("s < t", "true")]
    [InlineData("s == 'abc'", "true")]
    [InlineData("s >= \"abc\"", "true")]
    [InlineData("s > t", "false")]
    [InlineData("'B' < 'a'", "true")]
    [InlineData("'ab' < 'abc'", "true")]
    [InlineData("'\uFFFD' < '\U0001F600'", "true")]
    [InlineData("b == true", "true")]
    [InlineData("b != c", "true")]
    [InlineData("ts < ts2", "true")]
    [InlineData("ts == ts", "true")]
    [InlineData("by == by2", "false")]
    [InlineData("by != by2", "true")]
    [InlineData("by == by", "true")]
    [InlineData("ni == 1", "null")]
    [InlineData("1 < ni", "null")]
    [InlineData("ns < 'a'", "null")]
    [InlineData("nx >= x", "null")]
    [InlineData("nb == b", "null")]
    public void Comparison(string text, string expected) => Assert.Equal(expected, Eval(text, "bool").ToString());

    [Theory]
    [InlineData("b and b", "true")]
    [InlineData("b and c", "false")]
    [InlineData("b and nb", "null")]
    [InlineData("nb and b", "null")]
    [InlineData("c and nb", "false")]
    [InlineData("nb and c", "false")]
    [InlineData("nb and nb", "null")]
    [InlineData("b or c", "true")]
    [InlineData("c or c", "false")]
    [InlineData("b or nb", "true")]
    [InlineData("nb or b", "true")]
    [InlineData("c or nb", "null")]
    [InlineData("nb or c", "null")]
    [InlineData("null or true", "true")]
    [InlineData("null and false", "false")]
    [InlineData("not b", "false")]
    [InlineData("not c", "true")]
    [InlineData("not nb", "null")]
    [InlineData("not null", "null")]
    [InlineData("ni is null", "true")]
    [InlineData("ni is not null", "false")]
    [InlineData("i is null", "false")]
    [InlineData("null is null", "true")]
    [InlineData("null is not null", "false")]
    [InlineData("l is null", "true")]
    [InlineData("v is not null", "true")]
    [InlineData("ni + 1 is null", "true")]
    [InlineData("i > 0 and s == 'abc' or ni > 0", "true")]
    public void Logic_is_three_valued(string text, string expected) => Assert.Equal(expected, Eval(text, "bool").ToString());

    [Theory]
    [InlineData("abs(j)", "int64", "3")]
    [InlineData("abs(-x)", "float64", "2.5")]
    [InlineData("abs(ni)", "int64", "null")]
    [InlineData("abs(null)", "int64", "null")]
    [InlineData("log(1)", "float64", "0")]
    [InlineData("log(0)", "float64", "null")]
    [InlineData("log(-1)", "float64", "null")]
    [InlineData("log(nx)", "float64", "null")]
    [InlineData("sqrt(16)", "float64", "4")]
    [InlineData("sqrt(0)", "float64", "0")]
    [InlineData("sqrt(-1)", "float64", "null")]
    [InlineData("sqrt(ni)", "float64", "null")]
    [InlineData("min(i, j)", "int64", "-3")]
    [InlineData("max(i, j, 100)", "int64", "100")]
    [InlineData("max(i, x)", "float64", "7")]
    [InlineData("min(x, 1)", "float64", "1")]
    [InlineData("min(s, t)", "string", "abc")]
    [InlineData("max(s, t, 'a')", "string", "abd")]
    [InlineData("max(i, ni)", "int64", "null")]
    [InlineData("max(1, null)", "int64", "null")]
    [InlineData("coalesce(ni, nx, 3)", "float64", "3")]
    [InlineData("coalesce(ni, i)", "int64", "7")]
    [InlineData("coalesce(ns, 'z')", "string", "z")]
    [InlineData("coalesce(s, 'z')", "string", "abc")]
    [InlineData("coalesce(ni)", "int64", "null")]
    [InlineData("coalesce(null, null)", "int64", "null")]
    [InlineData("coalesce(nb, b)", "bool", "true")]
    [InlineData("if(b, 1, 2)", "int64", "1")]
    [InlineData("if(c, 1, 2)", "int64", "2")]
    [InlineData("if(nb, 1, 2)", "int64", "2")]
    [InlineData("if(null, 1, 2)", "int64", "2")]
    [InlineData("if(b, i, x)", "float64", "7")]
    [InlineData("if(i > 5, 'big', 'small')", "string", "big")]
    [InlineData("if(b, null, 1)", "int64", "null")]
    [InlineData("if(c, null, j)", "int32", "-3")]
    public void Functions(string text, string type, string expected) => Assert.Equal(expected, Eval(text, type).ToString());

    [Fact]
    public void Log_is_natural_and_timestamps_and_vectors_pass_through()
    {
        Assert.Equal(Math.Log(7), Eval("log(i)", "float64").AsFloat64());
        Assert.Equal(T0 + 1, Eval("max(ts, ts2)", "timestamp").TimestampMicros);
        Assert.Equal(T0, Eval("if(b, ts, ts2)", "timestamp").TimestampMicros);
        Assert.Equal(new float[] { 1, 2, 3 }, (float[])Eval("coalesce(v, v)", "vector<3>").AsList());
        Assert.True(Eval("l", "list<int64>").IsNull);
        Assert.Equal(new byte[] { 1, 2 }, Eval("coalesce(by, by2)", "bytes").AsBytes());
        Assert.Equal(0.5f, Eval("y", "float32").AsFloat32());
        Assert.Equal(FeatureValue.FromFloat64(2.0), Eval("i - 5", "float64"));
    }

    [Theory]
    [InlineData("s + 1", "float64", "'+' needs numbers, not string and int64", 3)]
    [InlineData("i and b", "bool", "'and' needs bools, not int64 and bool", 3)]
    [InlineData("b or s", "bool", "'or' needs bools, not bool and string", 3)]
    [InlineData("not i", "bool", "'not' needs a bool, not int64", 1)]
    [InlineData("-s", "float64", "'-' needs a number, not string", 1)]
    [InlineData("s < 1", "bool", "'<' cannot compare string with int64", 3)]
    [InlineData("ts == 1", "bool", "'==' cannot compare timestamp with int64", 4)]
    [InlineData("b < c", "bool", "'<' does not order bool values; only == and != apply", 3)]
    [InlineData("by < by2", "bool", "'<' does not order bytes values", 4)]
    [InlineData("v == v", "bool", "'==' cannot compare vector<3> with vector<3>", 3)]
    [InlineData("i == null", "bool", "comparing with null always gives null; write 'i is null'", 3)]
    [InlineData("null != s", "bool", "write 's is not null'", 6)]
    [InlineData("req.nope", "int64", "unknown input 'req.nope'", 1)]
    [InlineData("dup + 1", "int64", "'dup' is ambiguous: 2 inputs have it; write req.dup or stats.dup", 1)]
    [InlineData("abs(1, 2)", "int64", "'abs' takes one argument, not 2", 1)]
    [InlineData("max(1)", "int64", "'max' takes at least two arguments, not 1", 1)]
    [InlineData("x + min(1)", "float64", "'min' takes at least two arguments, not 1", 5)]
    [InlineData("if(b, 1)", "int64", "'if' takes three arguments: if(condition, then, else), not 2", 1)]
    [InlineData("coalesce()", "int64", "'coalesce' takes at least one argument, not 0", 1)]
    [InlineData("i(3)", "int64", "'i' is an input, not a function", 1)]
    [InlineData("log(s)", "float64", "'log' needs a number, not string", 5)]
    [InlineData("abs(b)", "float64", "'abs' needs a number, not bool", 5)]
    [InlineData("if(i, 1, 2)", "int64", "the condition of 'if' must be a bool, not int64", 4)]
    [InlineData("if(b, 1, 's')", "int64", "the arguments of 'if' must have one type: string does not go with int64", 10)]
    [InlineData("coalesce(v, l)", "vector<3>", "list<int64> does not go with vector<3>", 13)]
    [InlineData("max(b, c)", "bool", "'max' needs numbers, strings or timestamps, not bool", 1)]
    [InlineData("v + 1", "float64", "'+' needs numbers, not vector<3> and int64", 3)]
    [InlineData("x", "int64", "the expression gives float64, but the feature is declared int64", 1)]
    [InlineData("1 + s", "float64", "'+' needs numbers, not int64 and string", 3)]
    [InlineData("s", "float64", "the expression gives string, but the feature is declared float64", 1)]
    [InlineData("i", "string", "the expression gives int64, but the feature is declared string", 1)]
    [InlineData("v", "vector<4>", "the expression gives vector<3>, but the feature is declared vector<4>", 1)]
    [InlineData("i > 0", "int64", "the expression gives bool, but the feature is declared int64", 1)]
    public void Type_errors_say_what_and_where(string text, string type, string message, int column)
    {
        var e = Error(text, type);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal(column, e.Column);
    }

    [Fact]
    public void A_name_that_is_a_keyword_is_written_qualified()
    {
        var scope = new ExpressionScope();
        scope.Add("req", "null", FeatureType.Of(ScalarKind.Int64));
        scope.Add("req", "if", FeatureType.Of(ScalarKind.Int64));
        var c = ExpressionCompiler.CompileOrThrow("req.null + if", scope, FeatureType.Of(ScalarKind.Int64));
        Assert.Equal(FeatureValue.FromInt64(5), c.Evaluate(new SlotValues([FeatureValue.FromInt64(2), FeatureValue.FromInt64(3)])));
        Assert.Throws<ArgumentException>(() => scope.Add("req", "if", FeatureType.Of(ScalarKind.Int64)));
    }

    [Fact]
    public void Lists_and_vectors_pass_through_if_and_coalesce_only()
    {
        Assert.Equal(new float[] { 1, 2, 3 }, (float[])Eval("if(b, v, null)", "vector<3>").AsList());
        Assert.True(Eval("if(c, v, null)", "vector<3>").IsNull);
        Assert.Contains("'-' needs a number, not list<int64>", Error("-l", "list<int64>").Message, StringComparison.Ordinal);
        Assert.Contains("'max' needs numbers, strings or timestamps, not vector<3>", Error("max(v, v)", "vector<3>").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Misspelt_names_get_a_suggestion()
    {
        var e = Error("1 + amout * 2", "float64");
        Assert.Equal("unknown input 'amout' at 1:5; did you mean 'amount'?", e.ToString());
        Assert.Equal(new TextSpan(4, 5), e.Span);
        Assert.Equal("unknown function 'sqr' at 1:1; did you mean 'sqrt'?", Error("sqr(4)", "float64").ToString());
        Assert.Contains("; declare the feature float64", Error("x * 2", "int64").Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_binding_error_is_reported_and_errors_do_not_cascade()
    {
        var c = ExpressionCompiler.Compile("amout + sqr(1) + s * 2", Scope(), FeatureType.Of(ScalarKind.Float64));
        Assert.Equal(["unknown input 'amout'", "unknown function 'sqr'", "'*' needs numbers, not string and int64"], c.Errors.Select(e => e.Message));
        var ex = Assert.Throws<ExpressionException>(() => ExpressionCompiler.CompileOrThrow("amout", Scope(), FeatureType.Of(ScalarKind.Float64)));
        Assert.Single(ex.Errors);
    }

    [Fact]
    public void The_compiled_expression_lists_the_slots_it_reads()
    {
        var scope = Scope();
        var c = ExpressionCompiler.CompileOrThrow("coalesce(mean_7d, x) + x + i", scope, FeatureType.Of(ScalarKind.Float64));
        Assert.Equal([0, 2, 21], c.Slots);
        Assert.Equal("mean_7d", scope.Inputs[21].Name);
        Assert.Equal(FeatureType.Of(ScalarKind.Float64), c.ResultType);
        Assert.Equal("coalesce(mean_7d, x) + x + i", c.Text);
    }

    [Fact]
    public void A_value_of_the_wrong_kind_is_a_caller_bug()
    {
        var c = ExpressionCompiler.CompileOrThrow("i + 1", Scope(), FeatureType.Of(ScalarKind.Int64));
        var values = Values();
        values.Values[0] = FeatureValue.FromString("7");
        var e = Assert.Throws<InvalidOperationException>(() => c.Evaluate(values));
        Assert.Contains("slot 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_finite_float_inputs_read_as_null()
    {
        var c = ExpressionCompiler.CompileOrThrow("x is null", Scope(), FeatureType.Of(ScalarKind.Bool));
        var values = Values();
        values.Values[2] = FeatureValue.FromFloat64(double.NaN);
        Assert.True(c.Evaluate(values).AsBool());
        values.Values[2] = FeatureValue.FromFloat64(double.PositiveInfinity);
        Assert.True(c.Evaluate(values).AsBool());
    }

    [Fact]
    public void Numeric_evaluation_allocates_nothing()
    {
        var c = ExpressionCompiler.CompileOrThrow("if(i > 0 and not b is null, abs(x - i) / coalesce(mean_7d, 1), sqrt(max(x, y, 1)) + log(amount))", Scope(), FeatureType.Of(ScalarKind.Float32));
        var values = Values();
        var sum = 0.0;
        for (var n = 0; n < 1000; n++)
        {
            sum += c.Evaluate(values).AsFloat32();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var n = 0; n < 10_000; n++)
        {
            sum += c.Evaluate(values).AsFloat32();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(11_000 * (4.5 / 4), sum, 3);
    }

    [Fact]
    public void Number_literals_do_not_depend_on_the_current_culture()
    {
        var old = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo("de-DE");
            Assert.Equal(FeatureValue.FromFloat64(2.75), Eval("1.25 + 1.5", "float64"));
            Assert.Equal(FeatureValue.FromFloat64(1500), Eval("1.5e3", "float64"));
        }
        finally
        {
            CultureInfo.CurrentCulture = old;
        }
    }
}
