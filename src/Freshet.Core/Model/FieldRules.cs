namespace Freshet.Model;

/// <summary>
/// Data-quality rules of one field (docs/quality.md#rules): a row whose value breaks one is not applied but goes to
/// the dead-letter store naming the rule. Every rule is optional; a value that is null passes every rule except
/// <see cref="Nullable"/>. Which rules fit which types is checked at load (docs/feature-repo.md).
/// </summary>
public sealed record FieldRules
{
    /// <summary>False: a null (or missing) value is a violation. Null means the default, true (stored as null so the spec does not change).</summary>
    public bool? Nullable { get; init; }

    /// <summary>The smallest value allowed, inclusive (numeric fields).</summary>
    public double? Min { get; init; }

    /// <summary>The greatest value allowed, inclusive (numeric fields).</summary>
    public double? Max { get; init; }

    /// <summary>The only values allowed, as text (string, int32, int64 and bool fields); canonical: integers without sign noise, bools lower case.</summary>
    public IReadOnlyList<string>? Allowed { get; init; }

    /// <summary>A pattern the value must contain a match of (string fields; anchor it with <c>^...$</c> for a whole match), run without backtracking.</summary>
    public string? Regex { get; init; }

    /// <summary>The greatest length allowed: characters of a string (UTF-16 code units), bytes of bytes, elements of a list or vector.</summary>
    public int? MaxLength { get; init; }

    /// <summary>Whether no rule is set.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsEmpty => Nullable is null or true && Min is null && Max is null && Allowed is null && Regex is null && MaxLength is null;

    /// <inheritdoc />
    public bool Equals(FieldRules? other) =>
        other is not null && Nullable == other.Nullable && Min == other.Min && Max == other.Max && Regex == other.Regex && MaxLength == other.MaxLength
        && (Allowed is null ? other.Allowed is null : other.Allowed is not null && Allowed.SequenceEqual(other.Allowed, StringComparer.Ordinal));

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Nullable, Min, Max, Regex, MaxLength, Allowed?.Count);

    /// <summary>The rules as YAML-like text for plan diffs: <c>nullable: false, min: 0, max: 100</c>.</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (Nullable == false)
        {
            parts.Add("nullable: false");
        }

        if (Min is { } min)
        {
            parts.Add($"min: {Number(min)}");
        }

        if (Max is { } max)
        {
            parts.Add($"max: {Number(max)}");
        }

        if (Allowed is { } allowed)
        {
            parts.Add($"allowed: [{string.Join(", ", allowed)}]");
        }

        if (Regex is { } regex)
        {
            parts.Add($"regex: '{regex}'");
        }

        if (MaxLength is { } length)
        {
            parts.Add($"max_length: {length}");
        }

        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }

    /// <summary>A number as the rules print it (shortest round-trip form, invariant culture).</summary>
    public static string Number(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
