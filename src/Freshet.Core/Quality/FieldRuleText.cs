using System.Globalization;
using System.Text.RegularExpressions;
using Freshet.Model;

namespace Freshet.Quality;

/// <summary>Which rules fit which types, the text of allowed values, and how a rule's pattern is compiled.</summary>
public static class FieldRuleText
{
    /// <summary>
    /// How long one match of a rule's pattern may take. Patterns run without backtracking (linear in the input),
    /// so this is a second fence: a rule can never hang ingestion.
    /// </summary>
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(250);

    /// <summary>Whether <c>min</c> and <c>max</c> fit the type (numeric scalars).</summary>
    public static bool TakesRange(FeatureType type) =>
        type.IsScalar && type.Scalar is ScalarKind.Int32 or ScalarKind.Int64 or ScalarKind.Float32 or ScalarKind.Float64;

    /// <summary>Whether <c>allowed</c> fits the type (string, integer and bool scalars).</summary>
    public static bool TakesAllowed(FeatureType type) =>
        type.IsScalar && type.Scalar is ScalarKind.String or ScalarKind.Int32 or ScalarKind.Int64 or ScalarKind.Bool;

    /// <summary>Whether <c>regex</c> fits the type (string scalars).</summary>
    public static bool TakesRegex(FeatureType type) => type.IsScalar && type.Scalar == ScalarKind.String;

    /// <summary>Whether <c>max_length</c> fits the type (strings, bytes, lists, vectors).</summary>
    public static bool TakesMaxLength(FeatureType type) =>
        !type.IsScalar || type.Scalar is ScalarKind.String or ScalarKind.Bytes;

    /// <summary>An allowed value in canonical text for its type (integers and bools normalized); unchanged when it does not parse.</summary>
    public static string Canonical(string text, FeatureType? type)
    {
        if (type is not { IsScalar: true } t)
        {
            return text;
        }

        return t.Scalar switch
        {
            ScalarKind.Int32 or ScalarKind.Int64 when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l.ToString(CultureInfo.InvariantCulture),
            ScalarKind.Bool when bool.TryParse(text, out var b) => b ? "true" : "false",
            _ => text,
        };
    }

    /// <summary>Whether an allowed value's text is a value of the type (an int32 in range, a bool, any string).</summary>
    public static bool TryParseAllowed(string text, FeatureType type, out long integer)
    {
        integer = 0;
        switch (type.Scalar)
        {
            case ScalarKind.String:
                return true;
            case ScalarKind.Bool when bool.TryParse(text, out var b):
                integer = b ? 1 : 0;
                return true;
            case ScalarKind.Int64 when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l):
                integer = l;
                return true;
            case ScalarKind.Int32 when int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i):
                integer = i;
                return true;
            default:
                return false;
        }
    }

    /// <summary>Compiles a rule's pattern (no backtracking, culture-invariant, with <see cref="RegexTimeout"/>); null and the reason when it cannot be.</summary>
    public static Regex? TryCompile(string pattern, out string? error)
    {
        try
        {
            error = null;
            return new Regex(pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, RegexTimeout);
        }
        catch (ArgumentException e)
        {
            error = e.Message;
        }
        catch (NotSupportedException e)
        {
            // Backreferences, lookarounds, atomic groups: not available without backtracking.
            error = e.Message;
        }

        return null;
    }
}
