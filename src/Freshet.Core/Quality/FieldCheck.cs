using System.Globalization;
using System.Text.RegularExpressions;
using Freshet.Model;
using Freshet.Values;

namespace Freshet.Quality;

/// <summary>
/// The rules of one field, compiled once per registry version: bounds as doubles, allowed values as sets, the
/// pattern as a non-backtracking <see cref="Regex"/>. <see cref="Check"/> allocates nothing for a value that passes
/// numeric, allowed-integer and length rules; the reason string is built only for a violation.
/// </summary>
public sealed class FieldCheck
{
    /// <summary>The code of a dead letter (and a push row error) for a value that breaks a rule.</summary>
    public const string ViolationCode = "rule_violation";

    private const int MaxAllowedShown = 10;

    private readonly bool _notNull;
    private readonly bool _range;
    private readonly double _min = double.NegativeInfinity;
    private readonly double _max = double.PositiveInfinity;
    private readonly HashSet<long>? _allowedIntegers;
    private readonly HashSet<string>? _allowedStrings;
    private readonly string _allowedText = "";
    private readonly Regex? _regex;
    private readonly int _maxLength = -1;

    private FieldCheck(Field field, FieldRules rules, Regex? regex)
    {
        Field = field.Name;
        Type = field.Type;
        Rules = rules;
        _notNull = rules.Nullable == false;
        if (rules.Min is not null || rules.Max is not null)
        {
            _range = true;
            _min = rules.Min ?? double.NegativeInfinity;
            _max = rules.Max ?? double.PositiveInfinity;
        }

        if (rules.Allowed is { } allowed)
        {
            if (field.Type.Scalar == ScalarKind.String)
            {
                _allowedStrings = new HashSet<string>(allowed, StringComparer.Ordinal);
            }
            else
            {
                _allowedIntegers = [];
                foreach (var a in allowed)
                {
                    if (FieldRuleText.TryParseAllowed(a, field.Type, out var integer))
                    {
                        _allowedIntegers.Add(integer);
                    }
                }
            }

            _allowedText = string.Join(", ", allowed.Take(MaxAllowedShown)) + (allowed.Count > MaxAllowedShown ? $", ... ({allowed.Count} values)" : "");
        }

        _regex = regex;
        _maxLength = rules.MaxLength ?? -1;
    }

    /// <summary>The field (column) checked.</summary>
    public string Field { get; }

    /// <summary>The field's declared type (values are checked after conversion to it).</summary>
    public FeatureType Type { get; }

    /// <summary>The rules as declared.</summary>
    public FieldRules Rules { get; }

    /// <summary>The check of a field, or null when it has no rules (or none this host can run: the validator refuses those at load).</summary>
    public static FieldCheck? Compile(Field field)
    {
        ArgumentNullException.ThrowIfNull(field);
        if (field.Rules is not { IsEmpty: false } rules)
        {
            return null;
        }

        Regex? regex = null;
        if (rules.Regex is { } pattern && FieldRuleText.TakesRegex(field.Type))
        {
            regex = FieldRuleText.TryCompile(pattern, out var error)
                ?? throw new InvalidOperationException($"field '{field.Name}': regex '{pattern}' does not compile: {error}");
        }

        return new FieldCheck(field, rules, regex);
    }

    /// <summary>
    /// Null when <paramref name="value"/> (already of the field's type) passes every rule; else the first rule it
    /// breaks as <c>field.rule: detail</c>, e.g. <c>amount.min: -5 &lt; 0</c>.
    /// </summary>
    public string? Check(in FeatureValue value)
    {
        if (value.IsNull)
        {
            return _notNull ? $"{Field}.nullable: the value is null (or missing) and the field is not nullable" : null;
        }

        if (_range)
        {
            var x = value.ToDouble();
            if (!(x >= _min))
            {
                return double.IsNaN(x) ? $"{Field}.min: NaN is not a number" : $"{Field}.min: {Show(value)} < {FieldRules.Number(_min)}";
            }

            if (!(x <= _max))
            {
                return double.IsNaN(x) ? $"{Field}.max: NaN is not a number" : $"{Field}.max: {Show(value)} > {FieldRules.Number(_max)}";
            }
        }

        if (_allowedIntegers is not null)
        {
            var n = value.Kind switch
            {
                ValueKind.Bool => value.AsBool() ? 1 : 0,
                ValueKind.Int32 => value.AsInt32(),
                _ => value.AsInt64(),
            };
            if (!_allowedIntegers.Contains(n))
            {
                return $"{Field}.allowed: {Show(value)} is not one of [{_allowedText}]";
            }
        }

        if (_allowedStrings is not null || _regex is not null || (_maxLength >= 0 && value.Kind == ValueKind.String))
        {
            var text = value.AsString();
            if (_allowedStrings is not null && !_allowedStrings.Contains(text))
            {
                return $"{Field}.allowed: '{Shorten(text)}' is not one of [{_allowedText}]";
            }

            if (_maxLength >= 0 && text.Length > _maxLength)
            {
                return $"{Field}.max_length: {text.Length} characters > {_maxLength}";
            }

            if (_regex is not null)
            {
                bool matches;
                try
                {
                    matches = _regex.IsMatch(text);
                }
                catch (RegexMatchTimeoutException)
                {
                    return $"{Field}.regex: matching '{_regex}' took longer than {FieldRuleText.RegexTimeout.TotalMilliseconds} ms";
                }

                if (!matches)
                {
                    return $"{Field}.regex: '{Shorten(text)}' does not match '{_regex}'";
                }
            }

            return null;
        }

        if (_maxLength >= 0)
        {
            var (length, unit) = value.Kind == ValueKind.Bytes ? (value.Utf8OrBytes.Length, "bytes") : (value.AsList().Length, "elements");
            if (length > _maxLength)
            {
                return $"{Field}.max_length: {length} {unit} > {_maxLength}";
            }
        }

        return null;
    }

    private static string Show(in FeatureValue value) => value.Kind switch
    {
        ValueKind.Int32 => value.AsInt32().ToString(CultureInfo.InvariantCulture),
        ValueKind.Int64 => value.AsInt64().ToString(CultureInfo.InvariantCulture),
        ValueKind.Float32 => value.AsFloat32().ToString("R", CultureInfo.InvariantCulture),
        ValueKind.Float64 => value.AsFloat64().ToString("R", CultureInfo.InvariantCulture),
        ValueKind.Bool => value.AsBool() ? "true" : "false",
        _ => value.ToString(),
    };

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..79] + "…";
}
