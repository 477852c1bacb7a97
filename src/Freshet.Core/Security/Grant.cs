using System.Diagnostics.CodeAnalysis;

namespace Freshet.Security;

/// <summary>
/// One permission of a key: <c>ACTION:PATTERN</c> or <c>ACTION:PATTERN[tag=value,...]</c>. ACTION is one of
/// <see cref="Actions"/> or <c>*</c> (all); PATTERN is a glob over object names (<c>*</c> any run of characters,
/// <c>?</c> one); the tags, when given, must all be on the object with those values (docs/security.md).
/// </summary>
public sealed record Grant(string Action, string Pattern, IReadOnlyDictionary<string, string> Tags)
{
    /// <summary>The actions a grant may name (the server's <c>AccessActions</c>).</summary>
    public static readonly IReadOnlyList<string> Actions = ["read_online", "write_online", "read_offline", "materialize", "apply", "describe"];

    /// <summary>Whether this grant lets <paramref name="action"/> touch an object named <paramref name="name"/> with <paramref name="tags"/>.</summary>
    public bool Allows(string action, string name, IReadOnlyDictionary<string, string> tags)
    {
        if (!CoversAction(action) || !Glob(Pattern, name))
        {
            return false;
        }

        foreach (var (key, value) in Tags)
        {
            if (!tags.TryGetValue(key, out var actual) || actual != value)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Whether this grant lets <paramref name="action"/> touch the whole project (metadata such as freshness): only a
    /// grant over every object (<c>*</c>, no tags) does, since project metadata names every view.
    /// </summary>
    public bool AllowsProject(string action) => CoversAction(action) && Pattern == "*" && Tags.Count == 0;

    /// <inheritdoc />
    public override string ToString() =>
        Tags.Count == 0 ? $"{Action}:{Pattern}" : $"{Action}:{Pattern}[{string.Join(",", Tags.Select(t => $"{t.Key}={t.Value}"))}]";

    private bool CoversAction(string action) => Action == "*" || Action == action;

    /// <summary>Parses a grant; throws <see cref="FormatException"/> with the reason.</summary>
    public static Grant Parse(string text) =>
        TryParse(text, out var grant, out var error) ? grant : throw new FormatException(error);

    /// <summary>Parses a grant, or says what is wrong with it.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out Grant? grant, [NotNullWhen(false)] out string? error)
    {
        grant = null;
        const string Shape = "a grant is ACTION:PATTERN or ACTION:PATTERN[tag=value,...], e.g. read_online:driver_* or write_online:*[team=fraud]";
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            error = $"grant '{text}': {Shape}";
            return false;
        }

        var action = text[..colon];
        if (action != "*" && !Actions.Contains(action))
        {
            error = $"grant '{text}': unknown action '{action}'; expected one of {string.Join(", ", Actions)} or *";
            return false;
        }

        var rest = text[(colon + 1)..];
        var tags = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var open = rest.IndexOf('[', StringComparison.Ordinal);
        var pattern = open < 0 ? rest : rest[..open];
        if (open >= 0)
        {
            if (!rest.EndsWith(']'))
            {
                error = $"grant '{text}': the tags must end with ']'; {Shape}";
                return false;
            }

            foreach (var pair in rest[(open + 1)..^1].Split(',', StringSplitOptions.TrimEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0 || eq == pair.Length - 1 || !tags.TryAdd(pair[..eq].Trim(), pair[(eq + 1)..].Trim()))
                {
                    error = $"grant '{text}': tag '{pair}' must be NAME=VALUE, each name once";
                    return false;
                }
            }
        }

        if (pattern.Length == 0 || pattern.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '*' or '?')))
        {
            error = $"grant '{text}': pattern '{pattern}' must be a name or a glob of letters, digits, _ - . with * and ? (e.g. driver_*)";
            return false;
        }

        grant = new Grant(action, pattern, tags);
        error = null;
        return true;
    }

    /// <summary>Glob match: <c>*</c> any run (also empty), <c>?</c> one character, the rest literally (case-sensitive, as names are).</summary>
    internal static bool Glob(string pattern, string name)
    {
        int p = 0, n = 0, star = -1, resume = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == name[n]))
            {
                p++;
                n++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = n;
            }
            else if (star >= 0)
            {
                // Let the last star swallow one more character and retry: linear in practice, never exponential.
                p = star + 1;
                n = ++resume;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
