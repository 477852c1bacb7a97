using System.Globalization;
using Freshet.Expressions;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.Core.Tests;

/// <summary>
/// Random typed expression trees, rendered to text, compiled and evaluated, against a small reference
/// interpreter written here from the rules in docs/expressions.md (Int128 for overflow, no shared code).
/// </summary>
public sealed class ExpressionPropertyTests
{
    private enum T
    {
        Int,
        Float,
        Bool,
    }

    /// <summary>A test-side tree: its text and its meaning under the reference rules.</summary>
    private sealed record Node(T Type, string Text, Func<object?[], object?> Eval);

    private static readonly (string Name, string Type)[] Vars =
        [("i1", "int64"), ("i2", "int64"), ("j1", "int32"), ("x1", "float64"), ("x2", "float64"), ("y1", "float32"), ("b1", "bool"), ("b2", "bool")];

    private static readonly (string Text, double Value)[] FloatLiterals =
        [("0.5", 0.5), ("2.0", 2.0), ("1e300", 1e300), ("3.25", 3.25), ("0.0", 0.0), ("1.5e-3", 0.0015)];

    private static readonly long[] IntLiterals = [0, 1, 2, 3, 7, 10, 3037000500, long.MaxValue];

    private readonly Random _rng = new(20261129);

    private static double D(object v) => v is long l ? l : (double)v;

    private static object? Finite(double d) => double.IsFinite(d) ? d : null;

    private static object? Checked(Int128 r) => r >= long.MinValue && r <= long.MaxValue ? (long)r : null;

    private Node Gen(T type, int depth)
    {
        var leaf = depth <= 0 || _rng.Next(4) == 0;
        return type switch
        {
            T.Int => leaf ? IntLeaf() : IntNode(depth - 1),
            T.Float => leaf ? FloatLeaf() : FloatNode(depth - 1),
            _ => leaf ? BoolLeaf() : BoolNode(depth - 1),
        };
    }

    private Node Var(T type)
    {
        var names = type switch
        {
            T.Int => new[] { 0, 1, 2 },
            T.Float => [3, 4, 5],
            _ => [6, 7],
        };
        var slot = names[_rng.Next(names.Length)];
        return new Node(type, Vars[slot].Name, v => v[slot]);
    }

    private Node IntLeaf()
    {
        if (_rng.Next(2) == 0)
        {
            return Var(T.Int);
        }

        var l = IntLiterals[_rng.Next(IntLiterals.Length)];
        return new Node(T.Int, l.ToString(CultureInfo.InvariantCulture), _ => l);
    }

    private Node FloatLeaf()
    {
        if (_rng.Next(2) == 0)
        {
            return Var(T.Float);
        }

        var (text, value) = FloatLiterals[_rng.Next(FloatLiterals.Length)];
        return new Node(T.Float, text, _ => value);
    }

    private Node BoolLeaf() => _rng.Next(4) switch
    {
        0 => new Node(T.Bool, "true", _ => true),
        1 => new Node(T.Bool, "false", _ => false),
        _ => Var(T.Bool),
    };

    /// <summary>A numeric operand of the given result type: an int may stand where a float is wanted.</summary>
    private Node Numeric(T type, int depth) => type == T.Float && _rng.Next(3) == 0 ? Gen(T.Int, depth) : Gen(type, depth);

    /// <summary>A value of the type, or now and then the null literal (only where it does not make the type null).</summary>
    private Node OrNull(T type, int depth) => _rng.Next(6) == 0 ? new Node(type, "null", _ => null) : Numeric(type, depth);

    private Node IntNode(int depth)
    {
        switch (_rng.Next(9))
        {
            case 0 or 1 or 2 or 3:
            {
                var a = Gen(T.Int, depth);
                var b = Gen(T.Int, depth);
                var (op, f) = _rng.Next(4) switch
                {
                    0 => ("+", (Func<long, long, object?>)((x, y) => Checked((Int128)x + y))),
                    1 => ("-", (x, y) => Checked((Int128)x - y)),
                    2 => ("*", (x, y) => Checked((Int128)x * y)),
                    _ => ("%", (x, y) => y == 0 ? null : (long)((Int128)x % y)),
                };
                return new Node(T.Int, $"({a.Text} {op} {b.Text})", v => a.Eval(v) is long x && b.Eval(v) is long y ? f(x, y) : null);
            }

            case 4:
            {
                var a = Gen(T.Int, depth);
                return _rng.Next(2) == 0
                    ? new Node(T.Int, $"-({a.Text})", v => a.Eval(v) is long x ? Checked(-(Int128)x) : null)
                    : new Node(T.Int, $"abs({a.Text})", v => a.Eval(v) is long x ? Checked(Int128.Abs(x)) : null);
            }

            case 5:
                return MinMax(T.Int, depth);
            case 6:
                return Coalesce(T.Int, depth);
            default:
                return If(T.Int, depth);
        }
    }

    private Node FloatNode(int depth)
    {
        switch (_rng.Next(10))
        {
            case 0 or 1 or 2 or 3 or 4:
            {
                var a = Numeric(T.Float, depth);
                var b = Numeric(T.Float, depth);
                if (a.Type == T.Int && b.Type == T.Int && _rng.Next(2) == 0)
                {
                    b = Gen(T.Float, depth);
                }

                var isDivide = a.Type == T.Int && b.Type == T.Int;
                var (op, f) = (isDivide ? 4 : _rng.Next(5)) switch
                {
                    0 => ("+", (Func<double, double, double>)((x, y) => x + y)),
                    1 => ("-", (x, y) => x - y),
                    2 => ("*", (x, y) => x * y),
                    3 => ("%", (x, y) => x % y),
                    _ => ("/", (x, y) => x / y),
                };
                return new Node(T.Float, $"({a.Text} {op} {b.Text})", v => a.Eval(v) is { } x && b.Eval(v) is { } y ? Finite(f(D(x), D(y))) : null);
            }

            case 5:
            {
                var a = Numeric(T.Float, depth);
                var f = Gen(T.Float, depth);
                return _rng.Next(4) switch
                {
                    0 => new Node(T.Float, $"log({a.Text})", v => a.Eval(v) is { } x && D(x) > 0 ? Finite(Math.Log(D(x))) : null),
                    1 => new Node(T.Float, $"sqrt({a.Text})", v => a.Eval(v) is { } x && D(x) >= 0 ? Math.Sqrt(D(x)) : null),
                    // if, coalesce, min and max asked for a float may still come out int when all their arguments did.
                    2 when f.Type == T.Int => new Node(T.Int, $"-({f.Text})", v => f.Eval(v) is long x ? Checked(-(Int128)x) : null),
                    2 => new Node(T.Float, $"-({f.Text})", v => f.Eval(v) is { } x ? -D(x) : null),
                    _ when f.Type == T.Int => new Node(T.Int, $"abs({f.Text})", v => f.Eval(v) is long x ? Checked(Int128.Abs(x)) : null),
                    _ => new Node(T.Float, $"abs({f.Text})", v => f.Eval(v) is { } x ? Math.Abs(D(x)) : null),
                };
            }

            case 6:
                return MinMax(T.Float, depth);
            case 7:
                return Coalesce(T.Float, depth);
            default:
                return If(T.Float, depth);
        }
    }

    private Node BoolNode(int depth)
    {
        switch (_rng.Next(6))
        {
            case 0 or 1:
            {
                var a = Numeric(_rng.Next(2) == 0 ? T.Int : T.Float, depth);
                var b = Numeric(_rng.Next(2) == 0 ? T.Int : T.Float, depth);
                var (op, f) = _rng.Next(6) switch
                {
                    0 => ("==", (Func<int, bool>)(c => c == 0)),
                    1 => ("!=", c => c != 0),
                    2 => ("<", c => c < 0),
                    3 => ("<=", c => c <= 0),
                    4 => (">", c => c > 0),
                    _ => (">=", c => c >= 0),
                };
                return new Node(T.Bool, $"({a.Text} {op} {b.Text})", v =>
                {
                    var x = a.Eval(v);
                    var y = b.Eval(v);
                    if (x is null || y is null)
                    {
                        return null;
                    }

                    return f(x is long lx && y is long ly ? lx.CompareTo(ly) : D(x).CompareTo(D(y)));
                });
            }

            case 2:
            {
                var a = Gen(T.Bool, depth);
                var b = Gen(T.Bool, depth);
                return _rng.Next(2) == 0
                    ? new Node(T.Bool, $"({a.Text} and {b.Text})", v => (a.Eval(v), b.Eval(v)) switch
                    {
                        (false, _) or (_, false) => false,
                        (true, true) => true,
                        _ => null,
                    })
                    : new Node(T.Bool, $"({a.Text} or {b.Text})", v => (a.Eval(v), b.Eval(v)) switch
                    {
                        (true, _) or (_, true) => true,
                        (false, false) => false,
                        _ => null,
                    });
            }

            case 3:
            {
                var a = Gen(T.Bool, depth);
                return new Node(T.Bool, $"(not {a.Text})", v => a.Eval(v) is bool x ? !x : null);
            }

            case 4:
            {
                var a = Gen((T)_rng.Next(3), depth);
                var negated = _rng.Next(2) == 0;
                return new Node(T.Bool, $"({a.Text} is {(negated ? "not " : "")}null)", v => (a.Eval(v) is null) != negated);
            }

            default:
                return If(T.Bool, depth);
        }
    }

    /// <summary>The null literal takes the type of what it goes with, as in the binder.</summary>
    private static bool IsFloat(Node n) => n.Type == T.Float && n.Text != "null";

    private static object? As(T type, object? value) => type == T.Float && value is long l ? (double)l : value;

    private Node MinMax(T type, int depth)
    {
        var args = Enumerable.Range(0, _rng.Next(2, 5)).Select(_ => Numeric(type, depth)).ToArray();
        var max = _rng.Next(2) == 0;
        var resultType = args.Any(a => a.Type == T.Float) ? T.Float : T.Int;
        return new Node(resultType, $"{(max ? "max" : "min")}({string.Join(", ", args.Select(a => a.Text))})", v =>
        {
            object? best = null;
            foreach (var a in args)
            {
                var x = As(resultType, a.Eval(v));
                if (x is null)
                {
                    return null;
                }

                var better = best is null || (x is long lx ? (max ? lx > (long)best : lx < (long)best) : (max ? D(x) > D(best) : D(x) < D(best)));
                best = better ? x : best;
            }

            return best;
        });
    }

    private Node Coalesce(T type, int depth)
    {
        var args = Enumerable.Range(0, _rng.Next(1, 4)).Select(_ => OrNull(type, depth)).Append(Numeric(type, depth)).ToArray();
        var resultType = args.Any(IsFloat) ? T.Float : T.Int;
        return new Node(resultType, $"coalesce({string.Join(", ", args.Select(a => a.Text))})", v =>
        {
            foreach (var a in args)
            {
                if (a.Eval(v) is { } x)
                {
                    return As(resultType, x);
                }
            }

            return null;
        });
    }

    private Node If(T type, int depth)
    {
        var c = Gen(T.Bool, depth);
        var a = type == T.Bool ? Gen(T.Bool, depth) : OrNull(type, depth);
        var b = type == T.Bool ? Gen(T.Bool, depth) : a.Text == "null" ? Numeric(type, depth) : OrNull(type, depth);
        var resultType = type == T.Bool ? T.Bool : IsFloat(a) || IsFloat(b) ? T.Float : T.Int;
        return new Node(resultType, $"if({c.Text}, {a.Text}, {b.Text})", v => As(resultType, c.Eval(v) is true ? a.Eval(v) : b.Eval(v)));
    }

    private object? RandomValue(string type)
    {
        if (_rng.Next(7) == 0)
        {
            return null;
        }

        return type switch
        {
            "int64" => _rng.Next(5) switch
            {
                0 => long.MaxValue,
                1 => long.MinValue,
                2 => 0L,
                _ => (long)_rng.Next(-20, 21),
            },
            "int32" => _rng.Next(4) == 0 ? (long)int.MinValue : _rng.Next(-20, 21),
            "float64" => _rng.Next(5) switch
            {
                0 => 0.0,
                1 => 1e300,
                _ => Math.Round((_rng.NextDouble() - 0.5) * 40, 2),
            },
            "float32" => (double)(float)((_rng.NextDouble() - 0.5) * 10),
            _ => _rng.Next(2) == 0,
        };
    }

    private static FeatureValue ToValue(string type, object? v) => v switch
    {
        null => FeatureValue.Null,
        long l when type == "int32" => FeatureValue.FromInt32((int)l),
        long l => FeatureValue.FromInt64(l),
        double d when type == "float32" => FeatureValue.FromFloat32((float)d),
        double d => FeatureValue.FromFloat64(d),
        bool b => FeatureValue.FromBool(b),
        _ => throw new ArgumentException("value"),
    };

    [Fact]
    public void Compiled_expressions_agree_with_a_reference_interpreter()
    {
        var scope = new ExpressionScope();
        foreach (var (name, type) in Vars)
        {
            scope.Add("req", name, FeatureType.Parse(type));
        }

        var checkedCases = 0;
        var nonNull = 0;
        for (var n = 0; n < 3000; n++)
        {
            var node = Gen((T)_rng.Next(3), _rng.Next(1, 6));
            var declared = FeatureType.Of(node.Type switch { T.Int => ScalarKind.Int64, T.Float => ScalarKind.Float64, _ => ScalarKind.Bool });
            var compiled = ExpressionCompiler.Compile(node.Text, scope, declared);
            Assert.True(compiled.Success, node.Text + ": " + string.Join("; ", compiled.Errors));
            for (var k = 0; k < 4; k++)
            {
                var raw = Vars.Select(v => RandomValue(v.Type)).ToArray();
                var values = new SlotValues([.. Vars.Select((v, i) => ToValue(v.Type, raw[i]))]);
                var expected = node.Eval(raw);
                var actual = compiled.Expression.Evaluate(values);
                var shown = $"{node.Text} with [{string.Join(", ", raw.Select(r => r?.ToString() ?? "null"))}]";
                switch (expected)
                {
                    case null:
                        Assert.True(actual.IsNull, $"{shown}: expected null, got {actual}");
                        break;
                    case long l:
                        Assert.True(actual.Kind == ValueKind.Int64 && actual.AsInt64() == l, $"{shown}: expected {l}, got {actual}");
                        break;
                    case double d:
                        Assert.True(actual.Kind == ValueKind.Float64 && actual.AsFloat64().Equals(d), $"{shown}: expected {d:R}, got {actual}");
                        break;
                    case bool b:
                        Assert.True(actual.Kind == ValueKind.Bool && actual.AsBool() == b, $"{shown}: expected {b}, got {actual}");
                        break;
                }

                checkedCases++;
                nonNull += expected is null ? 0 : 1;
            }
        }

        Assert.True(checkedCases > 8000, $"only {checkedCases} cases ran");
        Assert.True(nonNull > checkedCases / 4, $"only {nonNull} of {checkedCases} results were not null");
    }
}
