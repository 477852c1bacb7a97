using Freshet.Model;

namespace Freshet.Expressions;

/// <summary>
/// One value an expression can read: <see cref="Name"/> of input <see cref="Input"/> (a request source field or
/// a feature of a view), its type, and the <see cref="Slot"/> that <see cref="IValueSource.Get"/> is asked for.
/// </summary>
public sealed record ExpressionInput(string Input, string Name, FeatureType Type, int Slot)
{
    /// <summary><c>input.name</c>, the qualified form that is never ambiguous.</summary>
    public string QualifiedName => Input + "." + Name;
}

/// <summary>
/// The names an expression may use, each with a type and a slot. A name is written bare (<c>amount</c>) when
/// only one input has it, or qualified (<c>scoring_request.amount</c>) always.
/// </summary>
public sealed class ExpressionScope
{
    private readonly List<ExpressionInput> _inputs = [];
    private readonly Dictionary<string, ExpressionInput> _qualified = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ExpressionInput>> _bare = new(StringComparer.Ordinal);

    /// <summary>Every input, in slot order: <c>Inputs[i].Slot == i</c>.</summary>
    public IReadOnlyList<ExpressionInput> Inputs => _inputs;

    /// <summary>Adds a value of input <paramref name="input"/> at the next slot, and returns that slot.</summary>
    public int Add(string input, string name, FeatureType type)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(name);
        var e = new ExpressionInput(input, name, type, _inputs.Count);
        if (!_qualified.TryAdd(e.QualifiedName, e))
        {
            throw new ArgumentException($"'{e.QualifiedName}' is already in the scope", nameof(name));
        }

        _inputs.Add(e);
        if (!_bare.TryGetValue(name, out var list))
        {
            _bare[name] = list = [];
        }

        list.Add(e);
        return e.Slot;
    }

    /// <summary>
    /// The scope of an on-demand view: for each of its inputs in order, the fields of a request source's schema
    /// or the features of a view (<see cref="RepoIndex.Features"/>), in declaration order. Inputs that name
    /// nothing in <paramref name="index"/> are skipped (the validator reports them).
    /// </summary>
    public static ExpressionScope ForView(OnDemandView view, RepoIndex index)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(index);
        var scope = new ExpressionScope();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in view.Inputs)
        {
            if (!seen.Add(input))
            {
                continue;
            }

            IReadOnlyList<Field> fields = index.Source(input) is { } source ? source.Schema : index.Features(input);
            foreach (var f in fields)
            {
                if (!scope._qualified.ContainsKey(input + "." + f.Name))
                {
                    scope.Add(input, f.Name, f.Type);
                }
            }
        }

        return scope;
    }

    /// <summary>Looks a name up; bare names that several inputs have are ambiguous.</summary>
    internal Lookup Find(string name)
    {
        if (_qualified.TryGetValue(name, out var q))
        {
            return new Lookup(q, null);
        }

        if (_bare.TryGetValue(name, out var list))
        {
            return list.Count == 1 ? new Lookup(list[0], null) : new Lookup(null, list);
        }

        return default;
    }

    /// <summary>Every name that can be written, for "did you mean" hints.</summary>
    internal IEnumerable<string> Names()
    {
        foreach (var (name, list) in _bare)
        {
            yield return list.Count == 1 ? name : list[0].QualifiedName;
        }
    }

    internal readonly record struct Lookup(ExpressionInput? Input, List<ExpressionInput>? Ambiguous);
}
