namespace Freshet.DuckDb;

/// <summary>
/// <c>s3://bucket/key</c> paths and their globs, matched with the semantics DuckDB uses for local globs:
/// <c>*</c> and <c>?</c> within one path segment, <c>[abc]</c>, <c>[a-z]</c> and <c>[!a-z]</c> for one character,
/// and a <c>**</c> segment for any number of segments (zero included).
/// </summary>
/// <remarks>
/// The matched objects are mirrored locally under the same key and DuckDB globs the mirror with the same
/// pattern, so DuckDB has the last word on which files are read; this matcher only decides what is downloaded
/// and must never be narrower than DuckDB's glob.
/// </remarks>
internal static class S3Glob
{
    private static readonly char[] Wildcards = ['*', '?', '['];

    /// <summary>The scheme prefix of S3 paths.</summary>
    public const string Scheme = "s3://";

    /// <summary>Whether <paramref name="path"/> is an <c>s3://</c> path (the scheme is case-insensitive).</summary>
    public static bool IsS3(string path) => path.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase);

    /// <summary>Splits <c>s3://bucket/key-or-pattern</c>; null with a reason when the path is not usable.</summary>
    public static (string Bucket, string Key)? Parse(string path, out string? error)
    {
        error = null;
        var rest = path[Scheme.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? rest : rest[..slash];
        var key = slash < 0 ? "" : rest[(slash + 1)..];
        if (bucket.Length == 0)
        {
            error = "it names no bucket (expected s3://bucket/key)";
            return null;
        }

        if (bucket.IndexOfAny(Wildcards) >= 0)
        {
            error = "a bucket name cannot be a glob";
            return null;
        }

        if (key.Length == 0 || key.EndsWith('/'))
        {
            error = "it names no object (expected s3://bucket/key or a glob such as s3://bucket/prefix/*.parquet)";
            return null;
        }

        return (bucket, key);
    }

    /// <summary>Whether the key pattern has a wildcard (otherwise it names one object).</summary>
    public static bool HasWildcard(string keyPattern) => keyPattern.IndexOfAny(Wildcards) >= 0;

    /// <summary>The literal start of a pattern, up to its first wildcard: every match starts with it.</summary>
    public static string ListPrefix(string keyPattern)
    {
        var first = keyPattern.IndexOfAny(Wildcards);
        return first < 0 ? keyPattern : keyPattern[..first];
    }

    /// <summary>Whether <paramref name="key"/> matches <paramref name="pattern"/>, segment by segment.</summary>
    public static bool IsMatch(string key, string pattern) => MatchSegments(key.Split('/'), 0, pattern.Split('/'), 0);

    private static bool MatchSegments(string[] key, int k, string[] pattern, int p)
    {
        while (p < pattern.Length)
        {
            if (pattern[p] == "**")
            {
                // Any number of whole segments, then the rest of the pattern; a trailing ** takes the rest.
                if (p == pattern.Length - 1)
                {
                    return k < key.Length;
                }

                for (var skip = k; skip < key.Length; skip++)
                {
                    if (MatchSegments(key, skip, pattern, p + 1))
                    {
                        return true;
                    }
                }

                return false;
            }

            if (k == key.Length || !MatchSegment(key[k], pattern[p]))
            {
                return false;
            }

            k++;
            p++;
        }

        return k == key.Length;
    }

    /// <summary>One segment against one segment pattern: <c>*</c>, <c>?</c>, <c>[...]</c>, else literal.</summary>
    public static bool MatchSegment(ReadOnlySpan<char> text, ReadOnlySpan<char> pattern)
    {
        // Iterative with one backtrack point for the last star: linear in practice, no recursion.
        int t = 0, p = 0, starP = -1, starT = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                starP = p++;
                starT = t;
                continue;
            }

            if (p < pattern.Length && MatchOne(text[t], pattern, ref p))
            {
                t++;
                continue;
            }

            if (starP < 0)
            {
                return false;
            }

            p = starP + 1;
            t = ++starT;
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>Matches one character at <paramref name="p"/> and advances past the pattern element on success.</summary>
    private static bool MatchOne(char c, ReadOnlySpan<char> pattern, ref int p)
    {
        if (pattern[p] == '?')
        {
            p++;
            return true;
        }

        if (pattern[p] == '[')
        {
            var close = ClassEnd(pattern, p);
            if (close > 0)
            {
                var inClass = MatchClass(c, pattern[(p + 1)..close]);
                if (inClass)
                {
                    p = close + 1;
                }

                return inClass;
            }

            // An unclosed '[' is a literal character.
        }

        if (pattern[p] == c)
        {
            p++;
            return true;
        }

        return false;
    }

    private static int ClassEnd(ReadOnlySpan<char> pattern, int open)
    {
        var i = open + 1;
        if (i < pattern.Length && pattern[i] is '!' or '^')
        {
            i++;
        }

        // A ']' right after the opening (or after '!') is a member, not the end.
        if (i < pattern.Length && pattern[i] == ']')
        {
            i++;
        }

        for (; i < pattern.Length; i++)
        {
            if (pattern[i] == ']')
            {
                return i;
            }
        }

        return -1;
    }

    private static bool MatchClass(char c, ReadOnlySpan<char> members)
    {
        var negate = members.Length > 0 && members[0] is '!' or '^';
        if (negate)
        {
            members = members[1..];
        }

        var found = false;
        for (var i = 0; i < members.Length; i++)
        {
            if (i + 2 < members.Length && members[i + 1] == '-')
            {
                found |= c >= members[i] && c <= members[i + 2];
                i += 2;
            }
            else
            {
                found |= c == members[i];
            }
        }

        return found != negate;
    }
}
