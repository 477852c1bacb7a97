using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Freshet.Model;

/// <summary>
/// Durations as written in definitions: a number and a unit, possibly compound
/// (<c>30s</c>, <c>15m</c>, <c>1h</c>, <c>7d</c>, <c>2w</c>, <c>1d12h</c>), or <c>0</c>.
/// </summary>
public static class Durations
{
    /// <summary>What a duration looks like, for error messages.</summary>
    public const string Help = "a whole number followed by a unit s, m, h, d or w (e.g. 30s, 15m, 1h, 7d, 1d12h), or 0";

    /// <summary>Parses a duration; the error says what is accepted.</summary>
    public static bool TryParse(string? text, out TimeSpan value, [NotNullWhen(false)] out string? error)
    {
        value = TimeSpan.Zero;
        var t = (text ?? "").Trim();
        if (t == "0")
        {
            error = null;
            return true;
        }

        if (t.Length == 0)
        {
            error = $"a duration is required: {Help}";
            return false;
        }

        long totalSeconds = 0;
        var i = 0;
        var lastUnitRank = int.MaxValue;
        while (i < t.Length)
        {
            var start = i;
            while (i < t.Length && char.IsAsciiDigit(t[i]))
            {
                i++;
            }

            if (i == start || i == t.Length)
            {
                error = $"bad duration '{t}': expected {Help}";
                return false;
            }

            if (!long.TryParse(t.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
            {
                error = $"bad duration '{t}': the number is too large";
                return false;
            }

            var (unitSeconds, rank) = t[i] switch
            {
                'w' => (604800L, 5),
                'd' => (86400L, 4),
                'h' => (3600L, 3),
                'm' => (60L, 2),
                's' => (1L, 1),
                _ => (0L, 0),
            };
            if (unitSeconds == 0)
            {
                error = $"bad duration '{t}': unknown unit '{t[i]}'; expected {Help}";
                return false;
            }

            if (rank >= lastUnitRank)
            {
                error = $"bad duration '{t}': units must go from largest to smallest, each once (e.g. 1d12h)";
                return false;
            }

            lastUnitRank = rank;
            i++;
            try
            {
                totalSeconds = checked(totalSeconds + checked(amount * unitSeconds));
            }
            catch (OverflowException)
            {
                error = $"bad duration '{t}': too long";
                return false;
            }
        }

        if (totalSeconds > (long)TimeSpan.MaxValue.TotalSeconds / 2)
        {
            error = $"bad duration '{t}': too long";
            return false;
        }

        value = TimeSpan.FromSeconds(totalSeconds);
        error = null;
        return true;
    }

    /// <summary>Parses a duration or throws <see cref="FormatException"/>.</summary>
    public static TimeSpan Parse(string text) =>
        TryParse(text, out var value, out var error) ? value : throw new FormatException(error);

    /// <summary>Canonical form: days and smaller, largest first, no zero parts (<c>1d12h</c>, <c>90s</c> becomes <c>1m30s</c>).</summary>
    public static string Format(TimeSpan value)
    {
        var seconds = (long)value.TotalSeconds;
        if (seconds <= 0)
        {
            return "0";
        }

        var sb = new StringBuilder();
        Append(ref seconds, 86400, 'd', sb);
        Append(ref seconds, 3600, 'h', sb);
        Append(ref seconds, 60, 'm', sb);
        Append(ref seconds, 1, 's', sb);
        return sb.ToString();
    }

    private static void Append(ref long seconds, long unit, char suffix, StringBuilder sb)
    {
        if (seconds >= unit)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{seconds / unit}{suffix}");
            seconds %= unit;
        }
    }
}
