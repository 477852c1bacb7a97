using Freshet.Model;

namespace Freshet.Quality;

/// <summary>
/// Which field checks guard a view (docs/quality.md#rules): a plain view checks the rules of its own schema and the
/// rules its source's schema declares for the columns it reads (its features and join keys); an aggregation view
/// checks the rules of every field of its source's schema, since each event carries them all.
/// </summary>
public static class ViewChecks
{
    /// <summary>The checks of a plain view; empty when none of its columns has a rule (the view then pays nothing).</summary>
    public static FieldCheck[] For(FeatureView view, RepoIndex index)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(index);
        var checks = new List<FieldCheck>();
        foreach (var f in view.Schema)
        {
            if (FieldCheck.Compile(f) is { } check)
            {
                checks.Add(check);
            }
        }

        if (index.Source(view.Source) is { } source)
        {
            var keys = index.JoinKeys(view.Entities);
            foreach (var f in source.Schema)
            {
                var read = view.Schema.Any(x => x.Name == f.Name) || keys.Any(k => k.Name == f.Name);
                if (read && FieldCheck.Compile(f) is { } check)
                {
                    checks.Add(check);
                }
            }
        }

        return [.. checks];
    }

    /// <summary>The checks of an aggregation view with the index of their column in the source schema.</summary>
    public static (int Column, FieldCheck Check)[] For(AggregationView view, RepoIndex index)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(index);
        if (index.Source(view.Source) is not { } source)
        {
            return [];
        }

        var checks = new List<(int, FieldCheck)>();
        for (var c = 0; c < source.Schema.Count; c++)
        {
            if (FieldCheck.Compile(source.Schema[c]) is { } check)
            {
                checks.Add((c, check));
            }
        }

        return [.. checks];
    }
}
