using System.Globalization;

namespace Freshet.Definitions;

/// <summary>A place in a definition file; line and column start at 1.</summary>
public sealed record SourcePosition(string File, int Line, int Column)
{
    /// <summary><c>file:line:column</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}");
}

/// <summary>
/// One problem found in a feature repo. <see cref="Path"/> names the element in the model
/// (<c>feature_views[2].entities[0]</c>); <see cref="Position"/> is where it was written, when it came from a file.
/// </summary>
public sealed record Diagnostic(string Path, SourcePosition? Position, string Message)
{
    /// <summary><c>file:line:column: error: message</c>, or <c>path: error: message</c> for objects built in code.</summary>
    public override string ToString() => $"{(Position is null ? Path : Position.ToString())}: error: {Message}";
}

/// <summary>Where each element of a loaded model was written, by model path.</summary>
public sealed class SourceMap
{
    private readonly Dictionary<string, SourcePosition> _positions = new(StringComparer.Ordinal);

    /// <summary>Records where the element at <paramref name="path"/> starts.</summary>
    public void Set(string path, SourcePosition position) => _positions[path] = position;

    /// <summary>The position of the element, or of its nearest enclosing element that has one.</summary>
    public SourcePosition? Find(string path)
    {
        var p = path;
        while (true)
        {
            if (_positions.TryGetValue(p, out var position))
            {
                return position;
            }

            var cut = Math.Max(p.LastIndexOf('.'), p.LastIndexOf('['));
            if (cut <= 0)
            {
                return null;
            }

            p = p[..cut];
        }
    }
}

/// <summary>Collects every problem so that all of them are reported at once.</summary>
public sealed class DiagnosticBag
{
    private readonly List<Diagnostic> _items = [];

    /// <summary>Creates a bag that locates paths with <paramref name="map"/>.</summary>
    public DiagnosticBag(SourceMap? map = null) => Map = map ?? new SourceMap();

    /// <summary>The positions used to locate reported paths.</summary>
    public SourceMap Map { get; }

    /// <summary>The problems so far.</summary>
    public IReadOnlyList<Diagnostic> Items => _items;

    /// <summary>True when nothing was reported.</summary>
    public bool IsEmpty => _items.Count == 0;

    /// <summary>Reports a problem at a model path.</summary>
    public void Report(string path, string message) => _items.Add(new Diagnostic(path, Map.Find(path), message));

    /// <summary>Reports a problem at a known position.</summary>
    public void Report(SourcePosition position, string message) => _items.Add(new Diagnostic(position.File, position, message));

    /// <summary>The problems ordered by file, line and column (objects built in code last).</summary>
    public IReadOnlyList<Diagnostic> Sorted() =>
        [.. _items
            .Select((d, i) => (d, i))
            .OrderBy(x => x.d.Position is null ? 1 : 0)
            .ThenBy(x => x.d.Position?.File, StringComparer.Ordinal)
            .ThenBy(x => x.d.Position?.Line ?? 0)
            .ThenBy(x => x.d.Position?.Column ?? 0)
            .ThenBy(x => x.i)
            .Select(x => x.d)];
}

/// <summary>A result with every problem found, or a value when there were none.</summary>
public sealed class ValidationResult<T>
    where T : class
{
    /// <summary>Creates a result.</summary>
    public ValidationResult(T? value, IReadOnlyList<Diagnostic> diagnostics)
    {
        Value = diagnostics.Count == 0 ? value : null;
        Diagnostics = diagnostics;
    }

    /// <summary>The value, when valid.</summary>
    public T? Value { get; }

    /// <summary>Every problem found, in file order.</summary>
    public IReadOnlyList<Diagnostic> Diagnostics { get; }

    /// <summary>True when there were no problems.</summary>
    public bool IsValid => Diagnostics.Count == 0;

    /// <summary>The value, or an exception listing every problem.</summary>
    public T GetValueOrThrow() =>
        Value ?? throw new DefinitionException(Diagnostics);
}

/// <summary>Thrown by APIs that cannot return a <see cref="ValidationResult{T}"/>; lists every problem.</summary>
public sealed class DefinitionException(IReadOnlyList<Diagnostic> diagnostics)
    : Exception("invalid feature definitions:" + Environment.NewLine + string.Join(Environment.NewLine, diagnostics))
{
    /// <summary>Every problem found.</summary>
    public IReadOnlyList<Diagnostic> Diagnostics { get; } = diagnostics;
}

/// <summary>"Did you mean" hints for misspelt names.</summary>
internal static class Suggest
{
    public static string Hint(string name, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        var all = new List<string>();
        foreach (var k in known)
        {
            all.Add(k);
            var d = Distance(name, k);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = k;
            }
        }

        if (best is not null && bestDistance <= Math.Max(2, name.Length / 3))
        {
            return $"; did you mean '{best}'?";
        }

        if (all.Count == 0)
        {
            return "; none is defined";
        }

        all.Sort(StringComparer.Ordinal);
        return all.Count <= 8 ? $"; known: {string.Join(", ", all)}" : $"; {all.Count} are defined";
    }

    private static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            prev[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }

            (prev, cur) = (cur, prev);
        }

        return prev[b.Length];
    }
}
