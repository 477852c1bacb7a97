using System.Collections.Concurrent;
using System.Text;
using Freshet.Online;

namespace Freshet.Redis;

/// <summary>
/// The key layout: <c>{}</c>, the key prefix, the view (or namespace) name as a varint byte length and its UTF-8
/// bytes, then the entity (or state) key. The empty hash tag <c>{}</c> at the start makes Redis Cluster hash the
/// whole key whatever braces follow, so the rows of a view spread over every slot. The length prefix keeps view
/// <c>a</c> apart from view <c>ab</c>.
/// </summary>
internal sealed class RedisKeys
{
    private readonly byte[] _head;
    private readonly ConcurrentDictionary<string, byte[]> _views = new(StringComparer.Ordinal);

    public RedisKeys(string keyPrefix)
    {
        ArgumentNullException.ThrowIfNull(keyPrefix);
        _head = Encoding.UTF8.GetBytes("{}" + keyPrefix);
    }

    /// <summary>The bytes every key of <paramref name="view"/> starts with (cached per name: views are few).</summary>
    public byte[] ViewPrefix(string view) => _views.GetOrAdd(view, Encode);

    private byte[] Encode(string view)
    {
        var name = Encoding.UTF8.GetBytes(view);
        var prefix = new byte[_head.Length + 5 + name.Length];
        _head.CopyTo(prefix, 0);
        var n = _head.Length + Varint.Write(prefix.AsSpan(_head.Length), (uint)name.Length);
        name.CopyTo(prefix, n);
        return prefix[..(n + name.Length)];
    }

    /// <summary>The Redis key of one row.</summary>
    public byte[] Key(string view, byte[] key)
    {
        var prefix = ViewPrefix(view);
        var full = new byte[prefix.Length + key.Length];
        prefix.CopyTo(full, 0);
        key.CopyTo(full, prefix.Length);
        return full;
    }

    /// <summary>
    /// A <c>SCAN MATCH</c> pattern for every key that starts with <paramref name="prefix"/>: the glob characters
    /// <c>* ? [ ] \</c> are escaped with a backslash, then <c>*</c>.
    /// </summary>
    public static byte[] MatchPattern(ReadOnlySpan<byte> prefix)
    {
        var pattern = new List<byte>(prefix.Length + 8);
        foreach (var b in prefix)
        {
            if (b is (byte)'*' or (byte)'?' or (byte)'[' or (byte)']' or (byte)'\\')
            {
                pattern.Add((byte)'\\');
            }

            pattern.Add(b);
        }

        pattern.Add((byte)'*');
        return [.. pattern];
    }
}
