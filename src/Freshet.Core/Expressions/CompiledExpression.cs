using System.Diagnostics.CodeAnalysis;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.Expressions;

/// <summary>The inputs of one evaluation, by slot (<see cref="ExpressionInput.Slot"/>).</summary>
public interface IValueSource
{
    /// <summary>
    /// The value at <paramref name="slot"/>, of the kind of the input's declared type (int32 for an int32
    /// input, ...) or null. Only the slots in <see cref="CompiledExpression.Slots"/> are asked for.
    /// </summary>
    FeatureValue Get(int slot);
}

/// <summary>
/// A checked, compiled expression: safe to evaluate from many threads at once (it holds no state), and
/// evaluation allocates nothing unless the result is a string built from a stored row.
/// </summary>
public sealed class CompiledExpression
{
    private readonly Evaluator _root;

    internal CompiledExpression(string text, FeatureType resultType, int[] slots, Evaluator root)
    {
        Text = text;
        ResultType = resultType;
        Slots = slots;
        _root = root;
    }

    /// <summary>The expression as written.</summary>
    public string Text { get; }

    /// <summary>The type of every non-null result: the feature's declared type.</summary>
    public FeatureType ResultType { get; }

    /// <summary>The slots the expression reads, ascending; a caller needs to fetch only these.</summary>
    public IReadOnlyList<int> Slots { get; }

    /// <summary>
    /// Evaluates the expression. The result has the kind of <see cref="ResultType"/>
    /// (<see cref="FeatureValue.KindOf"/>) or is null. Throws <see cref="InvalidOperationException"/> only when
    /// <paramref name="inputs"/> returns a value whose kind does not fit the input's declared type.
    /// </summary>
    public FeatureValue Evaluate(IValueSource inputs) => _root.Eval(inputs);

    /// <inheritdoc />
    public override string ToString() => Text;
}

/// <summary>A compiled expression, or every problem found in it.</summary>
public sealed record ExpressionCompilation(CompiledExpression? Expression, IReadOnlyList<ExpressionError> Errors)
{
    /// <summary>True when the expression compiled.</summary>
    [MemberNotNullWhen(true, nameof(Expression))]
    public bool Success => Expression is not null;
}

/// <summary>
/// Entry point of the expression language: parse, bind against a scope, check the result against the declared
/// type, compile.
/// <code>
/// var scope = ExpressionScope.ForView(odv, new RepoIndex(repo));
/// var c = ExpressionCompiler.Compile(feature.Expression, scope, feature.Type);
/// if (!c.Success) { /* c.Errors */ }
/// FeatureValue v = c.Expression.Evaluate(values);   // values: IValueSource over scope.Inputs' slots
/// </code>
/// </summary>
public static class ExpressionCompiler
{
    /// <summary>Compiles <paramref name="text"/>; never throws on bad text (errors are in the result).</summary>
    public static ExpressionCompilation Compile(string text, ExpressionScope scope, FeatureType resultType)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(scope);
        var parsed = ExpressionParser.Parse(text);
        if (!parsed.Success)
        {
            return new ExpressionCompilation(null, [parsed.Error]);
        }

        var binder = new ExpressionBinder(text, scope);
        var root = binder.BindResult(parsed.Syntax, resultType);
        if (binder.Errors.Count > 0)
        {
            return new ExpressionCompilation(null, binder.Errors);
        }

        return new ExpressionCompilation(new CompiledExpression(text, resultType, [.. binder.Slots], root), []);
    }

    /// <summary>Compiles <paramref name="text"/> or throws <see cref="ExpressionException"/> listing every problem.</summary>
    public static CompiledExpression CompileOrThrow(string text, ExpressionScope scope, FeatureType resultType)
    {
        var c = Compile(text, scope, resultType);
        return c.Success ? c.Expression : throw new ExpressionException(text, c.Errors);
    }
}
