using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Freshet.Model;

/// <summary>
/// A reference to features of a view: <c>view:feature</c>, <c>view@v3:feature</c> (pinned to version 3),
/// or <c>view</c> alone (every feature of the view).
/// </summary>
public sealed record FeatureReference(string View, int? Version, string? Feature)
{
    /// <summary>Parses a reference; the error says what is accepted.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out FeatureReference? reference, [NotNullWhen(false)] out string? error)
    {
        reference = null;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var viewPart = colon < 0 ? text : text[..colon];
        var feature = colon < 0 ? null : text[(colon + 1)..];
        int? version = null;
        var at = viewPart.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            var v = viewPart[(at + 1)..];
            if (v.Length < 2 || v[0] != 'v' || !int.TryParse(v.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1)
            {
                error = $"bad feature reference '{text}': a version pin is written view@vN:feature with N >= 1";
                return false;
            }

            version = n;
            viewPart = viewPart[..at];
        }

        if (!Names.IsValid(viewPart) || (feature is not null && !Names.IsValid(feature)))
        {
            error = $"bad feature reference '{text}': expected view:feature, view@vN:feature or view";
            return false;
        }

        reference = new FeatureReference(viewPart, version, feature);
        error = null;
        return true;
    }

    /// <summary>The text form.</summary>
    public override string ToString() =>
        (Version is { } v ? string.Create(CultureInfo.InvariantCulture, $"{View}@v{v}") : View) + (Feature is null ? "" : ":" + Feature);
}

/// <summary>The rule for names of objects, fields and keys.</summary>
public static class Names
{
    /// <summary>What a valid name looks like, for error messages.</summary>
    public const string Help = "a letter or underscore followed by letters, digits or underscores";

    /// <summary>True when the name is an identifier: <c>[A-Za-z_][A-Za-z0-9_]*</c>, at most 128 characters.</summary>
    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 128 || !(char.IsAsciiLetter(name[0]) || name[0] == '_'))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                return false;
            }
        }

        return true;
    }
}
